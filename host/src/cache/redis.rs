//! The shared store: Redis, for many replicas.
//!
//! Every call is bounded by a short timeout. When Redis fails or is slow the
//! store answers "miss" (the plugin decides, as with no cache at all) and skips
//! Redis for a second before trying again, so a Redis outage costs each
//! request at most one timeout and never turns into an allow.
//!
//! Values are authenticated: `HMAC(secret, key ‖ value) ‖ value`. Someone who
//! can write to Redis but lacks the hash secret cannot plant a decision; a
//! value that fails the check is a miss (and a warning).

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use hmac::Mac;
use redis::aio::ConnectionManager;

use super::key::HashSecret;
use crate::{chain::cache::CacheKey, logging::Throttle, model::StepOutcome};

/// How long Redis is left alone after it failed.
const BACKOFF: Duration = Duration::from_secs(1);

/// Redis failures are logged at most this often.
static FAILURES: Throttle = Throttle::new(5);

/// A Redis connection shared by every cached step of the host.
pub(super) struct RedisStore {
    client: redis::Client,
    timeout: Duration,
    secret: HashSecret,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    down_until: Mutex<Option<Instant>>,
}

impl RedisStore {
    /// A store at `url` (`redis://host:port/db`); connects on first use.
    pub(super) fn new(url: &str, timeout: Duration, secret: HashSecret) -> Result<Self, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("--cache-redis-url {url}: {e}"))?;
        Ok(Self {
            client,
            timeout,
            secret,
            conn: tokio::sync::Mutex::new(None),
            down_until: Mutex::new(None),
        })
    }

    /// The value stored under `key`, if Redis answers in time and the value is authentic.
    pub(super) async fn get(&self, key: &CacheKey) -> Option<StepOutcome> {
        let name = redis_key(key);
        let mut conn = self.connection().await?;
        let mut get = redis::cmd("GET");
        get.arg(&name);
        let call = get.query_async::<Option<Vec<u8>>>(&mut conn);
        let value = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => value?,
            Ok(Err(e)) => return self.failed(&format!("GET failed: {e}")),
            Err(_) => return self.failed("GET timed out"),
        };
        match self.open(&name, &value) {
            Some(outcome) => Some(outcome),
            None => {
                if let Some(suppressed) = FAILURES.admit() {
                    tracing::warn!(key = %name, suppressed, "cache entry in Redis failed its check: ignored");
                }
                None
            }
        }
    }

    /// Stores `outcome` under `key` for `ttl`, in the background (a request never waits for it).
    pub(super) fn put(
        self: &std::sync::Arc<Self>,
        key: CacheKey,
        outcome: &StepOutcome,
        ttl: Duration,
    ) {
        let name = redis_key(&key);
        let Some(value) = self.seal(&name, outcome) else {
            return;
        };
        let store = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            let Some(mut conn) = store.connection().await else {
                return;
            };
            let millis = ttl.as_millis().max(1) as u64;
            let mut set = redis::cmd("SET");
            set.arg(&name).arg(value).arg("PX").arg(millis);
            let call = set.query_async::<()>(&mut conn);
            match tokio::time::timeout(store.timeout, call).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => store
                    .failed::<()>(&format!("SET failed: {e}"))
                    .unwrap_or(()),
                Err(_) => store.failed::<()>("SET timed out").unwrap_or(()),
            }
        });
    }

    /// The connection, unless Redis failed less than [`BACKOFF`] ago.
    async fn connection(&self) -> Option<ConnectionManager> {
        if self
            .down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|until| Instant::now() < until)
        {
            return None;
        }
        let mut conn = self.conn.lock().await;
        if let Some(conn) = conn.as_ref() {
            return Some(conn.clone());
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(0);
        let connect = self.client.get_connection_manager_with_config(config);
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(made)) => {
                *conn = Some(made.clone());
                Some(made)
            }
            Ok(Err(e)) => self.failed(&format!("cannot connect: {e}")),
            Err(_) => self.failed("connecting timed out"),
        }
    }

    fn failed<T>(&self, what: &str) -> Option<T> {
        *self.down_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + BACKOFF);
        if let Some(suppressed) = FAILURES.admit() {
            tracing::warn!(
                suppressed,
                "cache: Redis {what}; cached steps call their plugins for the next {BACKOFF:?}"
            );
        }
        None
    }

    fn seal(&self, name: &str, outcome: &StepOutcome) -> Option<Vec<u8>> {
        let json = serde_json::to_vec(outcome).ok()?;
        let mut sealed = self.tag(name, &json).finalize().into_bytes().to_vec();
        sealed.extend_from_slice(&json);
        Some(sealed)
    }

    fn open(&self, name: &str, value: &[u8]) -> Option<StepOutcome> {
        if value.len() < 32 {
            return None;
        }
        let (tag, json) = value.split_at(32);
        self.tag(name, json).verify_slice(tag).ok()?;
        serde_json::from_slice(json).ok()
    }

    fn tag(&self, name: &str, json: &[u8]) -> hmac::Hmac<sha2::Sha256> {
        let mut mac = self.secret.mac();
        mac.update(b"gatehouse-cache-value-v1");
        mac.update(&(name.len() as u64).to_be_bytes());
        mac.update(name.as_bytes());
        mac.update(json);
        mac
    }
}

fn redis_key(key: &CacheKey) -> String {
    let mut name = String::with_capacity(16 + 64);
    name.push_str("gatehouse:cache:");
    for byte in key.0 {
        name.push_str(&format!("{byte:02x}"));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_key_and_secret() {
        let secret = HashSecret::random();
        let store =
            RedisStore::new("redis://127.0.0.1:1", Duration::from_millis(5), secret).unwrap();
        let outcome = StepOutcome {
            allow: true,
            state_set: vec![("user".into(), "alice".into())],
            ..StepOutcome::default()
        };
        let sealed = store.seal("k1", &outcome).unwrap();
        assert_eq!(store.open("k1", &sealed), Some(outcome));
        assert_eq!(store.open("k2", &sealed), None, "moved to another key");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 2;
        tampered[last] ^= 1;
        assert_eq!(store.open("k1", &tampered), None);
        let other = RedisStore::new(
            "redis://127.0.0.1:1",
            Duration::from_millis(5),
            HashSecret::random(),
        )
        .unwrap();
        assert_eq!(
            other.open("k1", &sealed),
            None,
            "planted without the secret"
        );
    }
}
