//! The in-process store: bounded, entries expire after the step's TTL.
//!
//! Every entry of one step lives exactly `ttl`, so insertion order is expiry
//! order: a queue of (key, expiry) finds the expired entries at its front, and
//! when the store is full the entry dropped is the one closest to expiring.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{chain::cache::CacheKey, model::StepOutcome};

/// One step's in-memory entries.
pub(super) struct MemoryStore {
    ttl: Duration,
    max_entries: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<CacheKey, (Instant, Arc<StepOutcome>)>,
    /// Insertion order; an item whose expiry no longer matches its entry is stale.
    order: VecDeque<(CacheKey, Instant)>,
}

impl MemoryStore {
    /// A store keeping at most `max_entries` (at least one) for `ttl` each.
    pub(super) fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries: max_entries.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The fresh entry for `key`, if any.
    pub(super) fn get(&self, key: &CacheKey, now: Instant) -> Option<Arc<StepOutcome>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.entries.get(key) {
            Some((expires, outcome)) if *expires > now => Some(Arc::clone(outcome)),
            _ => None,
        }
    }

    /// Keeps `outcome` under `key` until `now + ttl`; returns how many live
    /// entries were evicted to make room (expired ones are dropped silently).
    pub(super) fn put(&self, key: CacheKey, outcome: StepOutcome, now: Instant) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.drop_expired(now);
        let mut evicted = 0;
        while !inner.entries.contains_key(&key) && inner.entries.len() >= self.max_entries {
            if inner.pop_oldest() {
                evicted += 1;
            }
        }
        let expires = now + self.ttl;
        inner.entries.insert(key, (expires, Arc::new(outcome)));
        inner.order.push_back((key, expires));
        // Stale queue items (keys stored again) are bounded by the live ones.
        if inner.order.len() > 2 * self.max_entries {
            let Inner { entries, order } = &mut *inner;
            order.retain(|(k, e)| entries.get(k).is_some_and(|(live, _)| live == e));
        }
        evicted
    }

    /// How many entries are held (expired ones included until the next put).
    #[cfg(test)]
    fn len(&self) -> usize {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.entries.len()
    }
}

impl Inner {
    fn drop_expired(&mut self, now: Instant) {
        while let Some(&(key, expires)) = self.order.front() {
            if expires > now {
                break;
            }
            self.order.pop_front();
            self.remove_if_current(key, expires);
        }
    }

    /// Drops the oldest live entry; false if the front item was stale.
    fn pop_oldest(&mut self) -> bool {
        match self.order.pop_front() {
            Some((key, expires)) => self.remove_if_current(key, expires),
            None => false,
        }
    }

    fn remove_if_current(&mut self, key: CacheKey, expires: Instant) -> bool {
        if self.entries.get(&key).is_some_and(|(e, _)| *e == expires) {
            self.entries.remove(&key);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> CacheKey {
        CacheKey([n; 32])
    }

    fn outcome(status: u16) -> StepOutcome {
        StepOutcome {
            status,
            ..StepOutcome::default()
        }
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let store = MemoryStore::new(Duration::from_secs(10), 10);
        let t0 = Instant::now();
        store.put(key(1), outcome(1), t0);
        assert_eq!(
            store
                .get(&key(1), t0 + Duration::from_secs(9))
                .map(|o| o.status),
            Some(1)
        );
        assert!(store.get(&key(1), t0 + Duration::from_secs(10)).is_none());
        store.put(key(2), outcome(2), t0 + Duration::from_secs(11));
        assert_eq!(
            store.len(),
            1,
            "the expired entry is dropped on the next put"
        );
    }

    #[test]
    fn a_full_store_evicts_the_oldest_and_counts_it() {
        let store = MemoryStore::new(Duration::from_secs(60), 2);
        let t0 = Instant::now();
        assert_eq!(store.put(key(1), outcome(1), t0), 0);
        assert_eq!(store.put(key(2), outcome(2), t0), 0);
        assert_eq!(store.put(key(3), outcome(3), t0), 1);
        assert!(store.get(&key(1), t0).is_none());
        assert!(store.get(&key(3), t0).is_some());
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn storing_a_key_again_renews_it_without_growing() {
        let store = MemoryStore::new(Duration::from_secs(10), 3);
        let t0 = Instant::now();
        for i in 0..100u64 {
            store.put(key(1), outcome(i as u16), t0 + Duration::from_millis(i));
        }
        assert_eq!(store.len(), 1);
        assert!(store.inner.lock().unwrap().order.len() <= 6);
        // The renewed entry outlives the first expiry.
        let late = t0 + Duration::from_millis(10_050);
        assert_eq!(store.get(&key(1), late).map(|o| o.status), Some(99));
    }
}
