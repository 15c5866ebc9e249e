//! The YAML shape of a config entry's `cache:` and its checks.

use std::time::Duration;

use serde::Deserialize;

use crate::cache::{CacheSpec, KeyPart};

/// Longest `ttlSeconds` accepted: a day. A replayed decision outlives a
/// revoked credential by up to this long, so it is bounded.
const MAX_TTL_SECONDS: u64 = 86_400;
/// Most `maxEntries` accepted per step.
const MAX_ENTRIES: usize = 1_000_000;
/// `maxEntries` when not given.
const DEFAULT_ENTRIES: usize = 10_000;

/// `cache:` on a config entry, as written.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CacheDocument {
    ttl_seconds: u64,
    key: Vec<String>,
    #[serde(default)]
    max_entries: Option<usize>,
    #[serde(default)]
    cache_denials: bool,
}

/// Checks `cache:`; errors start with the field under `cache`.
pub(super) fn compile(doc: CacheDocument) -> Result<CacheSpec, String> {
    if doc.ttl_seconds == 0 || doc.ttl_seconds > MAX_TTL_SECONDS {
        return Err(format!(
            "cache.ttlSeconds: {} is out of range (1 to {MAX_TTL_SECONDS})",
            doc.ttl_seconds
        ));
    }
    if doc.key.is_empty() {
        return Err(
            "cache.key: name at least one request part the decision depends on \
             (an empty key would replay one request's decision for every request)"
                .into(),
        );
    }
    let key = doc
        .key
        .iter()
        .enumerate()
        .map(|(i, part)| KeyPart::parse(part).map_err(|e| format!("cache.key[{i}]: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let max_entries = doc.max_entries.unwrap_or(DEFAULT_ENTRIES);
    if max_entries == 0 || max_entries > MAX_ENTRIES {
        return Err(format!(
            "cache.maxEntries: {max_entries} is out of range (1 to {MAX_ENTRIES})"
        ));
    }
    Ok(CacheSpec {
        ttl: Duration::from_secs(doc.ttl_seconds),
        key,
        max_entries,
        cache_denials: doc.cache_denials,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::parse_documents;

    fn error(cache: &str) -> String {
        let text = format!(
            "kind: AuthConfig\nmetadata: {{name: x}}\nspec:\n  configs:\n  - cache: {cache}\n    pluginAuth: {{name: a, pluginFileName: a.so, exportedSymbolName: A}}\n"
        );
        parse_documents(&text, "c.yaml").unwrap_err().to_string()
    }

    #[test]
    fn bad_cache_settings_name_their_field() {
        for (cache, message) in [
            (
                "{ttlSeconds: 0, key: [path]}",
                "spec.configs[0].cache.ttlSeconds: 0 is out of range",
            ),
            (
                "{ttlSeconds: 90000, key: [path]}",
                "cache.ttlSeconds: 90000 is out of range",
            ),
            (
                "{ttlSeconds: 5, key: []}",
                "spec.configs[0].cache.key: name at least one",
            ),
            (
                "{ttlSeconds: 5, key: [path, 'cookie:x']}",
                "spec.configs[0].cache.key[1]: 'cookie:x' is not a key part",
            ),
            (
                "{ttlSeconds: 5, key: [path], maxEntries: 0}",
                "cache.maxEntries: 0 is out of range",
            ),
            (
                "{ttlSeconds: 5, key: [path], ttl: 3}",
                "unknown field `ttl`",
            ),
            ("{key: [path]}", "missing field `ttlSeconds`"),
        ] {
            let e = error(cache);
            assert!(e.starts_with("c.yaml, document 1: spec.configs[0]"), "{e}");
            assert!(e.contains(message), "{cache}: {e}");
        }
    }

    #[test]
    fn a_cache_entry_loads_with_defaults() {
        let text = "kind: AuthConfig\nmetadata: {name: x}\nspec:\n  configs:\n  - cache: {ttlSeconds: 30, key: ['header:Authorization', 'state:user']}\n    pluginAuth: {name: a, pluginFileName: a.so, exportedSymbolName: A}\n";
        let configs = parse_documents(text, "c.yaml").unwrap();
        let spec = configs[0].steps[0].cache.as_ref().expect("cache");
        assert_eq!(spec.ttl.as_secs(), 30);
        assert_eq!(spec.max_entries, super::DEFAULT_ENTRIES);
        assert!(!spec.cache_denials);
        assert_eq!(spec.key.len(), 2);
    }
}
