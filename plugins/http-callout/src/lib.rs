//! # `HttpCallout`
//!
//! Asks an external HTTP authorization service about each request, forwarding
//! chosen request headers (and optionally the original path and method):
//!
//! - a status in `allowedStatus` → allow, setting `copyHeadersOnAllow` from the
//!   answer on the upstream request;
//! - any other status below 500 → deny with that status (403 for an unlisted
//!   2xx), the answer's body and its `copyHeadersOnDeny` headers;
//! - 5xx, timeout or connection error → deny 403, or allow when
//!   `failureMode: allow` (fail open).
//!
//! With `cache`, allow decisions are reused for `ttlSeconds`, keyed on a hash
//! of the `keyHeaders` values: a gateway keeps admitting known clients for that
//! long while the service is slow or down. Denials and failures are never
//! cached.

pub mod cache;
pub mod config;
pub mod decision;
pub mod outbound;

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use gatehouse_plugin_sdk::{export_plugins, Error, Plugin, Request, Response};

use cache::AllowCache;
pub use config::{Config, Settings};
use decision::Outcome;
use gatehouse_plugin_sdk::http::Client;

/// The largest answer body read from the service.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Failures are logged at most once per this many seconds.
const LOG_EVERY_SECONDS: u64 = 10;

/// One configured `HttpCallout` step.
pub struct HttpCallout {
    settings: Settings,
    client: Client,
    cache: Option<AllowCache>,
    failures: AtomicU64,
    last_log: AtomicU64,
}

impl HttpCallout {
    /// Decides a request: from the cache, or by asking the service.
    pub async fn decide(&self, request: &Request) -> Response {
        let cached = self
            .cache
            .as_ref()
            .and_then(|cache| Some((cache, cache.key(request)?)));
        if let Some((cache, key)) = &cached {
            if let Some(headers) = cache.get(key) {
                return decision::allowed(&self.settings, &headers);
            }
        }
        match self.ask(request).await {
            Outcome::Allow(headers) => {
                if let Some((cache, key)) = cached {
                    cache.put(key, headers.clone());
                }
                decision::allowed(&self.settings, &headers)
            }
            Outcome::Deny {
                status,
                body,
                headers,
            } => decision::denied(status, &body, &headers),
            Outcome::Failure(why) => {
                self.note_failure(&why);
                decision::failed(&self.settings)
            }
        }
    }

    /// One callout and what its answer means.
    async fn ask(&self, request: &Request) -> Outcome {
        let callout = match outbound::outbound(&self.settings, request) {
            Ok(callout) => callout,
            Err(why) => return Outcome::Failure(why),
        };
        match self
            .client
            .send(callout, self.settings.timeout, MAX_BODY_BYTES)
            .await
        {
            Ok(reply) => decision::classify(&self.settings, &reply),
            Err(why) => Outcome::Failure(why),
        }
    }

    /// Counts a failure and logs it (a warning), at most once per
    /// [`LOG_EVERY_SECONDS`].
    fn note_failure(&self, why: &str) {
        let total = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.last_log.load(Ordering::Relaxed);
        if now >= last + LOG_EVERY_SECONDS
            && self
                .last_log
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            gatehouse_plugin_sdk::tracing::warn!(
                method = %self.settings.method,
                url = %self.settings.url,
                failures = total,
                failure_mode = ?self.settings.failure_mode,
                "callout failed: {why}"
            );
        }
    }

    /// How many callouts failed (5xx, timeout, connection error).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The allow cache, if configured.
    pub fn cache(&self) -> Option<&AllowCache> {
        self.cache.as_ref()
    }
}

impl Plugin for HttpCallout {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        let settings = Settings::try_from(config)?;
        Ok(Self {
            cache: settings.cache.clone().map(AllowCache::new),
            client: Client::new()?,
            settings,
            failures: AtomicU64::new(0),
            last_log: AtomicU64::new(0),
        })
    }

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        Ok(self.decide(request).await)
    }
}

export_plugins!("HttpCallout" => HttpCallout);

#[cfg(test)]
mod tests;
