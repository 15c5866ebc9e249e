//! # `Jwt`
//!
//! Verifies a JSON Web Token (RS256/384/512, PS256/384/512, ES256/384, EdDSA,
//! HS256/384/512; never `alg: none`) against a JWKS given inline, read from a
//! file, or fetched from an `http(s)://` URL and refreshed in the background,
//! and checks `exp`, `nbf` (with leeway), `iss` and `aud`.
//!
//! - no token → deny 401;
//! - a token that fails any check → deny 401 saying which;
//! - otherwise allow, with the claims in state (`jwt.claims`: the claims
//!   object as JSON; `jwt.claim.<name>`: each top-level claim, strings as they
//!   are and anything else as JSON), `sub` as the user id, and the configured
//!   claims as upstream headers.
//!
//! A URL JWKS is fetched when the service starts and every `refreshSeconds`
//! until the host stops the service; a failed fetch keeps the last good keys. A
//! token naming an unknown `kid` triggers an early fetch (at most one per
//! `cooldownSeconds`), so a rotated-in key is picked up at once.

pub mod claims;
pub mod config;
pub mod keys;
pub mod token;

use gatehouse_plugin_sdk::{
    deny, export_plugins, Error, Plugin, Request, Response, ResponseExt, Stop,
};

pub use config::Config;
use gatehouse_plugin_sdk::jwt::{Claims, Rejection, Verifier};
use {
    claims::Publisher,
    keys::KeySource,
    token::{TokenSource, MAX_TOKEN_LEN},
};

/// One configured `Jwt` step.
pub struct Jwt {
    source: TokenSource,
    verifier: Verifier,
    keys: KeySource,
    publisher: Publisher,
}

impl Jwt {
    /// Decides a request: find, verify and publish its token.
    pub async fn decide(&self, request: &Request) -> Response {
        let Some(token) = self.source.find(request) else {
            return self.challenge(deny(401, format!("missing {}", self.source.describe())));
        };
        match self.check(token).await {
            Ok(claims) => self.publisher.allow(&claims),
            Err(why) => self.invalid(&why),
        }
    }

    /// Verifies `token`, refetching a URL JWKS once if no current key fits it.
    async fn check(&self, token: &str) -> Result<Claims, Rejection> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Rejection::Malformed);
        }
        let header = self.verifier.header(token)?;
        let mut keys = self.keys.current();
        let unknown = match header.kid.as_deref() {
            Some(kid) => !keys.has_kid(kid),
            None => keys.candidates(None, header.alg).is_empty(),
        };
        if unknown {
            if let Some(fresh) = self.keys.refetch().await {
                keys = fresh;
            }
        }
        self.verifier.verify(token, &header, &keys)
    }

    /// A 401 for a token that failed a check.
    fn invalid(&self, why: &Rejection) -> Response {
        let response = deny(401, format!("invalid token: {why}"));
        match self.bearer() {
            true => response.response_header(
                "www-authenticate",
                &format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    quotable(&why.to_string())
                ),
            ),
            false => response,
        }
    }

    /// Adds the `Bearer` challenge to a denial when tokens come as bearer tokens.
    fn challenge(&self, response: Response) -> Response {
        match self.bearer() {
            true => response.response_header("www-authenticate", "Bearer"),
            false => response,
        }
    }

    fn bearer(&self) -> bool {
        matches!(&self.source, TokenSource::Header { scheme: Some(s), .. } if s.eq_ignore_ascii_case("bearer"))
    }
}

impl Plugin for Jwt {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        config.check()?;
        Ok(Self {
            source: TokenSource::from(&config.token_source),
            verifier: Verifier::new(&config.checks()),
            keys: KeySource::load(&config)?,
            publisher: Publisher::new(&config.state_key_prefix, &config.forward_claims),
        })
    }

    fn start(&self, stop: Stop) -> Result<(), Error> {
        self.keys.start(stop);
        Ok(())
    }

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        Ok(self.decide(request).await)
    }
}

/// `text` with what cannot appear in a quoted header parameter replaced by `'`.
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect()
}

export_plugins!("Jwt" => Jwt);

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
