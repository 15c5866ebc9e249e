//! The step's `config` as written, and its checks beyond what serde does.

use std::path::PathBuf;

use gatehouse_plugin_sdk::jwt::jsonwebtoken::Algorithm;
use serde::Deserialize;

/// The default `callbackPath`.
pub const DEFAULT_CALLBACK: &str = "/oauth2/callback";

/// The whole config of an `Oidc` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The provider's issuer; discovery reads `<issuerUrl>/.well-known/openid-configuration`
    /// and the ID token's `iss` must equal it.
    pub issuer_url: String,
    /// The client id registered with the provider (also the required `aud`).
    pub client_id: String,
    /// Where the client secret comes from (none: a public client, PKCE only).
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    /// Scopes requested (default `openid email profile`; `openid` is always sent).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The provider's redirect target on this gateway (default `/oauth2/callback`).
    #[serde(default = "default_callback")]
    pub callback_path: String,
    /// The absolute `redirect_uri` registered with the provider. Default: the
    /// request's own scheme and host + `callbackPath`.
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// A path that ends the session (none: no logout path).
    #[serde(default)]
    pub logout_path: Option<String>,
    /// Where the provider sends the browser after logout (`post_logout_redirect_uri`).
    #[serde(default)]
    pub after_logout_url: Option<String>,
    /// Hosts (besides the request's own origin) a login may return to.
    #[serde(default)]
    pub allowed_redirect_hosts: Vec<String>,
    /// A request carrying any of these headers is an API client: 401, never a redirect.
    #[serde(default)]
    pub api_client_headers: Vec<String>,
    /// The status of the login redirect: 302 (Envoy, HAProxy), or 401 for nginx's
    /// `auth_request` (which passes only 401/403; its `error_page` turns the
    /// `Location` into the redirect).
    #[serde(default = "default_login_status")]
    pub login_status: u16,
    /// The session cookie.
    #[serde(default)]
    pub cookie: CookieConfig,
    /// The AEAD keys of sessions and login states.
    pub session_keys: KeysConfig,
    /// A Redis session store (none: the whole session lives in the cookie).
    #[serde(default)]
    pub redis: Option<RedisConfig>,
    /// Refresh the tokens this long before the access token expires (default 60;
    /// 0: never refresh).
    #[serde(default = "default_refresh_before")]
    pub refresh_before_seconds: u64,
    /// The bound on each outbound call (discovery, JWKS, token endpoint), in ms
    /// (default 1500). Keep it below the host's chain deadline.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Clock skew allowed for `exp` and `iat` (default 60).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Accepted ID-token `alg` values (default RS256, PS256, ES256, EdDSA).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// Claims published as state `oidc.claim.<name>` besides `sub`, `email`, `groups`.
    #[serde(default)]
    pub claims: Vec<String>,
    /// Claims set as upstream headers (replacing what the client sent).
    #[serde(default)]
    pub headers: Vec<HeaderClaim>,
    /// Send the access token upstream as `Authorization: Bearer`.
    #[serde(default)]
    pub forward_access_token: bool,
    /// How often the JWKS is fetched again (default 300).
    #[serde(default = "default_jwks_refresh")]
    pub jwks_refresh_seconds: u64,
}

/// A secret from a file or an environment variable: exactly one.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretSource {
    /// A file holding the secret (surrounding whitespace dropped).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// An environment variable holding it.
    #[serde(default)]
    pub env: Option<String>,
}

/// The session cookie's name and attributes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CookieConfig {
    /// The name (default `__gatehouse_oidc`); chunks are `<name>_0`, `<name>_1`...
    #[serde(default = "default_cookie_name")]
    pub name: String,
    /// The `Domain` attribute (none: host-only).
    #[serde(default)]
    pub domain: Option<String>,
    /// The session lifetime in seconds (default 28800, 8 h).
    #[serde(default = "default_lifetime")]
    pub lifetime_seconds: u64,
    /// The `Secure` attribute (default true).
    #[serde(default = "yes")]
    pub secure: bool,
}

/// The AEAD keys: the current one seals, the old ones still open.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeysConfig {
    /// A file holding the current key: 32 bytes, as 64 hex digits or base64.
    pub file: PathBuf,
    /// Files of previous keys, accepted for opening until removed from this list.
    #[serde(default)]
    pub old_files: Vec<PathBuf>,
}

/// Where sessions are stored when Redis is used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisConfig {
    /// `host:port` of the Redis server.
    pub address: String,
    /// The key prefix (default `gatehouse:oidc:`).
    #[serde(default = "default_redis_prefix")]
    pub key_prefix: String,
}

/// One claim copied into an upstream header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderClaim {
    /// The claim name (`sub`, `email`, `groups`, or any claim of the ID token).
    pub claim: String,
    /// The upstream header.
    pub header: String,
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}
fn default_callback() -> String {
    DEFAULT_CALLBACK.into()
}
fn default_login_status() -> u16 {
    302
}
fn default_refresh_before() -> u64 {
    60
}
fn default_timeout() -> u64 {
    1500
}
fn default_leeway() -> u64 {
    60
}
fn default_algorithms() -> Vec<Algorithm> {
    use Algorithm::*;
    vec![RS256, PS256, ES256, EdDSA]
}
fn default_jwks_refresh() -> u64 {
    300
}
fn default_cookie_name() -> String {
    "__gatehouse_oidc".into()
}
fn default_lifetime() -> u64 {
    8 * 3600
}
fn default_redis_prefix() -> String {
    "gatehouse:oidc:".into()
}
fn yes() -> bool {
    true
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: default_cookie_name(),
            domain: None,
            lifetime_seconds: default_lifetime(),
            secure: true,
        }
    }
}

/// True if `name` is a cookie name (an RFC 6265 token).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn http_url(field: &str, url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!(
            "{field}: `{url}` is not an http:// or https:// URL"
        ))
    }
}

fn path(field: &str, p: &str) -> Result<(), String> {
    if p.starts_with('/') && !p.contains(['?', '#']) {
        Ok(())
    } else {
        Err(format!(
            "{field}: `{p}` must be a path starting with `/` (no query)"
        ))
    }
}

impl Config {
    /// Checks what serde cannot: URLs, paths, names and ranges.
    pub fn check(&self) -> Result<(), String> {
        http_url("issuerUrl", &self.issuer_url)?;
        if self.client_id.is_empty() {
            return Err("clientId: must not be empty".into());
        }
        path("callbackPath", &self.callback_path)?;
        if let Some(p) = &self.logout_path {
            path("logoutPath", p)?;
            if *p == self.callback_path {
                return Err("logoutPath: must differ from callbackPath".into());
            }
        }
        if let Some(url) = &self.redirect_url {
            http_url("redirectUrl", url)?;
        }
        if let Some(url) = &self.after_logout_url {
            http_url("afterLogoutUrl", url)?;
        }
        if !matches!(self.login_status, 302 | 303 | 307 | 401) {
            return Err("loginStatus: 302, 303, 307 or 401".into());
        }
        if !is_token(&self.cookie.name) {
            return Err(format!(
                "cookie.name: `{}` is not a cookie name",
                self.cookie.name
            ));
        }
        if self.cookie.lifetime_seconds == 0 {
            return Err("cookie.lifetimeSeconds: must be at least 1".into());
        }
        if self.timeout_ms == 0 {
            return Err("timeoutMs: must be at least 1".into());
        }
        if self.algorithms.is_empty() {
            return Err("algorithms: must not be empty".into());
        }
        if self.jwks_refresh_seconds == 0 {
            return Err("jwksRefreshSeconds: must be at least 1".into());
        }
        for (i, h) in self.headers.iter().enumerate() {
            if h.claim.is_empty() || h.header.is_empty() {
                return Err(format!(
                    "headers[{i}]: `claim` and `header` must not be empty"
                ));
            }
        }
        if let Some(s) = &self.client_secret {
            if s.file.is_some() == s.env.is_some() {
                return Err("clientSecret: give exactly one of `file`, `env`".into());
            }
        }
        if let Some(r) = &self.redis {
            if !r.address.contains(':') {
                return Err(format!("redis.address: `{}` is not host:port", r.address));
            }
        }
        Ok(())
    }
}

impl SecretSource {
    /// Reads the secret; the error names the file or variable.
    pub fn read(&self) -> Result<String, String> {
        let secret = match (&self.file, &self.env) {
            (Some(file), _) => std::fs::read_to_string(file)
                .map_err(|e| format!("clientSecret.file: cannot read {}: {e}", file.display()))?,
            (None, Some(var)) => {
                std::env::var(var).map_err(|_| format!("clientSecret.env: ${var} is not set"))?
            }
            (None, None) => return Err("clientSecret: give `file` or `env`".into()),
        };
        let secret = secret.trim().to_string();
        if secret.is_empty() {
            return Err("clientSecret: the secret is empty".into());
        }
        Ok(secret)
    }
}
