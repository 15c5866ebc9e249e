//! The ID token checks of OpenID Connect Core 3.1.3.7 on top of the SDK's JWT
//! verifier (signature against the JWKS, `exp`, `iss`, `aud`): `iat` present
//! and not in the future, `azp` when there are several audiences, the login's
//! `nonce`, and `at_hash` when the token carries one.

use gatehouse_plugin_sdk::jwt::{
    jsonwebtoken::{Algorithm, Header},
    Claims, Rejection,
};
use ring::digest::{digest, SHA256, SHA384, SHA512};
use serde_json::Value;

use crate::crypto::{b64, same};

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// The SDK verifier refused it (signature, `exp`, `iss`, `aud`, ...).
    Token(Rejection),
    /// No `iat`, or one in the future.
    IssuedAt,
    /// Several audiences and `azp` is not the client.
    AuthorizedParty,
    /// `nonce` is missing or not the login's.
    Nonce,
    /// `at_hash` does not match the access token.
    AccessTokenHash,
    /// No `sub`.
    Subject,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Token(why) => write!(f, "{why}"),
            Invalid::IssuedAt => f.write_str("iat missing or in the future"),
            Invalid::AuthorizedParty => f.write_str("azp is not this client"),
            Invalid::Nonce => f.write_str("nonce does not match the login"),
            Invalid::AccessTokenHash => f.write_str("at_hash does not match the access token"),
            Invalid::Subject => f.write_str("no sub"),
        }
    }
}

/// What the claims of a signature-checked ID token must also satisfy.
pub struct Expect<'a> {
    /// The client id.
    pub client_id: &'a str,
    /// The login's nonce (None on a refresh, where OIDC does not require one).
    pub nonce: Option<&'a str>,
    /// The access token issued with it, for `at_hash`.
    pub access_token: Option<&'a str>,
    /// Now (Unix seconds) and the allowed skew.
    pub now: u64,
    /// Clock skew allowed for `iat`.
    pub leeway: u64,
}

/// Checks `claims` of a token with `header` against `expect`.
pub fn check(header: &Header, claims: &Claims, expect: &Expect<'_>) -> Result<(), Invalid> {
    match claims.get("iat").and_then(Value::as_u64) {
        Some(iat) if iat <= expect.now + expect.leeway => {}
        _ => return Err(Invalid::IssuedAt),
    }
    if claims
        .get("sub")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(Invalid::Subject);
    }
    let several = claims
        .get("aud")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() > 1);
    if let Some(azp) = claims.get("azp") {
        if azp.as_str() != Some(expect.client_id) {
            return Err(Invalid::AuthorizedParty);
        }
    } else if several {
        return Err(Invalid::AuthorizedParty);
    }
    if let Some(nonce) = expect.nonce {
        match claims.get("nonce").and_then(Value::as_str) {
            Some(got) if same(got.as_bytes(), nonce.as_bytes()) => {}
            _ => return Err(Invalid::Nonce),
        }
    }
    if let (Some(at_hash), Some(token)) = (claims.get("at_hash"), expect.access_token) {
        let want = access_token_hash(header.alg, token);
        match at_hash.as_str() {
            Some(got) if same(got.as_bytes(), want.as_bytes()) => {}
            _ => return Err(Invalid::AccessTokenHash),
        }
    }
    Ok(())
}

/// `at_hash`: the left half of the access token's hash with the hash function
/// of `alg`, base64url.
pub fn access_token_hash(alg: Algorithm, token: &str) -> String {
    use Algorithm::*;
    let algorithm = match alg {
        RS384 | PS384 | ES384 | HS384 => &SHA384,
        RS512 | PS512 | HS512 | EdDSA => &SHA512,
        _ => &SHA256,
    };
    let hash = digest(algorithm, token.as_bytes());
    let bytes = hash.as_ref();
    b64(&bytes[..bytes.len() / 2])
}
