//! A session → the allow response: identity in state for later steps
//! (`oidc.sub`, `oidc.email`, `oidc.groups`, `oidc.claim.<name>`,
//! `oidc.claims`), `sub` as the user, and the configured upstream headers,
//! each replacing (or, without a value, removing) what the client sent.

use gatehouse_plugin_sdk::{allow, Response, ResponseExt};
use serde_json::{Map, Value};

use crate::{config::HeaderClaim, session::Session};

/// The state key prefix.
pub const PREFIX: &str = "oidc";

/// Claims always kept in a session and published.
pub const STANDARD: [&str; 3] = ["sub", "email", "groups"];

/// What an allow publishes.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// Extra claims (besides [`STANDARD`]) kept and published.
    pub claims: Vec<String>,
    /// Claims sent upstream as headers.
    pub headers: Vec<HeaderClaim>,
    /// Send `Authorization: Bearer <access token>` upstream.
    pub bearer: bool,
}

impl Publisher {
    /// The claims of a verified ID token a session keeps.
    pub fn keep(&self, claims: &Map<String, Value>) -> Map<String, Value> {
        let wanted = STANDARD
            .iter()
            .copied()
            .chain(self.claims.iter().map(String::as_str))
            .chain(self.headers.iter().map(|h| h.claim.as_str()));
        let mut kept = Map::new();
        for name in wanted {
            if let Some(value) = claims.get(name) {
                kept.insert(name.to_string(), value.clone());
            }
        }
        kept
    }

    /// The allow for `session`.
    pub fn allow(&self, session: &Session) -> Response {
        let claims = &session.claims;
        let mut response = allow()
            .set_state(
                &format!("{PREFIX}.claims"),
                &Value::Object(claims.clone()).to_string(),
            )
            .user(session.sub());
        for (name, value) in claims {
            let value = text(value);
            if STANDARD.contains(&name.as_str()) {
                response = response.set_state(&format!("{PREFIX}.{name}"), &value);
            }
            response = response.set_state(&format!("{PREFIX}.claim.{name}"), &value);
        }
        for h in &self.headers {
            response = match claims.get(&h.claim).map(header_text) {
                Some(value) if is_header_value(&value) => response.set_header(&h.header, &value),
                _ => response.remove_header(&h.header),
            };
        }
        if self.bearer {
            response = match &session.access_token {
                Some(token) if is_header_value(token) => {
                    response.set_header("authorization", &format!("Bearer {token}"))
                }
                _ => response.remove_header("authorization"),
            };
        }
        response
    }
}

/// A claim as state text: strings as they are, anything else as JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A claim as a header value: lists of strings comma-separated.
fn header_text(value: &Value) -> String {
    match value {
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        other => text(other),
    }
}

/// No control characters but tab.
fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}
