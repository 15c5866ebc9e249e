//! Callouts against a local server: allow, deny, failures, the cache.

use std::time::{Duration, Instant};

use gatehouse_plugin_sdk::{
    testing::{request, request_to},
    Decision, Response,
};
use serde_json::{json, Value};

use super::plugin;
use crate::{decision::UNAVAILABLE, HttpCallout};
use gatehouse_tests::http_server::{Reply, TestServer};

fn callout(server: &TestServer, extra: Value) -> HttpCallout {
    let mut config = json!({
        "url": server.url("/check"),
        "timeoutMs": 300,
        "copyHeadersOnAllow": ["x-user-id"],
        "copyHeadersOnDeny": ["www-authenticate"],
    });
    if let (Some(c), Value::Object(extra)) = (config.as_object_mut(), extra) {
        c.extend(extra);
    }
    plugin(config)
}

fn set_headers(r: &Response) -> Vec<(String, String)> {
    r.request_headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_string()))
        .collect()
}

#[tokio::test]
async fn allow_copies_headers_and_forwards_the_chosen_ones() {
    let server = TestServer::start(Reply::ok("").header("x-user-id", "u-1")).await;
    let p = callout(
        &server,
        json!({"pathHeader": "x-original-uri", "methodHeader": "x-original-method"}),
    );
    let r = p
        .decide(&request_to(
            "/orders?id=3",
            &[
                ("authorization", "Bearer t"),
                ("cookie", "a=1"),
                ("x-secret", "not forwarded"),
            ],
        ))
        .await;
    assert_eq!(r.decision, Decision::Allow);
    assert_eq!(
        set_headers(&r),
        [("x-user-id".to_string(), "u-1".to_string())]
    );
    let seen = &server.seen()[0];
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("GET", "/check")
    );
    assert_eq!(seen.header("authorization"), Some("Bearer t"));
    assert_eq!(seen.header("cookie"), Some("a=1"));
    assert_eq!(seen.header("x-secret"), None);
    assert_eq!(seen.header("x-original-uri"), Some("/orders?id=3"));
    assert_eq!(seen.header("x-original-method"), Some("GET"));
}

#[tokio::test]
async fn allow_without_the_header_removes_it_upstream() {
    let server = TestServer::start(Reply::ok("")).await;
    let p = callout(
        &server,
        json!({"method": "POST", "allowedStatus": [200, 204]}),
    );
    server.set_reply(Reply::status(204, ""));
    let r = p.decide(&request(&[("x-user-id", "spoofed")])).await;
    assert_eq!(r.decision, Decision::Allow);
    assert!(r.request_headers.is_empty());
    assert_eq!(r.remove_request_headers[0], "x-user-id");
    assert_eq!(server.seen()[0].method, "POST");
}

#[tokio::test]
async fn deny_passes_on_status_body_and_chosen_headers() {
    let server = TestServer::start(
        Reply::status(401, "who are you?")
            .header("www-authenticate", "Bearer realm=\"x\"")
            .header("x-internal", "no"),
    )
    .await;
    let p = callout(&server, json!({}));
    let r = p.decide(&request(&[])).await;
    assert_eq!(
        (r.decision, r.status, r.body.as_str()),
        (Decision::Deny, 401, "who are you?")
    );
    let headers: Vec<(&str, &str)> = r
        .response_headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .collect();
    assert_eq!(headers, [("www-authenticate", "Bearer realm=\"x\"")]);
    server.set_reply(Reply::status(403, "no"));
    assert_eq!(p.decide(&request(&[])).await.status, 403);
    server.set_reply(Reply::status(302, "").header("location", "/login"));
    assert_eq!(p.decide(&request(&[])).await.status, 302);
    server.set_reply(Reply::status(201, ""));
    assert_eq!(p.decide(&request(&[])).await.status, 403, "unlisted 2xx");
}

#[tokio::test]
async fn server_errors_timeouts_and_refusals_fail_closed() {
    let server = TestServer::start(Reply::status(503, "oops")).await;
    let p = callout(&server, json!({}));
    let r = p.decide(&request(&[])).await;
    assert_eq!(
        (r.decision, r.status, r.body.as_str()),
        (Decision::Deny, 403, UNAVAILABLE)
    );

    server.set_reply(Reply::ok("").delay(Duration::from_secs(3)));
    let started = Instant::now();
    let r = p.decide(&request(&[])).await;
    assert_eq!((r.decision, r.status), (Decision::Deny, 403));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "timeout bounds the callout"
    );

    let url = server.url("/check");
    drop(server);
    let p = plugin(json!({"url": url, "timeoutMs": 300}));
    let r = p.decide(&request(&[])).await;
    assert_eq!(
        (r.decision, r.status, r.body.as_str()),
        (Decision::Deny, 403, UNAVAILABLE)
    );
    assert_eq!(p.failures(), 1);
}

#[tokio::test]
async fn failure_mode_allow_fails_open_without_copied_headers() {
    let server = TestServer::start(Reply::status(500, "")).await;
    let p = callout(&server, json!({"failureMode": "allow"}));
    let r = p.decide(&request(&[("x-user-id", "spoofed")])).await;
    assert_eq!(r.decision, Decision::Allow);
    assert_eq!(r.remove_request_headers[0], "x-user-id");
    server.set_reply(Reply::status(401, ""));
    assert_eq!(
        p.decide(&request(&[])).await.decision,
        Decision::Deny,
        "a real deny still denies"
    );
}

#[tokio::test]
async fn allows_are_cached_per_key_until_the_ttl() {
    let server = TestServer::start(Reply::ok("").header("x-user-id", "u-1")).await;
    let p = callout(
        &server,
        json!({"cache": {"ttlSeconds": 1, "keyHeaders": ["authorization"]}}),
    );
    let alice = request(&[("authorization", "Bearer alice")]);
    for _ in 0..5 {
        let r = p.decide(&alice).await;
        assert_eq!(
            set_headers(&r),
            [("x-user-id".to_string(), "u-1".to_string())]
        );
    }
    assert_eq!(server.hits(), 1, "one callout for five requests");
    p.decide(&request(&[("authorization", "Bearer bob")])).await;
    assert_eq!(server.hits(), 2, "another key asks again");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    p.decide(&alice).await;
    assert_eq!(server.hits(), 3, "expired entry asks again");
}

#[tokio::test]
async fn denials_failures_and_keyless_requests_are_not_cached() {
    let server = TestServer::start(Reply::status(401, "")).await;
    let p = callout(
        &server,
        json!({"cache": {"ttlSeconds": 60, "keyHeaders": ["authorization"]}}),
    );
    let alice = request(&[("authorization", "Bearer alice")]);
    p.decide(&alice).await;
    server.set_reply(Reply::status(503, ""));
    p.decide(&alice).await;
    server.set_reply(Reply::ok(""));
    assert_eq!(p.decide(&alice).await.decision, Decision::Allow);
    assert_eq!(server.hits(), 3);
    p.decide(&request(&[])).await;
    p.decide(&request(&[])).await;
    assert_eq!(server.hits(), 5);
    assert_eq!(p.cache().map(|c| c.len()), Some(1));
}

#[tokio::test]
async fn https_urls_go_through_tls() {
    // A plain-HTTP server never completes a TLS handshake: the callout fails
    // (closed) instead of talking cleartext.
    let server = TestServer::start(Reply::ok("")).await;
    let url = server.url("/check").replace("http://", "https://");
    let p = plugin(json!({"url": url, "timeoutMs": 300}));
    let r = p.decide(&request(&[])).await;
    assert_eq!(
        (r.decision, r.status, r.body.as_str()),
        (Decision::Deny, 403, UNAVAILABLE)
    );
    assert_eq!(p.failures(), 1);
}
