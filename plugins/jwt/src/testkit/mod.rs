//! Test support, shared by the unit tests and `tests/host.rs`: freshly generated
//! keys, tokens signed with them, JWKS documents, and a local HTTP server.
#![allow(dead_code)]

use std::{
    sync::OnceLock,
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::{
    rand::SystemRandom,
    signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING},
};
use rsa::{pkcs1::EncodeRsaPrivateKey, traits::PublicKeyParts, RsaPrivateKey};
use serde_json::{json, Value};

/// A signing key with its public JWK.
#[derive(Clone)]
pub(crate) struct TestKey {
    pub(crate) kid: String,
    pub(crate) alg: Algorithm,
    encoding: EncodingKey,
    pub(crate) jwk: Value,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl TestKey {
    /// A fresh 2048-bit RSA key for RS256.
    pub(crate) fn rsa(kid: &str) -> Self {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA keygen");
        let der = key.to_pkcs1_der().expect("PKCS#1 DER");
        TestKey {
            kid: kid.into(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: json!({
                "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()),
            }),
        }
    }

    /// RSA key number `slot` (0 or 1) of this test process, generated on first
    /// use (RSA key generation takes seconds in debug builds), with `kid`.
    pub(crate) fn rsa_shared(slot: usize, kid: &str) -> Self {
        static KEYS: [OnceLock<TestKey>; 2] = [OnceLock::new(), OnceLock::new()];
        let mut key = KEYS[slot].get_or_init(|| TestKey::rsa("rsa")).clone();
        key.kid = kid.into();
        if let Some(jwk) = key.jwk.as_object_mut() {
            jwk.insert("kid".into(), kid.into());
        }
        key
    }

    /// A fresh P-256 key for ES256.
    pub(crate) fn ec(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("P-256 keygen");
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("P-256 key");
        // Uncompressed point: 0x04 ‖ x ‖ y.
        let point = pair.public_key().as_ref();
        TestKey {
            kid: kid.into(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "kid": kid,
                "x": b64(&point[1..33]), "y": b64(&point[33..65]),
            }),
        }
    }

    /// A fresh Ed25519 key for EdDSA.
    pub(crate) fn ed(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("Ed25519 keygen");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("Ed25519 key");
        TestKey {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": b64(pair.public_key().as_ref()),
            }),
        }
    }

    /// An HS256 key with `secret`, published as an `oct` JWK.
    pub(crate) fn hmac(kid: &str, secret: &[u8]) -> Self {
        TestKey {
            kid: kid.into(),
            alg: Algorithm::HS256,
            encoding: EncodingKey::from_secret(secret),
            jwk: json!({"kty": "oct", "kid": kid, "k": b64(secret)}),
        }
    }

    /// A token over `claims`, with this key's `kid` and `alg`.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with(&header, claims)
    }

    /// A token over `claims` with `header` as given.
    pub(crate) fn sign_with(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).expect("sign")
    }
}

/// A JWKS document publishing `keys`.
pub(crate) fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
}

/// Seconds since the epoch.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Claims valid for five minutes, for `sub`, `iss` and `aud`.
pub(crate) fn claims(sub: &str, iss: &str, aud: &str) -> Value {
    json!({"sub": sub, "iss": iss, "aud": aud, "iat": now(), "nbf": now() - 5, "exp": now() + 300})
}

/// An unsigned token (`alg: none`) over `claims`.
pub(crate) fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    )
}

/// `token` with its signature replaced by another valid-looking one.
pub(crate) fn tampered(token: &str) -> String {
    let (message, signature) = token.rsplit_once('.').unwrap_or((token, ""));
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
    if let Some(first) = bytes.first_mut() {
        *first ^= 0x01;
    }
    format!("{message}.{}", b64(&bytes))
}
