//! Per-step decision caches (`cache:` on a config entry): which request parts
//! make the key ([`key`]), and where entries live — in this process
//! ([`memory`]) or, with `--cache-redis-url`, in a Redis that many replicas
//! share ([`redis`]).
//!
//! ```yaml
//! - name: basic
//!   cache: {ttlSeconds: 60, key: ["header:authorization"], maxEntries: 10000}
//!   pluginAuth: {name: basic, pluginFileName: libbasic_auth.so, exportedSymbolName: BasicAuth}
//! ```
//!
//! An entry belongs to one step of one auth config: its key also hashes the
//! config id, the step's name, plugin file, symbol, plugin config and cache
//! settings. A reload that leaves all of those unchanged keeps the step's
//! entries; any change starts it empty.

pub mod key;
mod memory;
mod redis;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use futures::{future::BoxFuture, FutureExt};
use sha2::{Digest, Sha256};

use crate::{
    chain::cache::{CacheKey, Lookup, StepCache},
    config::StepConfig,
    model::{Request, State, StepOutcome},
};
pub use key::{HashSecret, KeyPart};
use memory::MemoryStore;
use redis::RedisStore;

/// A step's `cache:` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheSpec {
    /// `ttlSeconds`: how long an outcome is replayed.
    pub ttl: Duration,
    /// `key`: the request parts the step's decision depends on.
    pub key: Vec<KeyPart>,
    /// `maxEntries` (memory store): the most entries kept; the oldest go first.
    pub max_entries: usize,
    /// `cacheDenials`: replay denials too (default: only allows are kept).
    pub cache_denials: bool,
}

/// The host's caches: where entries live, the hash secret, and the memory
/// stores of the steps currently configured (kept across reloads).
pub struct Caches {
    secret: HashSecret,
    redis: Option<Arc<RedisStore>>,
    memory: Mutex<HashMap<[u8; 32], Weak<MemoryStore>>>,
}

impl Caches {
    /// Caches in this process's memory, under a random secret.
    pub fn in_memory() -> Self {
        Self {
            secret: HashSecret::random(),
            redis: None,
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// Caches in the Redis at `url`, every call bounded by `timeout`; hosts
    /// sharing the Redis must share `secret`.
    pub fn redis(url: &str, timeout: Duration, secret: HashSecret) -> Result<Self, String> {
        let store = RedisStore::new(url, timeout, secret.clone())?;
        Ok(Self {
            secret,
            redis: Some(Arc::new(store)),
            memory: Mutex::new(HashMap::new()),
        })
    }

    /// The cache of step `step` of auth config `config_id`.
    pub fn for_step(
        &self,
        config_id: &str,
        step: &StepConfig,
        spec: &CacheSpec,
    ) -> Arc<dyn StepCache> {
        let identity = identity(config_id, step, spec);
        let store = match &self.redis {
            Some(redis) => Store::Redis(Arc::clone(redis)),
            None => Store::Memory(self.memory_store(identity, spec)),
        };
        Arc::new(CachedStep {
            identity,
            spec: spec.clone(),
            secret: self.secret.clone(),
            store,
        })
    }

    /// The memory store for a step identity: the live one if an earlier
    /// configuration has it, else a new one.
    fn memory_store(&self, identity: [u8; 32], spec: &CacheSpec) -> Arc<MemoryStore> {
        let mut stores = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(live) = stores.get(&identity).and_then(Weak::upgrade) {
            return live;
        }
        let store = Arc::new(MemoryStore::new(spec.ttl, spec.max_entries));
        if stores.len() >= 1024 && stores.len().is_power_of_two() {
            stores.retain(|_, weak| weak.strong_count() > 0);
        }
        stores.insert(identity, Arc::downgrade(&store));
        store
    }
}

/// What makes a step's entries its own: everything that could change its answer.
fn identity(config_id: &str, step: &StepConfig, spec: &CacheSpec) -> [u8; 32] {
    let mut hash = Sha256::new();
    let fields = [
        config_id.to_string(),
        step.name.clone(),
        step.plugin_file_name.clone(),
        step.exported_symbol_name.clone(),
        step.config.to_string(),
        format!("{spec:?}"),
    ];
    for field in fields {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    hash.finalize().into()
}

enum Store {
    Memory(Arc<MemoryStore>),
    Redis(Arc<RedisStore>),
}

/// One step's cache, as the chain uses it.
struct CachedStep {
    identity: [u8; 32],
    spec: CacheSpec,
    secret: HashSecret,
    store: Store,
}

impl StepCache for CachedStep {
    fn lookup<'a>(&'a self, request: &'a Request, state: &'a State) -> BoxFuture<'a, Lookup> {
        let key = key::key_of(&self.secret, &self.identity, &self.spec.key, request, state);
        match &self.store {
            Store::Memory(memory) => {
                let found = memory.get(&key, Instant::now());
                futures::future::ready(match found {
                    Some(outcome) => Lookup::Hit(StepOutcome::clone(&outcome)),
                    None => Lookup::Miss(key),
                })
                .boxed()
            }
            Store::Redis(redis) => async move {
                match redis.get(&key).await {
                    Some(outcome) => Lookup::Hit(outcome),
                    None => Lookup::Miss(key),
                }
            }
            .boxed(),
        }
    }

    fn store(&self, key: CacheKey, outcome: &StepOutcome) -> u64 {
        if !outcome.allow && !self.spec.cache_denials {
            return 0;
        }
        match &self.store {
            Store::Memory(memory) => memory.put(key, outcome.clone(), Instant::now()),
            Store::Redis(redis) => {
                redis.put(key, outcome, self.spec.ttl);
                0
            }
        }
    }
}

#[cfg(test)]
mod tests;
