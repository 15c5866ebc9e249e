//! The allow-decision cache: keyed on a SHA-256 of the chosen request headers
//! (so credentials are not kept in memory), entries live for the TTL, and the
//! number of entries is bounded.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use gatehouse_plugin_sdk::Request;
use ring::digest::{Context, SHA256};

use crate::config::CacheSettings;

/// A cache key: SHA-256 of the key headers' names and values.
pub type CacheKey = [u8; 32];

/// Headers to set upstream, as a cached allow remembers them.
pub type Headers = Vec<(String, String)>;

struct Entry {
    expires: Instant,
    headers: Headers,
}

/// Allow decisions by cache key.
pub struct AllowCache {
    settings: CacheSettings,
    entries: Mutex<HashMap<CacheKey, Entry>>,
}

impl AllowCache {
    /// An empty cache.
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            settings,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The key of `request`, or None when it carries none of the key headers
    /// (such requests are never cached: they would all share one entry).
    pub fn key(&self, request: &Request) -> Option<CacheKey> {
        let mut digest = Context::new(&SHA256);
        let mut any = false;
        for name in &self.settings.key_headers {
            digest.update(name.as_str().as_bytes());
            digest.update(&[0]);
            for value in request.headers(name.as_str()) {
                any = true;
                digest.update(&(value.len() as u64).to_be_bytes());
                digest.update(value.as_bytes());
            }
            digest.update(&[0xff]);
        }
        if !any {
            return None;
        }
        if self.settings.include_path {
            for part in [request.method(), request.path()] {
                digest.update(&(part.len() as u64).to_be_bytes());
                digest.update(part.as_bytes());
            }
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(digest.finish().as_ref());
        Some(key)
    }

    /// The headers of a live allow for `key`.
    pub fn get(&self, key: &CacheKey) -> Option<Headers> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some(e) if e.expires > Instant::now() => Some(e.headers.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers an allow for `key`. When full, expired entries go first, then
    /// the one closest to expiry.
    pub fn put(&self, key: CacheKey, headers: Headers) {
        let now = Instant::now();
        let mut entries = self.lock();
        if entries.len() >= self.settings.max_entries && !entries.contains_key(&key) {
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= self.settings.max_entries {
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| *k)
                {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(
            key,
            Entry {
                expires: now + self.settings.ttl,
                headers,
            },
        );
    }

    /// How many entries are held (live or not yet evicted).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True if no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry lifetime.
    pub fn ttl(&self) -> Duration {
        self.settings.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
