//! A JWKS parsed into verification keys, each tied to the algorithms its type
//! allows (so an RSA key can never verify an HS256 token, and so on).

use std::str::FromStr;

use jsonwebtoken::{jwk::Jwk, Algorithm, DecodingKey};
use serde_json::Value;

/// What kind of key a JWK holds, which decides the algorithms it verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `kty: RSA`: RS256/384/512, PS256/384/512.
    Rsa,
    /// `kty: EC, crv: P-256`: ES256.
    P256,
    /// `kty: EC, crv: P-384`: ES384.
    P384,
    /// `kty: OKP, crv: Ed25519`: EdDSA.
    Ed25519,
    /// `kty: oct` or the configured `hsSecret`: HS256/384/512.
    Hmac,
}

/// True for the HMAC algorithms (HS256/384/512), which need a shared secret.
pub fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

impl KeyKind {
    /// True if a key of this kind may verify `alg`.
    pub fn accepts(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyKind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::P256 => alg == ES256,
            KeyKind::P384 => alg == ES384,
            KeyKind::Ed25519 => alg == EdDSA,
            KeyKind::Hmac => is_hmac(alg),
        }
    }
}

/// One verification key.
#[derive(Clone)]
pub struct Key {
    /// The JWK's `kid`, if it has one.
    pub kid: Option<String>,
    /// The JWK's `alg`, if it names one: then only that algorithm is accepted.
    pub alg: Option<Algorithm>,
    /// The key type.
    pub kind: KeyKind,
    /// The key material.
    pub decoding: DecodingKey,
}

impl Key {
    /// A key for the configured shared secret (no `kid`: it matches any token
    /// with an HMAC `alg` whose `kid` is not in the JWKS).
    pub fn secret(secret: &[u8]) -> Self {
        Key {
            kid: None,
            alg: None,
            kind: KeyKind::Hmac,
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// True if this key may verify a token with `alg`.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.kind.accepts(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

/// The usable keys of a JWKS.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// Parses a JWKS object (`{"keys": [...]}`). Keys that cannot verify
    /// signatures (`use: enc`, unknown types or algorithms, bad encodings) are
    /// skipped and described in the second value; a JWKS with no usable key at
    /// all is an error.
    pub fn parse(jwks: &Value) -> Result<(KeySet, Vec<String>), String> {
        let list = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("JWKS has no `keys` array")?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (i, jwk) in list.iter().enumerate() {
            match parse_key(jwk) {
                Ok(key) => keys.push(key),
                Err(why) => skipped.push(format!("keys[{i}]: {why}")),
            }
        }
        if keys.is_empty() {
            let why = match skipped.is_empty() {
                true => String::new(),
                false => format!(" ({})", skipped.join("; ")),
            };
            return Err(format!("JWKS has no usable signing key{why}"));
        }
        Ok((KeySet { keys }, skipped))
    }

    /// Parses JWKS JSON text.
    pub fn parse_text(text: &str) -> Result<(KeySet, Vec<String>), String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("JWKS is not JSON: {e}"))?;
        Self::parse(&value)
    }

    /// Adds a key (the `hsSecret`).
    pub fn push(&mut self, key: Key) {
        self.keys.push(key);
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys that may verify a token with `kid` and `alg`: the keys with that
    /// `kid` if there are any; keys without a `kid` otherwise; every key if the
    /// token has no `kid`. Always only keys whose type allows `alg`.
    pub fn candidates(&self, kid: Option<&str>, alg: Algorithm) -> Vec<&Key> {
        let usable = |k: &&Key| k.accepts(alg);
        match kid {
            None => self.keys.iter().filter(usable).collect(),
            Some(kid) => {
                let named: Vec<&Key> = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .filter(usable)
                    .collect();
                if !named.is_empty() {
                    return named;
                }
                self.keys
                    .iter()
                    .filter(|k| k.kid.is_none())
                    .filter(usable)
                    .collect()
            }
        }
    }

    /// True if some key has this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

impl Extend<Key> for KeySet {
    fn extend<I: IntoIterator<Item = Key>>(&mut self, keys: I) {
        self.keys.extend(keys);
    }
}

/// One JWK → a key, or why it is not usable.
fn parse_key(jwk: &Value) -> Result<Key, String> {
    if let Some(usage) = jwk.get("use").and_then(Value::as_str) {
        if usage != "sig" {
            return Err(format!("`use: {usage}` is not for signatures"));
        }
    }
    let alg = match jwk.get("alg").and_then(Value::as_str) {
        None => None,
        Some(name) => Some(
            Algorithm::from_str(name)
                .map_err(|_| format!("`alg: {name}` is not a supported signing algorithm"))?,
        ),
    };
    let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_string);
    let kind = match (
        jwk.get("kty").and_then(Value::as_str),
        jwk.get("crv").and_then(Value::as_str),
    ) {
        (Some("RSA"), _) => KeyKind::Rsa,
        (Some("EC"), Some("P-256")) => KeyKind::P256,
        (Some("EC"), Some("P-384")) => KeyKind::P384,
        (Some("OKP"), Some("Ed25519")) => KeyKind::Ed25519,
        (Some("oct"), _) => KeyKind::Hmac,
        (kty, crv) => {
            return Err(format!(
                "unsupported key type {} {}",
                kty.unwrap_or("(no kty)"),
                crv.unwrap_or("")
            ))
        }
    };
    if let Some(alg) = alg {
        if !kind.accepts(alg) {
            return Err(format!("`alg: {alg:?}` does not fit key type {kind:?}"));
        }
    }
    let parsed: Jwk =
        serde_json::from_value(jwk.clone()).map_err(|e| format!("not a valid JWK: {e}"))?;
    let decoding = DecodingKey::from_jwk(&parsed).map_err(|e| format!("bad key material: {e}"))?;
    Ok(Key {
        kid,
        alg,
        kind,
        decoding,
    })
}
