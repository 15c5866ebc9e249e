//! A signed-in session: who it is (the published claims), the tokens needed to
//! refresh and forward, and when it ends. Sealed with the session keys, either
//! entirely into the cookie or into Redis under a random id the cookie holds.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::crypto::Sealer;

/// The associated data of a sealed session (and of a sealed Redis pointer).
const PURPOSE: &str = "gatehouse-oidc-session";
const POINTER: &str = "gatehouse-oidc-session-id";

/// One session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The ID token's claims that are published (sub, email, groups, configured).
    pub claims: Map<String, Value>,
    /// The access token, when it is forwarded or refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// The refresh token, if the provider gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The ID token, kept for the logout's `id_token_hint` (Redis mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Unix time the access token expires (0: unknown).
    #[serde(default)]
    pub access_expires: u64,
    /// Unix time the session ends, whatever the tokens say.
    pub expires: u64,
}

impl Session {
    /// The subject.
    pub fn sub(&self) -> &str {
        self.claims.get("sub").and_then(Value::as_str).unwrap_or("")
    }

    /// True once the session's lifetime is over.
    pub fn ended(&self, now: u64) -> bool {
        now >= self.expires
    }

    /// True if the tokens should be refreshed now (`before` seconds ahead).
    pub fn wants_refresh(&self, now: u64, before: u64) -> bool {
        before > 0
            && self.refresh_token.is_some()
            && self.access_expires > 0
            && now + before >= self.access_expires
    }

    /// Sealed.
    pub fn seal(&self, sealer: &Sealer) -> String {
        sealer.seal(PURPOSE, &serde_json::to_vec(self).unwrap_or_default())
    }

    /// Opened, if it was sealed by a configured key and has not ended.
    pub fn open(sealer: &Sealer, sealed: &str, now: u64) -> Option<Session> {
        let session: Session = serde_json::from_slice(&sealer.open(PURPOSE, sealed)?).ok()?;
        (!session.ended(now)).then_some(session)
    }
}

/// A Redis session's cookie value: its id and end, sealed (so an id cannot be
/// guessed or extended).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    /// The random session id (the Redis key's suffix).
    pub id: String,
    /// Unix time the session ends.
    pub expires: u64,
}

impl Pointer {
    /// Sealed.
    pub fn seal(&self, sealer: &Sealer) -> String {
        sealer.seal(POINTER, &serde_json::to_vec(self).unwrap_or_default())
    }

    /// Opened, if sealed by a configured key and not ended.
    pub fn open(sealer: &Sealer, sealed: &str, now: u64) -> Option<Pointer> {
        let p: Pointer = serde_json::from_slice(&sealer.open(POINTER, sealed)?).ok()?;
        (now < p.expires).then_some(p)
    }
}
