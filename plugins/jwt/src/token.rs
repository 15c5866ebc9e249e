//! Finding the token in a request: a header (with an optional auth scheme) or a
//! cookie.

use gatehouse_plugin_sdk::Request;

use crate::config::TokenSourceConfig;

/// Tokens longer than this are refused without parsing.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Where a token is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// Header `name`, after `scheme` and a space when a scheme is set.
    Header {
        /// The header name.
        name: String,
        /// The auth scheme (compared case-insensitively), e.g. `Bearer`.
        scheme: Option<String>,
    },
    /// Cookie `name` from the `cookie` header(s).
    Cookie(String),
}

impl From<&TokenSourceConfig> for TokenSource {
    fn from(c: &TokenSourceConfig) -> Self {
        if let Some(cookie) = &c.cookie {
            return TokenSource::Cookie(cookie.clone());
        }
        let name = c.header.clone().unwrap_or_else(|| "authorization".into());
        let scheme = match &c.scheme {
            Some(s) if s.is_empty() => None,
            Some(s) => Some(s.clone()),
            None if name.eq_ignore_ascii_case("authorization") => Some("Bearer".into()),
            None => None,
        };
        TokenSource::Header { name, scheme }
    }
}

impl TokenSource {
    /// The token in `request`, if there is a non-empty one.
    pub fn find<'a>(&self, request: &'a Request) -> Option<&'a str> {
        let token = match self {
            TokenSource::Header { name, scheme } => {
                let value = request.header(name)?.trim();
                match scheme {
                    None => value,
                    Some(scheme) => {
                        let (given, rest) = value.split_once(' ')?;
                        if !given.eq_ignore_ascii_case(scheme) {
                            return None;
                        }
                        rest.trim()
                    }
                }
            }
            TokenSource::Cookie(name) => cookie(request, name)?,
        };
        (!token.is_empty()).then_some(token)
    }

    /// What a denial says is missing, e.g. `bearer token in header authorization`.
    pub fn describe(&self) -> String {
        match self {
            TokenSource::Header {
                name,
                scheme: Some(s),
            } => format!("{s} token in header {name}"),
            TokenSource::Header { name, scheme: None } => format!("token in header {name}"),
            TokenSource::Cookie(name) => format!("token in cookie {name}"),
        }
    }
}

/// The value of cookie `name` in any `cookie` header (surrounding quotes removed).
fn cookie<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers("cookie").find_map(|line| {
        line.split(';').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| {
                let v = v.trim();
                v.strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v)
            })
        })
    })
}
