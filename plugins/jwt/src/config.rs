//! The step's `config` as written, and its checks beyond what serde does.

use std::path::PathBuf;

use gatehouse_plugin_sdk::jwt::{jsonwebtoken::Algorithm, Checks};
use serde::Deserialize;

/// The largest accepted `leewaySeconds` (one hour).
pub const MAX_LEEWAY_SECONDS: u64 = 3600;

/// The whole config of a `Jwt` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The required `iss`. When absent, `iss` is not checked.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Accepted audiences: the token's `aud` must name at least one. When empty,
    /// `aud` is not checked.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Clock skew allowed when checking `exp` and `nbf` (default 60).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Where the verification keys come from.
    #[serde(default)]
    pub jwks: Option<JwksConfig>,
    /// Accepted `alg` values (default RS256, ES256, EdDSA, HS256). `none` is never
    /// accepted.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// A shared secret for HS256/384/512 tokens (its UTF-8 bytes).
    #[serde(default)]
    pub hs_secret: Option<String>,
    /// Where the token is read from (default: `Authorization: Bearer`).
    #[serde(default)]
    pub token_source: TokenSourceConfig,
    /// Claims copied into upstream request headers.
    #[serde(default)]
    pub forward_claims: Vec<ForwardClaim>,
    /// Prefix of the state keys (default `jwt`: `jwt.claims`, `jwt.claim.<name>`).
    #[serde(default = "default_prefix")]
    pub state_key_prefix: String,
}

/// The JWKS: exactly one of `inline`, `file` or `url`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwksConfig {
    /// The JWKS itself (`{keys: [...]}`), as a mapping or as JSON text.
    #[serde(default)]
    pub inline: Option<serde_json::Value>,
    /// A JWKS file, read when the config is loaded.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// An `http://` or `https://` URL, fetched in the background.
    #[serde(default)]
    pub url: Option<String>,
    /// How often a URL is fetched again (default 300).
    #[serde(default = "default_refresh")]
    pub refresh_seconds: u64,
    /// The bound on one fetch: connect, answer and body (default 2000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// The least time between two fetches triggered by tokens with an unknown
    /// `kid` (default 10; 0 allows one per request).
    #[serde(default = "default_cooldown")]
    pub cooldown_seconds: u64,
    /// How long a request waits for the fetch its unknown `kid` triggered
    /// (default 100, to fit the host's chain deadline; the fetch itself goes on
    /// in the background).
    #[serde(default = "default_refetch_wait")]
    pub refetch_wait_ms: u64,
}

/// Where the token is read from: `header` (default `authorization`) or `cookie`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenSourceConfig {
    /// A request header holding the token.
    #[serde(default)]
    pub header: Option<String>,
    /// A cookie holding the token.
    #[serde(default)]
    pub cookie: Option<String>,
    /// The auth scheme before the token in the header (default `Bearer` for
    /// `authorization`, none for other headers; `""` for none).
    #[serde(default)]
    pub scheme: Option<String>,
}

/// One claim forwarded upstream as a header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardClaim {
    /// The top-level claim name.
    pub claim: String,
    /// The upstream header it is set on.
    pub header: String,
}

fn default_leeway() -> u64 {
    60
}

fn default_algorithms() -> Vec<Algorithm> {
    vec![
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::HS256,
    ]
}

fn default_prefix() -> String {
    "jwt".into()
}

fn default_refresh() -> u64 {
    300
}

fn default_timeout() -> u64 {
    2000
}

fn default_cooldown() -> u64 {
    10
}

fn default_refetch_wait() -> u64 {
    100
}

/// True for the HMAC algorithms.
pub use gatehouse_plugin_sdk::jwt::is_hmac;

impl Config {
    /// The token checks this config asks for.
    pub fn checks(&self) -> Checks {
        Checks {
            algorithms: self.algorithms.clone(),
            leeway_seconds: self.leeway_seconds,
            issuer: self.issuer.clone(),
            audiences: self.audiences.clone(),
        }
    }

    /// Checks what serde cannot: key sources, ranges and names.
    pub fn check(&self) -> Result<(), String> {
        if self.jwks.is_none() && self.hs_secret.is_none() {
            return Err("give `jwks` or `hsSecret`: there are no keys".into());
        }
        if self.algorithms.is_empty() {
            return Err("algorithms: must not be empty".into());
        }
        if self.leeway_seconds > MAX_LEEWAY_SECONDS {
            return Err(format!("leewaySeconds: at most {MAX_LEEWAY_SECONDS}"));
        }
        if let Some(secret) = &self.hs_secret {
            if secret.is_empty() {
                return Err("hsSecret: must not be empty".into());
            }
            if !self.algorithms.iter().any(|a| is_hmac(*a)) {
                return Err("hsSecret: no HS256/384/512 in `algorithms`".into());
            }
        }
        if let Some(jwks) = &self.jwks {
            jwks.check().map_err(|e| format!("jwks: {e}"))?;
        }
        self.token_source
            .check()
            .map_err(|e| format!("tokenSource: {e}"))?;
        for (i, f) in self.forward_claims.iter().enumerate() {
            if f.claim.is_empty() || f.header.is_empty() {
                return Err(format!(
                    "forwardClaims[{i}]: `claim` and `header` must not be empty"
                ));
            }
        }
        if self.state_key_prefix.is_empty() {
            return Err("stateKeyPrefix: must not be empty".into());
        }
        Ok(())
    }
}

impl JwksConfig {
    fn check(&self) -> Result<(), String> {
        let given = [
            self.inline.is_some(),
            self.file.is_some(),
            self.url.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err("give exactly one of `inline`, `file`, `url`".into());
        }
        if let Some(url) = &self.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!("url: `{url}` is not an http:// or https:// URL"));
            }
        }
        if self.refresh_seconds == 0 {
            return Err("refreshSeconds: must be at least 1".into());
        }
        if self.timeout_ms == 0 {
            return Err("timeoutMs: must be at least 1".into());
        }
        Ok(())
    }
}

impl TokenSourceConfig {
    fn check(&self) -> Result<(), String> {
        match (&self.header, &self.cookie) {
            (Some(_), Some(_)) => Err("give `header` or `cookie`, not both".into()),
            (Some(h), None) if h.is_empty() => Err("header: must not be empty".into()),
            (None, Some(c)) if c.is_empty() => Err("cookie: must not be empty".into()),
            (None, Some(_)) if self.scheme.is_some() => {
                Err("scheme: only applies to `header`".into())
            }
            _ => Ok(()),
        }
    }
}
