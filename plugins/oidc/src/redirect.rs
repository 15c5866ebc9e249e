//! Where a browser may be sent: the URL a login started from, checked against
//! the gateway's own origin and the configured host allowlist, so neither a
//! crafted request nor a crafted callback can redirect anywhere else.

use gatehouse_plugin_sdk::Request;

/// The longest return URL kept in a login state.
pub const MAX_RETURN_URL: usize = 2048;

/// An origin: scheme and `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`, lower-case.
    pub host: String,
}

impl Origin {
    /// `scheme://host`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// The origin of an absolute http(s) URL.
    pub fn of(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.split_once("://")?;
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let host = rest.split(['/', '?', '#']).next()?;
        if !is_host(host) {
            return None;
        }
        Some(Origin {
            scheme: scheme.into(),
            host: host.to_ascii_lowercase(),
        })
    }

    /// The origin a request was sent to: its scheme (default `https`) and host
    /// (`:authority`, else the `host` header). None if the host is not a plain
    /// `host[:port]`.
    pub fn of_request(request: &Request) -> Option<Origin> {
        let scheme = match request.scheme() {
            "" => "https",
            s @ ("http" | "https") => s,
            _ => return None,
        };
        let host = match request.host() {
            "" => request.header("host")?,
            h => h,
        };
        is_host(host).then(|| Origin {
            scheme: scheme.into(),
            host: host.to_ascii_lowercase(),
        })
    }

    /// The host without the port.
    pub fn hostname(&self) -> &str {
        match self.host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(']') => h,
            _ => &self.host,
        }
    }
}

/// `host[:port]` with only the characters of DNS names, IPv4 and bracketed IPv6.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

/// The rules for return targets.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The gateway's own origin when configured (`redirectUrl`'s); otherwise
    /// the request's.
    pub fixed_origin: Option<Origin>,
    /// Other hosts a login may return to (any scheme, exact host[:port] or
    /// host name).
    pub allowed_hosts: Vec<String>,
}

impl Policy {
    /// True if `url` (absolute) may be redirected to after a login that started
    /// at `origin`.
    pub fn allows(&self, url: &str, origin: &Origin) -> bool {
        if url.len() > MAX_RETURN_URL || url.bytes().any(|b| b <= 0x20 || b == 0x7f) {
            return false;
        }
        let Some(target) = Origin::of(url) else {
            return false;
        };
        let own = self.fixed_origin.as_ref().unwrap_or(origin);
        target == *own
            || self.allowed_hosts.iter().any(|h| {
                h.eq_ignore_ascii_case(&target.host) || h.eq_ignore_ascii_case(target.hostname())
            })
    }

    /// The URL the request asked for, if it may be returned to: its origin and
    /// its path (with query).
    pub fn return_url(&self, request: &Request) -> Option<String> {
        let origin = Origin::of_request(request)?;
        if !request.path().starts_with('/') || request.path().starts_with("//") {
            return None;
        }
        let url = format!("{}{}", origin.url(), request.path());
        self.allows(&url, &origin).then_some(url)
    }
}
