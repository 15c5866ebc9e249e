//! The OpenID provider: its metadata from discovery, its JWKS (the SDK's
//! [`RemoteJwks`], refreshed in the background) and the token endpoint (code
//! exchange and refresh). Every call is bounded by `timeoutMs`.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use gatehouse_plugin_sdk::{
    http::{self, Client},
    jwt::{Fetcher, RemoteJwks, Schedule},
    runtime, tracing, Stop,
};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::form;

/// The largest discovery document or token answer accepted.
pub const MAX_ANSWER: usize = 256 * 1024;

/// What discovery tells (OpenID Connect Discovery 1.0, section 3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    /// Must equal the configured `issuerUrl`.
    pub issuer: String,
    /// Where browsers are sent to sign in.
    pub authorization_endpoint: String,
    /// Where codes and refresh tokens are exchanged.
    pub token_endpoint: String,
    /// The provider's signing keys.
    pub jwks_uri: String,
    /// RP-initiated logout, if supported.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// A token endpoint answer (RFC 6749 5.1).
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// The ID token (required on the code exchange).
    #[serde(default)]
    pub id_token: Option<String>,
    /// The refresh token, if any.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// The provider once discovered.
pub struct Discovered {
    /// Its metadata.
    pub meta: Metadata,
    /// Its keys.
    pub jwks: Arc<RemoteJwks>,
}

/// One provider as a step's config names it.
pub struct Provider {
    issuer: String,
    client_id: String,
    secret: Option<String>,
    timeout: Duration,
    jwks_refresh: Duration,
    client: Client,
    discovered: OnceCell<Arc<Discovered>>,
    stop: Mutex<Option<Stop>>,
}

impl Provider {
    /// A provider at `issuer` (not contacted yet).
    pub fn new(
        issuer: &str,
        client_id: &str,
        secret: Option<String>,
        timeout: Duration,
        jwks_refresh: Duration,
    ) -> Result<Self, String> {
        Ok(Self {
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            secret,
            timeout,
            jwks_refresh,
            client: Client::new()?,
            discovered: OnceCell::new(),
            stop: Mutex::new(None),
        })
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Starts discovery in the background (retried until it works or `stop`).
    pub fn start(self: &Arc<Self>, stop: Stop) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = Some(stop.clone());
        let me = Arc::clone(self);
        runtime::spawn(async move {
            let mut wait = Duration::from_millis(200);
            while !stop.is_stopped() {
                // Retried here; a request meanwhile tries itself.
                match me.discovered().await {
                    Ok(_) => return,
                    Err(error) => tracing::warn!(issuer = %me.issuer, %error, retry_in = ?wait,
                        "OIDC discovery failed"),
                }
                tokio::select! {
                    _ = stop.stopped() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        });
    }

    /// The provider's metadata and keys, discovering them first if needed.
    pub async fn discovered(&self) -> Result<Arc<Discovered>, String> {
        self.discovered
            .get_or_try_init(|| self.discover())
            .await
            .cloned()
    }

    async fn discover(&self) -> Result<Arc<Discovered>, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let reply = self
            .client
            .get(
                &http::parse_url(&url)?,
                "application/json",
                self.timeout,
                MAX_ANSWER,
            )
            .await?;
        if !reply.is_success() {
            return Err(format!("{url} answered {}", reply.status));
        }
        let meta: Metadata = serde_json::from_slice(&reply.body)
            .map_err(|e| format!("{url}: not provider metadata: {e}"))?;
        if meta.issuer != self.issuer {
            return Err(format!(
                "{url}: issuer `{}` is not the configured `{}`",
                meta.issuer, self.issuer
            ));
        }
        let schedule = Schedule {
            refresh_every: self.jwks_refresh,
            cooldown: Duration::from_secs(10),
            refetch_wait: self.timeout,
        };
        let jwks = Arc::new(RemoteJwks::new(
            Fetcher::new(&meta.jwks_uri, self.timeout)?,
            schedule,
            None,
        ));
        jwks.refresh(Duration::ZERO).await;
        let stop = self.stop.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(stop) = stop {
            let background = Arc::clone(&jwks);
            runtime::spawn(background.run(async move { stop.stopped().await }));
        }
        Ok(Arc::new(Discovered { meta, jwks }))
    }

    /// Exchanges an authorization code (with its PKCE verifier).
    pub async fn exchange(
        &self,
        meta: &Metadata,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<Tokens, String> {
        let params = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        self.token_request(meta, &params).await
    }

    /// Refreshes the tokens.
    pub async fn refresh(&self, meta: &Metadata, refresh_token: &str) -> Result<Tokens, String> {
        let params = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.token_request(meta, &params).await
    }

    async fn token_request(
        &self,
        meta: &Metadata,
        params: &[(&str, &str)],
    ) -> Result<Tokens, String> {
        let mut body = form::encode(params);
        let basic = match &self.secret {
            // client_secret_basic (RFC 6749 2.3.1: the parts form-encoded first).
            Some(secret) => Some(form::basic(&self.client_id, secret)),
            None => {
                body.push_str("&client_id=");
                body.push_str(&form::escape(&self.client_id));
                None
            }
        };
        let url = http::parse_url(&meta.token_endpoint)?;
        let request = token_post(url, body, basic.as_deref())?;
        // The SDK client bounds the whole exchange by `timeoutMs` and caps the answer.
        let reply = self
            .client
            .send(request, self.timeout, MAX_ANSWER)
            .await
            .map_err(|e| format!("token endpoint: {e}"))?;
        if !reply.is_success() {
            return Err(format!(
                "token endpoint answered {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(200)])
            ));
        }
        serde_json::from_slice(&reply.body).map_err(|e| format!("token endpoint answer: {e}"))
    }
}

/// The token request: `body` as a form POST to `url`, with client_secret_basic's
/// `authorization` if any. (`Client::post` takes no extra header, hence `send`.)
fn token_post(
    url: http::Uri,
    body: String,
    authorization: Option<&str>,
) -> Result<http::OutboundRequest, String> {
    use http::hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
    let mut request = http::hyper::Request::post(url)
        .header(CONTENT_TYPE, form::CONTENT_TYPE)
        .header(ACCEPT, "application/json");
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    request
        .body(http::Body::from(body))
        .map_err(|e| format!("building the token request: {e}"))
}
