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
    sort_by_name(&mut headers, |h| &h.0); // stable: copies keep their order
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

/// Sorts `items` by the name `name` gives each, stably, in byte order (as
/// `str::cmp`), cheaply for a request's few dozen headers: each name's first
/// eight bytes are read once as an integer, the (integer, index) pairs are
/// insertion-sorted on the stack (names compared byte-wise only when their
/// first eight bytes are equal), and nothing moves when they already are in
/// order.
pub(crate) fn sort_by_name<T>(items: &mut [T], name: impl Fn(&T) -> &str) {
    const SMALL: usize = 32;
    let n = items.len();
    if n > SMALL {
        items.sort_by(|a, b| name(a).cmp(name(b)));
        return;
    }
    let mut keys = [(0u64, 0u8); SMALL];
    for (i, item) in items.iter().enumerate() {
        keys[i] = (prefix(name(item)), i as u8);
    }
    let keys = &mut keys[..n];
    let after = |a: (u64, u8), b: (u64, u8)| {
        a.0 > b.0 || (a.0 == b.0 && name(&items[usize::from(a.1)]) > name(&items[usize::from(b.1)]))
    };
    let mut moved = false;
    for i in 1..n {
        let mut j = i;
        while j > 0 && after(keys[j - 1], keys[j]) {
            keys.swap(j - 1, j);
            j -= 1;
            moved = true;
        }
    }
    if moved {
        permute(items, keys);
    }
}

/// Puts into each position `k` the item that was at `keys[k].1`, in place,
/// one cycle of the permutation at a time.
fn permute<T>(items: &mut [T], keys: &mut [(u64, u8)]) {
    for start in 0..keys.len() {
        let mut at = start;
        loop {
            let from = usize::from(keys[at].1);
            keys[at].1 = at as u8; // done
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

/// The first eight bytes of `name`, big-endian, zero-padded: ordered as the
/// names are whenever two differ in them (and equal when one is the other's
/// prefix, left to the full comparison).
fn prefix(name: &str) -> u64 {
    let bytes = name.as_bytes();
    match bytes.first_chunk::<8>() {
        Some(first) => u64::from_be_bytes(*first),
        None => bytes
            .iter()
            .enumerate()
            .fold(0, |acc, (i, b)| acc | u64::from(*b) << (56 - 8 * i)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{join_repeated_headers, sort_by_name};

    #[test]
    fn names_sort_as_str_does_whatever_their_prefixes() {
        let mut names = vec![
            "x-team",
            "accept-encoding",
            "accept",
            "a",
            "",
            "ab\0",
            "ab",
            "abcdefgh1",
            "abcdefgh",
            "abcdefgh0",
            "x-forwarded-for",
            "x-forwarded-proto",
            "\u{ff}",
            "cookie",
            "x-team",
        ];
        let mut expected = names.clone();
        expected.sort();
        sort_by_name(&mut names, |n| n);
        assert_eq!(names, expected);
    }

    #[test]
    fn equal_names_keep_their_order_long_lists_too() {
        for n in [0, 1, 2, 9, 32, 33, 100] {
            // Names repeat (i % 7) and arrive out of order; values number them.
            let mut items: Vec<(String, usize)> = (0..n)
                .map(|i| (format!("x-name-{}", (i * 5) % 7), i))
                .collect();
            let mut expected = items.clone();
            expected.sort_by(|a, b| a.0.cmp(&b.0));
            sort_by_name(&mut items, |h| &h.0);
            assert_eq!(items, expected, "{n} items");
        }
    }

    /// `pairs` as owned header pairs (other modules' tests use it too).
    pub(crate) fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
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
