//! # `Oidc`
//!
//! Signs browsers in with an OpenID provider (authorization code flow with
//! PKCE S256, `state` and `nonce`) and keeps them signed in with an encrypted
//! session cookie (AES-256-GCM), optionally backed by Redis.
//!
//! - a valid session → allow, with the identity in state (`oidc.sub`,
//!   `oidc.email`, `oidc.groups`, `oidc.claim.<name>`, `oidc.claims`), `sub` as
//!   the user, the configured claims as upstream headers and optionally the
//!   access token as `Authorization: Bearer`; tokens near expiry are refreshed
//!   first (the new cookie rides on the allowed response);
//! - no session, a browser (`GET`/`HEAD`, `text/html` in `Accept`, none of
//!   `apiClientHeaders`) → a redirect (`loginStatus`, default 302) to the
//!   provider, with the login state in a sealed cookie;
//! - no session, anything else → 401;
//! - `callbackPath` → the code is exchanged, the ID token checked, the session
//!   cookie set and the browser sent back where it started;
//! - `logoutPath` → the session ends and the browser goes to the provider's
//!   end-session endpoint (or `afterLogoutUrl`).
//!
//! See docs/oidc.md.

pub mod config;
pub mod cookies;
pub mod crypto;
pub mod form;
pub mod idtoken;
mod login;
mod logout;
pub mod provider;
pub mod publish;
pub mod redirect;
pub mod redis;
pub mod session;
pub mod state;
pub mod store;

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use gatehouse_plugin_sdk::{
    deny, export_plugins,
    jwt::{Checks, Verifier},
    tracing, Error, Plugin, Request, Response, ResponseExt, Stop,
};

pub use config::Config;
use {
    cookies::Attributes,
    crypto::Sealer,
    provider::Provider,
    publish::Publisher,
    redirect::{Origin, Policy},
    state::UsedStates,
    store::{Jar, Loaded, Store},
};

/// A denial with a text body the browser never renders as HTML (a callback's
/// query is attacker-controlled), never cached.
pub fn refuse(status: u16, body: impl Into<String>) -> Response {
    deny(status, body)
        .response_header("content-type", "text/plain; charset=utf-8")
        .response_header("x-content-type-options", "nosniff")
        .response_header("cache-control", "no-store")
}

/// How many used login states each instance remembers.
const USED_STATES: usize = 10_000;

/// One configured `Oidc` step.
pub struct Oidc {
    config: Config,
    sealer: Sealer,
    provider: Arc<Provider>,
    verifier: Verifier,
    policy: Policy,
    publisher: Publisher,
    used: UsedStates,
    store: Store,
    session_attrs: Attributes,
    login_attrs: Attributes,
}

/// Now, in Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Oidc {
    /// Builds a step from a checked config: reads the keys and the secret.
    pub fn from_config(config: Config) -> Result<Self, String> {
        config.check()?;
        let keys = &config.session_keys;
        let sealer = Sealer::from_files(&keys.file, &keys.old_files)
            .map_err(|e| format!("sessionKeys: {e}"))?;
        let secret = config
            .client_secret
            .as_ref()
            .map(|s| s.read())
            .transpose()?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let provider = Provider::new(
            &config.issuer_url,
            &config.client_id,
            secret,
            timeout,
            Duration::from_secs(config.jwks_refresh_seconds),
        )?;
        let verifier = Verifier::new(&Checks {
            algorithms: config.algorithms.clone(),
            leeway_seconds: config.leeway_seconds,
            issuer: Some(config.issuer_url.clone()),
            audiences: vec![config.client_id.clone()],
        });
        let fixed_origin = match &config.redirect_url {
            Some(url) => Some(Origin::of(url).ok_or(format!("redirectUrl: `{url}` has no host"))?),
            None => None,
        };
        let store = match &config.redis {
            Some(r) => Store::redis(&r.address, &r.key_prefix, timeout),
            None => Store::Cookie,
        };
        let attrs = |path: &str| Attributes {
            domain: config.cookie.domain.clone(),
            secure: config.cookie.secure,
            path: path.to_string(),
        };
        Ok(Self {
            sealer,
            provider: Arc::new(provider),
            verifier,
            policy: Policy {
                fixed_origin,
                allowed_hosts: config.allowed_redirect_hosts.clone(),
            },
            publisher: Publisher {
                claims: config.claims.clone(),
                headers: config.headers.clone(),
                bearer: config.forward_access_token,
            },
            used: UsedStates::new(USED_STATES),
            store,
            session_attrs: attrs("/"),
            login_attrs: attrs(&config.callback_path),
            config,
        })
    }

    /// Decides one request.
    pub async fn decide(&self, request: &Request) -> Response {
        let path = request.path().split('?').next().unwrap_or("");
        if path == self.config.callback_path {
            return self.callback(request).await;
        }
        if self.config.logout_path.as_deref() == Some(path) {
            return self.logout(request).await;
        }
        let pairs = cookies::pairs(request);
        let now = now();
        match self.store.load(&self.jar(), &pairs, now).await {
            Ok(Some(loaded)) => self.signed_in(loaded, &pairs, now).await,
            Ok(None) => self.signed_out(request).await,
            Err(why) => refuse(503, format!("session store unavailable: {why}")),
        }
    }

    fn jar(&self) -> Jar<'_> {
        Jar {
            name: &self.config.cookie.name,
            attrs: &self.session_attrs,
            sealer: &self.sealer,
        }
    }

    /// A valid session: refreshed if due, then allowed.
    async fn signed_in(&self, mut loaded: Loaded, pairs: &[(&str, &str)], now: u64) -> Response {
        let mut set_cookies = Vec::new();
        if loaded
            .session
            .wants_refresh(now, self.config.refresh_before_seconds)
        {
            match self.refreshed(&loaded.session, now).await {
                Ok(session) => {
                    let stale = cookies::present(pairs, &self.config.cookie.name);
                    match self
                        .store
                        .save(&self.jar(), &session, loaded.id.as_deref(), &stale, now)
                        .await
                    {
                        Ok(cookies) => set_cookies = cookies,
                        Err(why) => return refuse(503, format!("cannot save the session: {why}")),
                    }
                    loaded.session = session;
                }
                // The provider may be briefly away: the session stands until
                // its access token has expired.
                Err(why) if now < loaded.session.access_expires => {
                    tracing::info!(reason = %why, "OIDC refresh failed; the access token is still valid");
                }
                Err(why) => return self.login_or_401(why),
            }
        }
        let mut response = self.publisher.allow(&loaded.session);
        for c in &set_cookies {
            response = response.response_header("set-cookie", c);
        }
        response
    }

    /// No valid session: a browser is sent to sign in, anything else gets 401.
    async fn signed_out(&self, request: &Request) -> Response {
        if !self.is_browser(request) {
            return refuse(401, "sign-in required").response_header("www-authenticate", "Bearer");
        }
        self.start_login(request).await
    }

    fn login_or_401(&self, why: String) -> Response {
        refuse(
            401,
            format!("session expired and could not be refreshed: {why}"),
        )
    }

    /// A browser navigation (not an API client).
    fn is_browser(&self, request: &Request) -> bool {
        matches!(request.method(), "GET" | "HEAD")
            && request
                .headers("accept")
                .any(|a| a.to_ascii_lowercase().contains("text/html"))
            && !self
                .config
                .api_client_headers
                .iter()
                .any(|h| request.header(h).is_some())
    }
}

impl Plugin for Oidc {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Self::from_config(config)?)
    }

    fn start(&self, stop: Stop) -> Result<(), Error> {
        self.provider.start(stop);
        Ok(())
    }

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        Ok(self.decide(request).await)
    }
}

export_plugins!("Oidc" => Oidc);

#[cfg(test)]
mod tests;
