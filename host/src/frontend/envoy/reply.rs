//! `envoy.service.auth.v3.CheckResponse` encoded straight from the host's
//! [`Decision`]: only the fields the host sets, in the order and form
//! envoy-types' message encodes them (proven byte for byte against
//! [`super::to_response`] by the tests below; fields by tag, as prost
//! writes them), without building the nested
//! messages first and without prost measuring each nested message again at
//! every level. The one difference: `dynamic_metadata` entries come sorted by
//! key (a protobuf map has no order; envoy-types' `HashMap` has none either).

use prost::{
    bytes::{Buf, BufMut},
    encoding::{
        encode_key, encode_varint, encoded_len_varint, key_len, skip_field, DecodeContext, WireType,
    },
    DecodeError, Message,
};

use super::{DENIED_MESSAGE, OK, PERMISSION_DENIED};
use crate::model::{Allowed, Decision};

/// `HeaderValueOption.append_action` values the host sends.
const APPEND_IF_EXISTS_OR_ADD: u64 = 0;
const OVERWRITE_IF_EXISTS_OR_ADD: u64 = 2;

/// A `CheckResponse` for one decision, encoded as envoy-types encodes
/// `to_response(decision)`. Encode only (decoding skips every field).
#[derive(Debug)]
pub(super) struct Reply(Decision);

impl Reply {
    /// The response for `decision`; its user id becomes the `user_id`
    /// dynamic-metadata entry, as in [`super::to_response`].
    pub(super) fn new(mut decision: Decision) -> Self {
        if let Decision::Allow(Allowed {
            user_id: Some(user),
            dynamic_metadata,
            ..
        }) = &mut decision
        {
            dynamic_metadata.insert("user_id".into(), std::mem::take(user));
        }
        Self(decision)
    }
}

/// Length of a length-delimited field of `len` bytes, key included.
fn delimited_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// Length of a proto3 string field (absent when empty).
fn string_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        delimited_len(tag, s.len())
    }
}

/// Length of a proto3 varint field (absent when 0).
fn varint_len(tag: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(value)
    }
}

fn put_delimited(tag: u32, len: usize, buf: &mut impl BufMut) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

fn put_bytes(tag: u32, s: &str, buf: &mut impl BufMut) {
    put_delimited(tag, s.len(), buf);
    buf.put_slice(s.as_bytes());
}

fn put_string(tag: u32, s: &str, buf: &mut impl BufMut) {
    if !s.is_empty() {
        put_bytes(tag, s, buf);
    }
}

fn put_varint(tag: u32, value: u64, buf: &mut impl BufMut) {
    if value != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(value, buf);
    }
}

/// `HeaderValue { key, value }`.
fn header_value_len(name: &str, value: &str) -> usize {
    string_len(1, name) + string_len(2, value)
}

/// `HeaderValueOption { header, append_action }`.
fn option_len(name: &str, value: &str, action: u64) -> usize {
    delimited_len(1, header_value_len(name, value)) + varint_len(3, action)
}

/// The repeated `HeaderValueOption` field `tag`, its length.
fn options_len(tag: u32, headers: &[(String, String)], action: u64) -> usize {
    headers
        .iter()
        .map(|(n, v)| delimited_len(tag, option_len(n, v, action)))
        .sum()
}

fn put_options(tag: u32, headers: &[(String, String)], action: u64, buf: &mut impl BufMut) {
    for (name, value) in headers {
        put_delimited(tag, option_len(name, value, action), buf);
        put_delimited(1, header_value_len(name, value), buf);
        put_string(1, name, buf);
        put_string(2, value, buf);
        put_varint(3, action, buf);
    }
}

/// `google.rpc.Status { code, message }`.
fn status_len(code: i32, message: &str) -> usize {
    varint_len(1, code as u64) + string_len(2, message)
}

fn put_status(code: i32, message: &str, buf: &mut impl BufMut) {
    put_delimited(1, status_len(code, message), buf);
    put_varint(1, code as u64, buf);
    put_string(2, message, buf);
}

/// One `Struct.fields` entry: `{ key, value: Value { string_value } }`.
fn entry_len(key: &str, value: &str) -> usize {
    string_len(1, key) + delimited_len(2, delimited_len(3, value.len()))
}

/// `OkHttpResponse { headers, headers_to_remove, response_headers_to_add }`.
fn ok_len(allowed: &Allowed) -> usize {
    options_len(2, &allowed.set_headers, OVERWRITE_IF_EXISTS_OR_ADD)
        + allowed
            .remove_headers
            .iter()
            .map(|h| delimited_len(5, h.len()))
            .sum::<usize>()
        + options_len(6, &allowed.response_headers, APPEND_IF_EXISTS_OR_ADD)
}

/// `Struct { fields }` of the dynamic metadata.
fn metadata_len(allowed: &Allowed) -> usize {
    allowed
        .dynamic_metadata
        .iter()
        .map(|(k, v)| delimited_len(1, entry_len(k, v)))
        .sum()
}

/// `DeniedHttpResponse { status: HttpStatus { code }, headers, body }`.
fn denied_len(status: u16, headers: &[(String, String)], body: &str) -> usize {
    delimited_len(1, varint_len(1, u64::from(status)))
        + options_len(2, headers, APPEND_IF_EXISTS_OR_ADD)
        + string_len(3, body)
}

impl Message for Reply {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        match &self.0 {
            Decision::Allow(allowed) => {
                // Fields by tag, as prost orders them: status 1, ok_response 3,
                // dynamic_metadata 4.
                put_status(OK, "", buf);
                put_delimited(3, ok_len(allowed), buf);
                put_options(2, &allowed.set_headers, OVERWRITE_IF_EXISTS_OR_ADD, buf);
                for name in &allowed.remove_headers {
                    put_bytes(5, name, buf);
                }
                put_options(6, &allowed.response_headers, APPEND_IF_EXISTS_OR_ADD, buf);
                if !allowed.dynamic_metadata.is_empty() {
                    put_delimited(4, metadata_len(allowed), buf);
                    for (key, value) in &allowed.dynamic_metadata {
                        put_delimited(1, entry_len(key, value), buf);
                        put_string(1, key, buf);
                        put_delimited(2, delimited_len(3, value.len()), buf);
                        put_bytes(3, value, buf);
                    }
                }
            }
            Decision::Deny(denied) => {
                put_status(PERMISSION_DENIED, DENIED_MESSAGE, buf);
                let status = u64::from(denied.status);
                put_delimited(
                    2,
                    denied_len(denied.status, &denied.headers, &denied.body),
                    buf,
                );
                put_delimited(1, varint_len(1, status), buf);
                put_varint(1, status, buf);
                put_options(2, &denied.headers, APPEND_IF_EXISTS_OR_ADD, buf);
                put_string(3, &denied.body, buf);
            }
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        match &self.0 {
            Decision::Allow(allowed) => {
                let metadata = if allowed.dynamic_metadata.is_empty() {
                    0
                } else {
                    delimited_len(4, metadata_len(allowed))
                };
                delimited_len(1, status_len(OK, "")) + metadata + delimited_len(3, ok_len(allowed))
            }
            Decision::Deny(denied) => {
                delimited_len(1, status_len(PERMISSION_DENIED, DENIED_MESSAGE))
                    + delimited_len(2, denied_len(denied.status, &denied.headers, &denied.body))
            }
        }
    }

    fn clear(&mut self) {
        self.0 = Decision::Allow(Allowed::default());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use envoy_types::pb::envoy::service::auth::v3::CheckResponse;

    use super::*;
    use crate::{frontend::envoy::to_response, model::Denied};

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn assert_same_bytes(decision: Decision) {
        let expected = to_response(decision.clone()).encode_to_vec();
        let reply = Reply::new(decision);
        assert_eq!(reply.encoded_len(), expected.len(), "{reply:?}");
        assert_eq!(reply.encode_to_vec(), expected, "{reply:?}");
    }

    fn allowed() -> Allowed {
        Allowed {
            set_headers: pairs(&[("x-gatehouse-team", "verified"), ("x-empty", "")]),
            remove_headers: vec!["x-secret".into(), String::new()],
            response_headers: pairs(&[("set-cookie", "a=1"), ("x-long", &"v".repeat(300))]),
            ..Allowed::default()
        }
    }

    #[test]
    fn a_bare_allow_encodes_as_envoy_types_does() {
        assert_same_bytes(Decision::Allow(Allowed::default()));
    }

    #[test]
    fn an_allow_with_headers_encodes_as_envoy_types_does() {
        assert_same_bytes(Decision::Allow(allowed()));
    }

    #[test]
    fn an_allow_with_one_metadata_entry_or_a_user_encodes_as_envoy_types_does() {
        let mut with_entry = allowed();
        with_entry.dynamic_metadata = BTreeMap::from([("tier".into(), "gold".into())]);
        assert_same_bytes(Decision::Allow(with_entry));
        let mut with_user = allowed();
        with_user.user_id = Some("alice".into());
        assert_same_bytes(Decision::Allow(with_user));
        let empty_value = Allowed {
            dynamic_metadata: BTreeMap::from([(String::new(), String::new())]),
            ..Allowed::default()
        };
        assert_same_bytes(Decision::Allow(empty_value));
    }

    #[test]
    fn many_metadata_entries_decode_to_what_envoy_types_sends() {
        // A protobuf map's entries have no order (envoy-types' come from a
        // HashMap), so compare decoded messages; the bytes are ours, sorted.
        let mut with_entries = allowed();
        with_entries.dynamic_metadata =
            BTreeMap::from([("b".into(), "2".into()), ("user_id".into(), "old".into())]);
        with_entries.user_id = Some("alice".into());
        let decision = Decision::Allow(with_entries);
        let bytes = Reply::new(decision.clone()).encode_to_vec();
        let decoded = CheckResponse::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded, to_response(decision));
    }

    #[test]
    fn denials_encode_as_envoy_types_does() {
        let denied = |status, headers: &[(&str, &str)], body: &str| {
            Decision::Deny(Denied {
                status,
                body: body.into(),
                headers: pairs(headers),
                reason: "not sent".into(),
            })
        };
        assert_same_bytes(denied(403, &[], ""));
        assert_same_bytes(denied(401, &[("www-authenticate", "Basic")], "no"));
        assert_same_bytes(denied(0, &[("x-a", "1"), ("x-b", "")], &"b".repeat(200)));
    }
}
