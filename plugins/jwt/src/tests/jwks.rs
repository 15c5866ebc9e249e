//! JWKS parsing and key selection.

use jsonwebtoken::Algorithm;
use serde_json::json;

use gatehouse_plugin_sdk::jwt::{Key, KeyKind, KeySet};

use crate::testkit::{jwks, TestKey};

#[test]
fn every_key_type_parses() {
    let (rsa, ec, ed, oct) = (
        TestKey::rsa_shared(0, "r"),
        TestKey::ec("e"),
        TestKey::ed("d"),
        TestKey::hmac("h", b"secret"),
    );
    let (set, skipped) = KeySet::parse(&jwks(&[&rsa, &ec, &ed, &oct])).expect("parses");
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(set.len(), 4);
    let kinds: Vec<KeyKind> = [
        ("r", Algorithm::RS256),
        ("e", Algorithm::ES256),
        ("d", Algorithm::EdDSA),
        ("h", Algorithm::HS256),
    ]
    .iter()
    .map(|(kid, alg)| set.candidates(Some(kid), *alg)[0].kind)
    .collect();
    assert_eq!(
        kinds,
        [KeyKind::Rsa, KeyKind::P256, KeyKind::Ed25519, KeyKind::Hmac]
    );
}

#[test]
fn unusable_keys_are_skipped_and_named() {
    let ec = TestKey::ec("good");
    let doc = json!({"keys": [
        {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": "P-256", "alg": "RS256", "x": "AA", "y": "AA"},
        {"kty": "RSA", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"},
        {"kty": "RSA", "n": "not base64!", "e": "AQAB"},
        ec.jwk,
    ]});
    let (set, skipped) = KeySet::parse(&doc).expect("one good key");
    assert_eq!(set.len(), 1);
    assert_eq!(skipped.len(), 5, "{skipped:?}");
    assert!(skipped[0].starts_with("keys[0]: `use: enc`"), "{skipped:?}");
    assert!(skipped[2].contains("does not fit"), "{skipped:?}");
    assert!(KeySet::parse(&json!({"nokeys": []})).is_err());
    assert!(KeySet::parse(&json!({"keys": []})).is_err());
}

#[test]
fn key_types_only_accept_their_algorithms() {
    let (set, _) = KeySet::parse(&jwks(&[&TestKey::rsa_shared(0, "r")])).expect("parses");
    assert!(set.candidates(Some("r"), Algorithm::HS256).is_empty());
    assert!(set.candidates(Some("r"), Algorithm::ES256).is_empty());
    assert_eq!(
        set.candidates(Some("r"), Algorithm::PS256).len(),
        0,
        "alg pinned to RS256 by the JWK"
    );
    assert_eq!(set.candidates(Some("r"), Algorithm::RS256).len(), 1);
}

#[test]
fn kid_selects_and_keys_without_kid_are_the_fallback() {
    let (mut set, _) =
        KeySet::parse(&jwks(&[&TestKey::ec("a"), &TestKey::ec("b")])).expect("parses");
    assert_eq!(set.candidates(Some("a"), Algorithm::ES256).len(), 1);
    assert_eq!(set.candidates(None, Algorithm::ES256).len(), 2);
    assert!(set.candidates(Some("c"), Algorithm::ES256).is_empty());
    assert!(!set.has_kid("c"));
    set.push(Key::secret(b"s"));
    assert_eq!(set.candidates(Some("c"), Algorithm::HS256).len(), 1);
    assert!(set.candidates(Some("c"), Algorithm::ES256).is_empty());
}
