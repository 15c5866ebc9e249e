//! The `Authorization: Basic base64(user:password)` header.

use base64::{engine::general_purpose::STANDARD, Engine};

/// What the request's `Authorization` header holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials {
    /// No `Authorization` header, or one with another scheme (e.g. `Bearer`).
    Absent,
    /// `Basic` but not base64 of `user:password` with a UTF-8 user name.
    Malformed,
    /// A user name and a password (any bytes).
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: Vec<u8>,
    },
}

/// Reads an `Authorization` header value (None: the header is absent).
pub fn parse(header: Option<&str>) -> Credentials {
    let Some((scheme, token)) = header.map(str::trim).and_then(|h| h.split_once(' ')) else {
        return Credentials::Absent;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Credentials::Absent;
    }
    let Ok(decoded) = STANDARD.decode(token.trim()) else {
        return Credentials::Malformed;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return Credentials::Malformed;
    };
    match std::str::from_utf8(&decoded[..colon]) {
        Ok(user) => Credentials::Basic {
            user: user.to_string(),
            password: decoded[colon + 1..].to_vec(),
        },
        Err(_) => Credentials::Malformed,
    }
}
