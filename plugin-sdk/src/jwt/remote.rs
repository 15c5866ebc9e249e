//! A JWKS fetched from a URL: refreshed in the background until the service's
//! stop signal fires, refetched early (rate-limited) when a token names an
//! unknown `kid`, and never emptied by a failed fetch: the last good keys stay.

use std::{
    future::Future,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

use tokio::sync::Mutex;

use super::{
    fetch::Fetcher,
    keys::{Key, KeySet},
};

/// The longest wait before retrying after a failed fetch.
pub const MAX_RETRY: Duration = Duration::from_secs(30);

/// What one refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// New keys are in place.
    Fetched,
    /// The fetch failed; the previous keys stay.
    Failed(String),
    /// Another fetch started too recently; nothing was fetched.
    Skipped,
}

/// When a URL JWKS is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The interval of the background refresh.
    pub refresh_every: Duration,
    /// The least time between a fetch and one triggered by an unknown `kid`.
    pub cooldown: Duration,
    /// How long a request waits for a refetch its unknown `kid` triggered (the
    /// fetch itself goes on in the background up to its own timeout).
    pub refetch_wait: Duration,
}

/// A JWKS from a URL and the keys last fetched from it.
pub struct RemoteJwks {
    fetcher: Fetcher,
    keys: RwLock<Arc<KeySet>>,
    /// Added to every fetched set (the `hsSecret`).
    extra: Option<Key>,
    /// When the last fetch started; held during a fetch, so fetches never overlap.
    last_fetch: Mutex<Option<Instant>>,
    schedule: Schedule,
    fetches: AtomicU64,
    failures: AtomicU64,
}

impl RemoteJwks {
    /// A source with no keys yet (but `extra`, if given).
    pub fn new(fetcher: Fetcher, schedule: Schedule, extra: Option<Key>) -> Self {
        let mut initial = KeySet::default();
        if let Some(key) = &extra {
            initial.push(key.clone());
        }
        Self {
            fetcher,
            keys: RwLock::new(Arc::new(initial)),
            extra,
            last_fetch: Mutex::new(None),
            schedule,
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// The keys now in force.
    pub fn keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Fetch attempts so far, and how many of them failed.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.fetches.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }

    /// Fetches the JWKS unless another fetch started less than `min_age` ago,
    /// waiting for one in progress first. Failures keep the current keys.
    pub async fn refresh(&self, min_age: Duration) -> Refresh {
        let mut last = self.last_fetch.lock().await;
        if min_age > Duration::ZERO && last.is_some_and(|t| t.elapsed() < min_age) {
            return Refresh::Skipped;
        }
        *last = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let outcome = self
            .fetcher
            .get()
            .await
            .and_then(|text| KeySet::parse_text(&text));
        match outcome {
            Ok((mut set, skipped)) => {
                for why in skipped {
                    tracing::warn!(url = %self.fetcher.url(), "JWKS: skipped {why}");
                }
                if let Some(key) = &self.extra {
                    set.push(key.clone());
                }
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
                Refresh::Fetched
            }
            Err(why) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    url = %self.fetcher.url(),
                    "JWKS fetch failed, keeping the last good keys: {why}"
                );
                Refresh::Failed(why)
            }
        }
    }

    /// For a token whose `kid` is unknown: fetches again unless the last fetch
    /// started within the cooldown, waiting at most `refetch_wait` for the
    /// result. A fetch already under way is waited for instead.
    pub async fn refetch(self: &Arc<Self>) {
        match self.last_fetch.try_lock() {
            Ok(last) => {
                if last.is_some_and(|t| t.elapsed() < self.schedule.cooldown) {
                    return;
                }
                drop(last);
                let me = Arc::clone(self);
                let task =
                    crate::runtime::spawn(async move { me.refresh(me.schedule.cooldown).await });
                let _ = tokio::time::timeout(self.schedule.refetch_wait, task).await;
            }
            Err(_) => {
                let wait = self.schedule.refetch_wait;
                let _ = tokio::time::timeout(wait, self.last_fetch.lock()).await;
            }
        }
    }

    /// The background loop: fetch now, then every `refreshSeconds` (sooner after
    /// a failure), until `stopped` completes (the service's [`Stop`] in the
    /// plugin: `async move { stop.stopped().await }`).
    ///
    /// [`Stop`]: crate::Stop
    pub async fn run(self: Arc<Self>, stopped: impl Future<Output = ()>) {
        tokio::pin!(stopped);
        loop {
            let next = tokio::select! {
                _ = &mut stopped => return,
                outcome = self.refresh(Duration::ZERO) => match outcome {
                    Refresh::Failed(_) => self.schedule.refresh_every.min(MAX_RETRY),
                    Refresh::Fetched | Refresh::Skipped => self.schedule.refresh_every,
                },
            };
            tokio::select! {
                _ = &mut stopped => return,
                _ = tokio::time::sleep(next) => {}
            }
        }
    }
}
