//! Config errors name the field.

use serde_json::json;

use super::refused;

#[test]
fn url_and_method_are_checked() {
    assert!(refused(json!({})).contains("missing field `url`"));
    let msg = refused(json!({"url": "ftp://auth/check"}));
    assert!(msg.starts_with("url:"), "{msg}");
    let msg = refused(json!({"url": "/relative"}));
    assert!(msg.starts_with("url:"), "{msg}");
    let msg = refused(json!({"url": "http://auth/", "method": "GE T"}));
    assert!(msg.starts_with("method:"), "{msg}");
}

#[test]
fn header_lists_are_checked() {
    let msg = refused(json!({"url": "http://auth/", "forwardHeaders": ["ok", "bad header"]}));
    assert!(msg.starts_with("forwardHeaders[1]:"), "{msg}");
    let msg = refused(json!({"url": "http://auth/", "forwardHeaders": ["Host"]}));
    assert!(msg.contains("describes the connection"), "{msg}");
    let msg = refused(json!({"url": "http://auth/", "copyHeadersOnAllow": ["content-length"]}));
    assert!(msg.starts_with("copyHeadersOnAllow[0]:"), "{msg}");
}

#[test]
fn statuses_cache_and_failure_mode_are_checked() {
    let msg = refused(json!({"url": "http://auth/", "allowedStatus": []}));
    assert!(msg.starts_with("allowedStatus"), "{msg}");
    let msg = refused(json!({"url": "http://auth/", "allowedStatus": [200, 42]}));
    assert!(msg.contains("42"), "{msg}");
    let msg =
        refused(json!({"url": "http://auth/", "cache": {"ttlSeconds": 0, "keyHeaders": ["a"]}}));
    assert!(msg.starts_with("cache.ttlSeconds"), "{msg}");
    let msg = refused(json!({"url": "http://auth/", "cache": {"ttlSeconds": 5, "keyHeaders": []}}));
    assert!(msg.starts_with("cache.keyHeaders"), "{msg}");
    let msg = refused(json!({"url": "http://auth/", "cache": {"ttlSeconds": 5}}));
    assert!(
        msg.starts_with("cache: missing field `keyHeaders`"),
        "{msg}"
    );
    let msg = refused(json!({"url": "http://auth/", "failureMode": "maybe"}));
    assert!(
        msg.starts_with("failureMode: unknown variant `maybe`"),
        "{msg}"
    );
    let msg = refused(json!({"url": "http://auth/", "timeoutMs": 0}));
    assert!(msg.starts_with("timeoutMs"), "{msg}");
}
