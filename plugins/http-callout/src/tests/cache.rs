//! Cache keys, lifetime and bound.

use std::time::Duration;

use gatehouse_plugin_sdk::http::hyper::header::HeaderName;

use crate::{cache::AllowCache, config::CacheSettings};
use gatehouse_plugin_sdk::testing::request_to;

fn cache(ttl: Duration, max_entries: usize, include_path: bool) -> AllowCache {
    AllowCache::new(CacheSettings {
        ttl,
        key_headers: vec![
            HeaderName::from_static("authorization"),
            HeaderName::from_static("x-tenant"),
        ],
        include_path,
        max_entries,
    })
}

#[test]
fn keys_depend_on_the_key_headers_only() {
    let c = cache(Duration::from_secs(60), 10, false);
    let a = c.key(&request_to(
        "/a",
        &[("authorization", "Bearer 1"), ("x-other", "1")],
    ));
    let b = c.key(&request_to(
        "/b",
        &[("Authorization", "Bearer 1"), ("x-other", "2")],
    ));
    assert!(a.is_some());
    assert_eq!(a, b);
    let other = c.key(&request_to("/a", &[("authorization", "Bearer 2")]));
    assert_ne!(a, other);
    // The same value under another key header is another key.
    let moved = c.key(&request_to("/a", &[("x-tenant", "Bearer 1")]));
    assert_ne!(a, moved);
    assert_eq!(c.key(&request_to("/a", &[("x-other", "1")])), None);
}

#[test]
fn include_path_adds_method_and_path() {
    let c = cache(Duration::from_secs(60), 10, true);
    let a = c.key(&request_to("/a", &[("authorization", "t")]));
    let b = c.key(&request_to("/b", &[("authorization", "t")]));
    assert_ne!(a, b);
}

#[test]
fn entries_expire() {
    let c = cache(Duration::from_millis(50), 10, false);
    let key = [1u8; 32];
    c.put(key, vec![("x-user".into(), "u".into())]);
    assert_eq!(c.get(&key), Some(vec![("x-user".into(), "u".into())]));
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(c.get(&key), None);
    assert!(c.is_empty(), "expired entry dropped on lookup");
}

#[test]
fn size_is_bounded() {
    let c = cache(Duration::from_secs(60), 3, false);
    for i in 0..10u8 {
        c.put([i; 32], Vec::new());
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(c.len(), 3);
    assert!(c.get(&[9; 32]).is_some(), "newest kept");
    assert!(c.get(&[0; 32]).is_none(), "oldest evicted");
}
