//! The step's `config` as written, and the checked [`Settings`] built from it.

use std::time::Duration;

use gatehouse_plugin_sdk::http::hyper::{header::HeaderName, Method, Uri};
use serde::Deserialize;

/// Headers that describe the connection, not the request: never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// The whole config of an `HttpCallout` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The authorization service: an `http://` or `https://` URL.
    pub url: String,
    /// The method of the callout (default `GET`).
    #[serde(default = "default_method")]
    pub method: String,
    /// The bound on one callout: connect, answer and body (default 150: within
    /// the host's default chain deadline of 180 ms, `--chain-deadline-ms`).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Request headers sent along, every value (default `authorization`, `cookie`).
    #[serde(default = "default_forward")]
    pub forward_headers: Vec<String>,
    /// A header carrying the original request's path (and query) to the service.
    #[serde(default)]
    pub path_header: Option<String>,
    /// A header carrying the original request's method to the service.
    #[serde(default)]
    pub method_header: Option<String>,
    /// Statuses that mean "allow" (default `[200]`).
    #[serde(default = "default_allowed")]
    pub allowed_status: Vec<u16>,
    /// The service's answer headers set on the upstream request on allow (and
    /// removed from it when the answer lacks them).
    #[serde(default)]
    pub copy_headers_on_allow: Vec<String>,
    /// The service's answer headers copied into the denial.
    #[serde(default)]
    pub copy_headers_on_deny: Vec<String>,
    /// Cache allow decisions (nothing is cached when absent).
    #[serde(default)]
    pub cache: Option<CacheConfig>,
    /// What a timeout, connection error or 5xx means (default `deny`).
    #[serde(default)]
    pub failure_mode: FailureMode,
}

/// The allow-decision cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CacheConfig {
    /// How long an allow is reused.
    pub ttl_seconds: u64,
    /// The request headers whose values make up the cache key; a request with
    /// none of them is not cached.
    pub key_headers: Vec<String>,
    /// Also key on method and path (when the service decides per path).
    #[serde(default)]
    pub include_path: bool,
    /// The most entries kept (default 10000).
    #[serde(default = "default_max_entries")]
    pub max_entries: usize,
}

/// What happens when the service cannot give an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureMode {
    /// Deny 403 (fail closed).
    #[default]
    Deny,
    /// Allow without any copied headers (fail open).
    Allow,
}

fn default_method() -> String {
    "GET".into()
}

fn default_timeout() -> u64 {
    150
}

fn default_forward() -> Vec<String> {
    vec!["authorization".into(), "cookie".into()]
}

fn default_allowed() -> Vec<u16> {
    vec![200]
}

fn default_max_entries() -> usize {
    10_000
}

/// The checked, parsed form of a [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// The service URL.
    pub url: Uri,
    /// The callout method.
    pub method: Method,
    /// The bound on one callout.
    pub timeout: Duration,
    /// Request headers forwarded.
    pub forward_headers: Vec<HeaderName>,
    /// Header carrying the original path.
    pub path_header: Option<HeaderName>,
    /// Header carrying the original method.
    pub method_header: Option<HeaderName>,
    /// Statuses meaning allow.
    pub allowed_status: Vec<u16>,
    /// Answer headers copied upstream on allow.
    pub copy_on_allow: Vec<HeaderName>,
    /// Answer headers copied into a denial.
    pub copy_on_deny: Vec<HeaderName>,
    /// The cache, if any.
    pub cache: Option<CacheSettings>,
    /// What failures mean.
    pub failure_mode: FailureMode,
}

/// The checked cache config.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Entry lifetime.
    pub ttl: Duration,
    /// Key headers.
    pub key_headers: Vec<HeaderName>,
    /// Key on method and path too.
    pub include_path: bool,
    /// Capacity.
    pub max_entries: usize,
}

impl TryFrom<Config> for Settings {
    type Error = String;

    fn try_from(c: Config) -> Result<Self, String> {
        let url: Uri = c.url.parse().map_err(|e| format!("url: {e}"))?;
        if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
            return Err(format!(
                "url: `{}` is not an http:// or https:// URL",
                c.url
            ));
        }
        let method = Method::from_bytes(c.method.as_bytes())
            .map_err(|_| format!("method: `{}` is not an HTTP method", c.method))?;
        if c.timeout_ms == 0 {
            return Err("timeoutMs: must be at least 1".into());
        }
        if c.allowed_status.is_empty() {
            return Err("allowedStatus: must not be empty".into());
        }
        if let Some(s) = c.allowed_status.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(format!("allowedStatus: {s} is not an HTTP status"));
        }
        let cache = c.cache.map(CacheSettings::try_from).transpose()?;
        Ok(Settings {
            url,
            method,
            timeout: Duration::from_millis(c.timeout_ms),
            forward_headers: forwardable(&c.forward_headers, "forwardHeaders")?,
            path_header: c
                .path_header
                .map(|h| header(&h, "pathHeader"))
                .transpose()?,
            method_header: c
                .method_header
                .map(|h| header(&h, "methodHeader"))
                .transpose()?,
            allowed_status: c.allowed_status,
            copy_on_allow: forwardable(&c.copy_headers_on_allow, "copyHeadersOnAllow")?,
            copy_on_deny: names(&c.copy_headers_on_deny, "copyHeadersOnDeny")?,
            cache,
            failure_mode: c.failure_mode,
        })
    }
}

impl TryFrom<CacheConfig> for CacheSettings {
    type Error = String;

    fn try_from(c: CacheConfig) -> Result<Self, String> {
        if c.ttl_seconds == 0 {
            return Err("cache.ttlSeconds: must be at least 1".into());
        }
        if c.key_headers.is_empty() {
            return Err("cache.keyHeaders: must not be empty".into());
        }
        if c.max_entries == 0 {
            return Err("cache.maxEntries: must be at least 1".into());
        }
        Ok(CacheSettings {
            ttl: Duration::from_secs(c.ttl_seconds),
            key_headers: names(&c.key_headers, "cache.keyHeaders")?,
            include_path: c.include_path,
            max_entries: c.max_entries,
        })
    }
}

/// One header name, checked; `field` names the config key in errors.
fn header(name: &str, field: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{field}: `{name}` is not a header name"))
}

/// Header names, checked; `field` names the config key in errors.
fn names(list: &[String], field: &str) -> Result<Vec<HeaderName>, String> {
    list.iter()
        .enumerate()
        .map(|(i, n)| header(n, &format!("{field}[{i}]")))
        .collect()
}

/// Header names that may be forwarded (no hop-by-hop headers).
fn forwardable(list: &[String], field: &str) -> Result<Vec<HeaderName>, String> {
    let checked = names(list, field)?;
    if let Some(i) = checked
        .iter()
        .position(|h| HOP_BY_HOP.contains(&h.as_str()))
    {
        return Err(format!(
            "{field}[{i}]: `{}` describes the connection and cannot be copied",
            checked[i]
        ));
    }
    Ok(checked)
}
