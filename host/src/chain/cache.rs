//! The chain's view of a per-step decision cache (`cache:` on a config entry).
//!
//! The chain asks the step's cache before calling the plugin: a hit replays the
//! step's recorded outcome (decision, headers, state) without calling it; a miss
//! calls the plugin and offers the outcome to the cache. Errors, panics and
//! timeouts are never offered, so a failure is never replayed. How keys are made
//! and where entries live (memory, Redis) is the cache's business
//! (`crate::cache`); the chain only sees this trait.

use futures::future::BoxFuture;

use crate::model::{Request, State, StepOutcome};

/// A step's decision cache.
pub trait StepCache: Send + Sync {
    /// Looks up the entry for this request and state. Never fails: a cache that
    /// cannot answer (its backend is down) answers [`Lookup::Miss`], so the
    /// plugin decides; a cache is never a reason to allow.
    fn lookup<'a>(&'a self, request: &'a Request, state: &'a State) -> BoxFuture<'a, Lookup>;

    /// Offers the outcome the plugin gave for a missed `key`; the cache keeps it
    /// if it wants to (denials only with `cacheDenials`). Returns how many
    /// entries it evicted to make room.
    fn store(&self, key: CacheKey, outcome: &StepOutcome) -> u64;
}

/// What a lookup found.
pub enum Lookup {
    /// The outcome recorded for this key, still fresh.
    Hit(StepOutcome),
    /// Nothing (or nothing usable): call the plugin and offer its outcome under this key.
    Miss(CacheKey),
}

/// A cache key: a keyed hash of the step's identity and the request parts
/// its `key:` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey(pub [u8; 32]);

/// A cache event, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheEvent {
    /// A lookup found a fresh entry: the plugin was not called.
    Hit,
    /// A lookup found nothing: the plugin was called.
    Miss,
    /// An entry was dropped before its time to make room.
    Eviction,
}

impl CacheEvent {
    /// A short label (`hit`, `miss`, `eviction`).
    pub fn as_str(self) -> &'static str {
        match self {
            CacheEvent::Hit => "hit",
            CacheEvent::Miss => "miss",
            CacheEvent::Eviction => "eviction",
        }
    }
}
