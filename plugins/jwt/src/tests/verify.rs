//! Signatures and claim checks, through the plugin.

use gatehouse_plugin_sdk::{testing::request, Decision, Response};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{json, Value};

use super::{bearer, plugin, run};
use crate::{
    testkit::{claims, jwks, now, tampered, unsigned, TestKey},
    Jwt,
};

const ISS: &str = "https://issuer.test";
const AUD: &str = "api";

fn plugin_with(keys: &[&TestKey], extra: Value) -> Jwt {
    let mut config = json!({
        "issuer": ISS,
        "audiences": [AUD, "other"],
        "jwks": {"inline": jwks(keys)},
    });
    if let (Some(c), Value::Object(extra)) = (config.as_object_mut(), extra) {
        c.extend(extra);
    }
    plugin(config)
}

fn assert_denied(r: &Response, why: &str) {
    assert_eq!((r.decision, r.status), (Decision::Deny, 401), "{r:?}");
    assert!(r.body.contains(why), "expected `{why}` in `{}`", r.body);
    assert!(r.state_set.is_empty());
}

fn assert_allowed(r: &Response) {
    assert_eq!(r.decision, Decision::Allow, "{r:?}");
}

#[tokio::test]
async fn each_algorithm_verifies() {
    let keys = [
        TestKey::rsa_shared(0, "rsa"),
        TestKey::ec("ec"),
        TestKey::ed("ed"),
        TestKey::hmac("oct", b"0123456789abcdef0123456789abcdef"),
    ];
    let p = plugin_with(&keys.iter().collect::<Vec<_>>(), json!({}));
    for key in &keys {
        let r = run(&p, bearer(&key.sign(&claims("alice", ISS, AUD)))).await;
        assert_allowed(&r);
        assert_eq!(r.user_id, "alice", "{:?}", key.alg);
    }
}

#[tokio::test]
async fn hs_secret_verifies_hs256() {
    let p = plugin(json!({"hsSecret": "shared-secret", "issuer": ISS}));
    let key = TestKey::hmac("any", b"shared-secret");
    assert_allowed(&run(&p, bearer(&key.sign(&claims("a", ISS, AUD)))).await);
    let wrong = TestKey::hmac("any", b"another-secret");
    assert_denied(
        &run(&p, bearer(&wrong.sign(&claims("a", ISS, AUD)))).await,
        "bad signature",
    );
}

#[tokio::test]
async fn expiry_and_not_before_respect_the_leeway() {
    let key = TestKey::ec("k");
    let p = plugin_with(&[&key], json!({"leewaySeconds": 60}));
    let with = |patch: Value| {
        let mut c = claims("a", ISS, AUD);
        if let (Some(c), Value::Object(p)) = (c.as_object_mut(), patch) {
            c.extend(p);
        }
        key.sign(&c)
    };
    assert_denied(
        &run(&p, bearer(&with(json!({"exp": now() - 120})))).await,
        "token expired",
    );
    assert_allowed(&run(&p, bearer(&with(json!({"exp": now() - 30})))).await);
    assert_denied(
        &run(&p, bearer(&with(json!({"nbf": now() + 120})))).await,
        "not yet valid",
    );
    assert_allowed(&run(&p, bearer(&with(json!({"nbf": now() + 30})))).await);
}

#[tokio::test]
async fn issuer_and_audience_are_checked() {
    let key = TestKey::ed("k");
    let p = plugin_with(&[&key], json!({}));
    let r = run(
        &p,
        bearer(&key.sign(&claims("a", "https://evil.test", AUD))),
    )
    .await;
    assert_denied(&r, "wrong issuer");
    let r = run(&p, bearer(&key.sign(&claims("a", ISS, "someone-else")))).await;
    assert_denied(&r, "wrong audience");
    let mut c = claims("a", ISS, AUD);
    c["aud"] = json!(["x", "other"]);
    assert_allowed(&run(&p, bearer(&key.sign(&c))).await);
    for missing in ["iss", "aud", "exp"] {
        let mut c = claims("a", ISS, AUD);
        c.as_object_mut().map(|c| c.remove(missing));
        let r = run(&p, bearer(&key.sign(&c))).await;
        assert_denied(&r, &format!("no `{missing}` claim"));
    }
}

#[tokio::test]
async fn unconfigured_issuer_and_audience_are_not_checked() {
    let key = TestKey::ec("k");
    let p = plugin(json!({"jwks": {"inline": jwks(&[&key])}}));
    let r = run(
        &p,
        bearer(&key.sign(&json!({"sub": "a", "aud": "x", "iss": "y", "exp": now() + 60}))),
    )
    .await;
    assert_allowed(&r);
}

#[tokio::test]
async fn bad_signatures_are_refused() {
    let key = TestKey::ec("k");
    let impostor = TestKey::ec("k");
    let p = plugin_with(&[&key], json!({}));
    let token = key.sign(&claims("a", ISS, AUD));
    assert_denied(&run(&p, bearer(&tampered(&token))).await, "bad signature");
    let forged = impostor.sign(&claims("a", ISS, AUD));
    assert_denied(&run(&p, bearer(&forged)).await, "bad signature");
    // Claims swapped under a valid signature.
    let other = key.sign(&claims("mallory", ISS, AUD));
    let (head, _) = token.rsplit_once('.').unwrap_or_default();
    let (_, sig) = other.rsplit_once('.').unwrap_or_default();
    assert_denied(
        &run(&p, bearer(&format!("{head}.{sig}"))).await,
        "bad signature",
    );
}

#[tokio::test]
async fn alg_none_is_refused_even_if_configured_keys_allow_anything() {
    let key = TestKey::hmac("k", b"secret");
    let p = plugin_with(&[&key], json!({"hsSecret": "secret"}));
    let r = run(&p, bearer(&unsigned(&claims("a", ISS, AUD)))).await;
    assert_denied(&r, "malformed token");
}

#[tokio::test]
async fn algorithms_outside_the_config_and_mismatched_key_types_are_refused() {
    let rsa = TestKey::rsa_shared(0, "rsa");
    let ec = TestKey::ec("ec");
    let p = plugin_with(&[&rsa, &ec], json!({"algorithms": ["RS256"]}));
    let r = run(&p, bearer(&ec.sign(&claims("a", ISS, AUD)))).await;
    assert_denied(&r, "algorithm ES256 is not accepted");

    // Key confusion: an HS256 token "signed" with the RSA key's public modulus
    // and naming the RSA key's kid must not be verified with that key.
    let p = plugin_with(&[&rsa], json!({"algorithms": ["RS256", "HS256"]}));
    let n = rsa.jwk["n"]
        .as_str()
        .unwrap_or_default()
        .as_bytes()
        .to_vec();
    let confused = TestKey::hmac("rsa", &n);
    let r = run(&p, bearer(&confused.sign(&claims("a", ISS, AUD)))).await;
    assert_denied(&r, "no key");

    // An EdDSA token naming the EC key's kid.
    let ed = TestKey::ed("ed");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("ec".into());
    let r = run(
        &plugin_with(&[&ec, &ed], json!({})),
        bearer(&ed.sign_with(&header, &claims("a", ISS, AUD))),
    )
    .await;
    assert_denied(&r, "no key");
}

#[tokio::test]
async fn garbage_and_missing_tokens_are_401() {
    let p = plugin_with(&[&TestKey::ec("k")], json!({}));
    for token in ["abc", "a.b.c", "....", "e30.e30.e30"] {
        assert_denied(&run(&p, bearer(token)).await, "malformed token");
    }
    let r = run(&p, bearer(&"a".repeat(20_000))).await;
    assert_denied(&r, "malformed token");
    let r = run(&p, request(&[])).await;
    assert_denied(&r, "missing Bearer token in header authorization");
    assert_eq!(r.response_headers[0].name, "www-authenticate");
    assert_eq!(r.response_headers[0].value, "Bearer");
    let r = run(&p, bearer("abc")).await;
    assert!(r.response_headers[0]
        .value
        .starts_with("Bearer error=\"invalid_token\""));
}
