//! Verified claims → the allow response: state for later steps, the user id and
//! forwarded headers.

use gatehouse_plugin_sdk::{allow, Response, ResponseExt};
use serde_json::Value;

use gatehouse_plugin_sdk::jwt::Claims;

use crate::config::ForwardClaim;

/// How verified claims are published.
#[derive(Debug, Clone)]
pub struct Publisher {
    prefix: String,
    forward: Vec<ForwardClaim>,
}

impl Publisher {
    /// Publishes under state prefix `prefix`, forwarding `forward`.
    pub fn new(prefix: &str, forward: &[ForwardClaim]) -> Self {
        Self {
            prefix: prefix.to_string(),
            forward: forward.to_vec(),
        }
    }

    /// The state key of the whole claims object, e.g. `jwt.claims`.
    pub fn claims_key(&self) -> String {
        format!("{}.claims", self.prefix)
    }

    /// The state key of one claim, e.g. `jwt.claim.sub`.
    pub fn claim_key(&self, name: &str) -> String {
        format!("{}.claim.{name}", self.prefix)
    }

    /// An allow carrying `claims`: state `<prefix>.claims` (JSON text) and
    /// `<prefix>.claim.<name>` for each top-level claim, `sub` as the user id,
    /// and each forwarded claim as an upstream header. A forwarded header whose
    /// claim is missing (or not a valid header value) is removed, so a client
    /// cannot supply it.
    pub fn allow(&self, claims: &Claims) -> Response {
        let whole = Value::Object(claims.clone()).to_string();
        let mut response = allow().set_state(&self.claims_key(), &whole);
        for (name, value) in claims {
            response = response.set_state(&self.claim_key(name), &text(value));
        }
        if let Some(Value::String(sub)) = claims.get("sub") {
            response = response.user(sub);
        }
        for f in &self.forward {
            response = match claims.get(&f.claim).map(text) {
                Some(value) if is_header_value(&value) => response.set_header(&f.header, &value),
                _ => response.remove_header(&f.header),
            };
        }
        response
    }
}

/// A claim as text: strings as they are, anything else as JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// True if `value` may be sent as an HTTP header value (no control characters
/// but tab).
fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}
