//! The host's own request and decision model.
//!
//! Frontends translate their protocol into [`Request`] and a [`Decision`] back;
//! the loader translates [`Request`]/[`StepOutcome`] to and from the plugin ABI.
//! The chain works only with these types: it never sees Envoy or ABI types.

use std::collections::BTreeMap;

/// A step's state map: what earlier steps left for later ones.
pub type State = BTreeMap<String, String>;

/// One end of the downstream connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// IP address; empty when unknown.
    pub address: String,
    /// TCP port; 0 when unknown.
    pub port: u32,
    /// TLS identity (URI SAN or subject); empty without mTLS.
    pub principal: String,
    /// URL-encoded PEM certificate; empty when absent.
    pub certificate: String,
}

/// An authorization request, independent of the proxy that asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Request id (`x-request-id`).
    pub id: String,
    /// HTTP method.
    pub method: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Authority / Host.
    pub host: String,
    /// Path with query string.
    pub path: String,
    /// Headers in arrival order, lower-case names, repeated names kept.
    pub headers: Vec<(String, String)>,
    /// The body, if the proxy sent it.
    pub body: Option<Vec<u8>>,
    /// Downstream client.
    pub source: Peer,
    /// Local address that accepted the request.
    pub destination: Peer,
    /// TLS SNI, if any.
    pub tls_sni: String,
    /// The route's context extensions (e.g. `config_id`).
    pub context_extensions: BTreeMap<String, String>,
    /// Metadata the gateway attached to the check (Envoy's
    /// `metadata_context.filter_metadata`) as JSON text,
    /// `{"<namespace>": {<fields>}}`; empty when absent. Set by the gateway,
    /// never by the client; over [`MAX_METADATA_BYTES`] the request is refused.
    pub metadata_context: String,
    /// The route's metadata (Envoy's `route_metadata_context.filter_metadata`),
    /// as JSON text in the same shape; empty when absent.
    pub route_metadata: String,
}

/// The largest `metadata_context` or `route_metadata` (JSON bytes, each) handed
/// to plugins; a request carrying more is refused (403), not passed truncated.
pub const MAX_METADATA_BYTES: usize = 64 << 10;

impl Request {
    /// Why this request's metadata is too large to hand to plugins, if it is.
    pub fn oversized_metadata(&self) -> Option<String> {
        [
            ("metadata_context", &self.metadata_context),
            ("route_metadata_context", &self.route_metadata),
        ]
        .into_iter()
        .find(|(_, json)| json.len() > MAX_METADATA_BYTES)
        .map(|(field, json)| {
            format!(
                "the gateway's {field} of {} JSON bytes exceeds the limit of {MAX_METADATA_BYTES} bytes",
                json.len()
            )
        })
    }
}

/// Envoy's header merge rules (`HeaderValueOption.append_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum AppendAction {
    /// Append a value, or add the header if absent (v2 `append: true`).
    AppendIfExistsOrAdd,
    /// Add only if absent.
    AddIfAbsent,
    /// Replace, or add if absent (v2 `append: false`).
    #[default]
    OverwriteIfExistsOrAdd,
    /// Replace only if present.
    OverwriteIfExists,
}

/// A header to set with its merge rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeaderOp {
    /// Header name (compared case-insensitively).
    pub name: String,
    /// Value.
    pub value: String,
    /// Merge rule.
    pub action: AppendAction,
}

/// What one step answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepOutcome {
    /// True to continue the chain.
    pub allow: bool,
    /// Denial status (0 → 403).
    pub status: u16,
    /// Denial body.
    pub body: String,
    /// Upstream request header mutations (allow).
    pub request_headers: Vec<HeaderOp>,
    /// Upstream request headers to remove (allow).
    pub remove_request_headers: Vec<String>,
    /// Client response headers (allow), or the denial's headers (deny).
    pub response_headers: Vec<HeaderOp>,
    /// User established by this step.
    pub user_id: Option<String>,
    /// Dynamic metadata entries.
    pub dynamic_metadata: Vec<(String, String)>,
    /// State entries to set.
    pub state_set: Vec<(String, String)>,
    /// State keys to remove.
    pub state_remove: Vec<String>,
}

/// The chain's verdict, ready for a frontend to translate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let the request through with these effects.
    Allow(Allowed),
    /// Answer the client directly.
    Deny(Denied),
}

/// Effects of an allowed request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    /// Final values of every upstream header the chain changed (set, overwriting).
    pub set_headers: Vec<(String, String)>,
    /// Upstream headers the chain removed.
    pub remove_headers: Vec<String>,
    /// Headers for the client's response, in order (each one appended).
    pub response_headers: Vec<(String, String)>,
    /// The last user id any step established.
    pub user_id: Option<String>,
    /// Merged dynamic metadata.
    pub dynamic_metadata: BTreeMap<String, String>,
    /// The state after the last step.
    pub state: State,
}

/// A denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// HTTP status for the client.
    pub status: u16,
    /// Body for the client.
    pub body: String,
    /// Headers for the client.
    pub headers: Vec<(String, String)>,
    /// Why, for logs (which step, which error); never sent to the client.
    pub reason: String,
}

/// Puts headers in the canonical form every frontend hands the chain: sorted by
/// name, each name once, repeated copies joined in arrival order (`, `, or `; `
/// for `cookie`), as Envoy's `CheckRequest.headers` map does. A plugin then sees
/// every copy a client sent, and no decision can depend on which copy comes
/// first: `x-team: platform` + `x-team: intern` is `x-team: platform, intern`.
/// Names must already be lower-case.
pub fn join_repeated_headers(mut headers: Vec<(String, String)>) -> Vec<(String, String)> {
    headers.sort_by(|a, b| a.0.cmp(&b.0)); // stable: copies keep their order
                                           // In place: `dedup_by` hands each copy with the previous kept one.
    headers.dedup_by(|(name, value), (kept, values)| {
        if name != kept {
            return false;
        }
        values.push_str(if name == "cookie" { "; " } else { ", " });
        values.push_str(value);
        true
    });
    headers
}

#[cfg(test)]
mod tests {
    use super::join_repeated_headers;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn repeated_headers_are_joined_in_arrival_order_and_sorted_by_name() {
        let joined = join_repeated_headers(owned(&[
            ("x-team", "platform"),
            ("accept", "*/*"),
            ("x-team", "intern"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
        ]));
        assert_eq!(
            joined,
            owned(&[
                ("accept", "*/*"),
                ("cookie", "a=1; b=2"),
                ("x-team", "platform, intern"),
            ])
        );
    }
}
