//! Where a step's keys come from: fixed at load (inline JWKS, file, `hsSecret`)
//! or fetched from a URL.

use std::{sync::Arc, time::Duration};

use gatehouse_plugin_sdk::{
    jwt::{Fetcher, Key, KeySet, RemoteJwks, Schedule},
    runtime, Stop,
};
use serde_json::Value;

use crate::config::{Config, JwksConfig};

/// The keys of one step.
pub enum KeySource {
    /// Keys fixed when the config was loaded.
    Fixed(Arc<KeySet>),
    /// Keys fetched from a URL and refreshed.
    Remote(Arc<RemoteJwks>),
}

impl KeySource {
    /// Loads the keys a config names (reads a file; a URL is fetched later, in
    /// [`KeySource::start`] or on the first token).
    pub fn load(config: &Config) -> Result<Self, String> {
        let secret = config.hs_secret.as_ref().map(|s| Key::secret(s.as_bytes()));
        let Some(jwks) = &config.jwks else {
            let mut set = KeySet::default();
            set.extend(secret);
            return Ok(KeySource::Fixed(Arc::new(set)));
        };
        if let Some(url) = &jwks.url {
            let fetcher = Fetcher::new(url, Duration::from_millis(jwks.timeout_ms))
                .map_err(|e| format!("jwks.{e}"))?;
            let schedule = Schedule {
                refresh_every: Duration::from_secs(jwks.refresh_seconds),
                cooldown: Duration::from_secs(jwks.cooldown_seconds),
                refetch_wait: Duration::from_millis(jwks.refetch_wait_ms),
            };
            return Ok(KeySource::Remote(Arc::new(RemoteJwks::new(
                fetcher, schedule, secret,
            ))));
        }
        let mut set = fixed_set(jwks)?;
        set.extend(secret);
        Ok(KeySource::Fixed(Arc::new(set)))
    }

    /// Starts the background refresh of a URL JWKS, ended by `stop`.
    pub fn start(&self, stop: Stop) {
        if let KeySource::Remote(remote) = self {
            let remote = Arc::clone(remote);
            runtime::spawn(remote.run(async move { stop.stopped().await }));
        }
    }

    /// The keys now in force.
    pub fn current(&self) -> Arc<KeySet> {
        match self {
            KeySource::Fixed(set) => Arc::clone(set),
            KeySource::Remote(remote) => remote.keys(),
        }
    }

    /// For a token no current key fits: refetches a URL JWKS (rate-limited) and
    /// returns the keys then in force; None for fixed keys.
    pub async fn refetch(&self) -> Option<Arc<KeySet>> {
        match self {
            KeySource::Fixed(_) => None,
            KeySource::Remote(remote) => {
                remote.refetch().await;
                Some(remote.keys())
            }
        }
    }
}

/// The keys of an inline or file JWKS; skipped keys are logged.
fn fixed_set(jwks: &JwksConfig) -> Result<KeySet, String> {
    let (set, skipped) = if let Some(inline) = &jwks.inline {
        match inline {
            Value::String(text) => KeySet::parse_text(text),
            other => KeySet::parse(other),
        }
        .map_err(|e| format!("jwks.inline: {e}"))?
    } else if let Some(path) = &jwks.file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("jwks.file: cannot read {}: {e}", path.display()))?;
        KeySet::parse_text(&text).map_err(|e| format!("jwks.file {}: {e}", path.display()))?
    } else {
        return Err("jwks: give exactly one of `inline`, `file`, `url`".into());
    };
    for why in skipped {
        gatehouse_plugin_sdk::tracing::warn!("JWKS: skipped {why}");
    }
    Ok(set)
}
