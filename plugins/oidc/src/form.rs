//! `application/x-www-form-urlencoded` bodies and query values: the token
//! request's form (RFC 6749 4.1.3), the authorization and logout URLs'
//! queries, and client_secret_basic credentials. The request itself goes
//! through the SDK's `http::Client` (see `provider`).

use base64::{engine::general_purpose::STANDARD, Engine};

/// The media type of a form body.
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// `application/x-www-form-urlencoded` escaping of one name or value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `a=1&b=2`, escaped.
pub fn encode(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-decodes a query value (`+` as space); None if it is not UTF-8 or
/// malformed.
pub fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The `Authorization: Basic` value of client_secret_basic.
pub fn basic(client_id: &str, secret: &str) -> String {
    let pair = format!("{}:{}", escape(client_id), escape(secret));
    format!("Basic {}", STANDARD.encode(pair))
}
