//! A JWKS from a URL: first fetch, rotation, cooldown, failures, the loop.

use gatehouse_tests::http_server::{Reply, TestServer};
use std::{sync::Arc, time::Duration};

use gatehouse_plugin_sdk::Decision;
use serde_json::{json, Value};

use super::{bearer, plugin, run};
use gatehouse_plugin_sdk::jwt::{Fetcher, Refresh, RemoteJwks, Schedule};

use crate::{
    testkit::{claims, jwks, TestKey},
    Jwt,
};

fn serving(keys: &[&TestKey]) -> Reply {
    Reply::ok(jwks(keys).to_string()).header("content-type", "application/json")
}

fn url_plugin(server: &TestServer, extra: Value) -> Jwt {
    let mut jwks = json!({
        "url": server.url("/jwks.json"),
        "timeoutMs": 2000,
        "cooldownSeconds": 0,
        "refetchWaitMs": 2000,
    });
    if let (Some(c), Value::Object(extra)) = (jwks.as_object_mut(), extra) {
        c.extend(extra);
    }
    plugin(json!({"jwks": jwks}))
}

fn token(key: &TestKey) -> String {
    key.sign(&claims("alice", "iss", "aud"))
}

#[tokio::test]
async fn first_token_fetches_the_keys() {
    let a = TestKey::ec("a");
    let server = TestServer::start(serving(&[&a])).await;
    let p = url_plugin(&server, json!({}));
    assert_eq!(run(&p, bearer(&token(&a))).await.decision, Decision::Allow);
    assert_eq!(run(&p, bearer(&token(&a))).await.decision, Decision::Allow);
    assert_eq!(server.hits(), 1, "known kid: no second fetch");
    assert_eq!(server.seen()[0].path, "/jwks.json");
}

#[tokio::test]
async fn a_rotated_in_kid_is_picked_up() {
    let a = TestKey::rsa_shared(0, "kid-a");
    let b = TestKey::ed("kid-b");
    let server = TestServer::start(serving(&[&a])).await;
    let p = url_plugin(&server, json!({}));
    assert_eq!(run(&p, bearer(&token(&a))).await.decision, Decision::Allow);
    let r = run(&p, bearer(&token(&b))).await;
    assert_eq!((r.decision, r.status), (Decision::Deny, 401));
    assert_eq!(server.hits(), 2, "unknown kid refetched");
    server.set_reply(serving(&[&a, &b]));
    assert_eq!(run(&p, bearer(&token(&b))).await.decision, Decision::Allow);
    assert_eq!(run(&p, bearer(&token(&a))).await.decision, Decision::Allow);
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_cooldown() {
    let a = TestKey::ec("a");
    let server = TestServer::start(serving(&[&a])).await;
    let p = url_plugin(&server, json!({"cooldownSeconds": 60}));
    assert_eq!(run(&p, bearer(&token(&a))).await.decision, Decision::Allow);
    for i in 0..5 {
        let stranger = TestKey::ec(&format!("unknown-{i}"));
        assert_eq!(
            run(&p, bearer(&token(&stranger))).await.decision,
            Decision::Deny
        );
    }
    assert_eq!(server.hits(), 1);
}

fn remote(server: &TestServer, timeout: Duration) -> Arc<RemoteJwks> {
    let fetcher = Fetcher::new(&server.url("/jwks"), timeout).expect("fetcher");
    let schedule = Schedule {
        refresh_every: Duration::from_secs(1),
        cooldown: Duration::ZERO,
        refetch_wait: Duration::from_secs(2),
    };
    Arc::new(RemoteJwks::new(fetcher, schedule, None))
}

#[tokio::test]
async fn failed_fetches_keep_the_last_good_keys() {
    let a = TestKey::ec("a");
    let server = TestServer::start(serving(&[&a])).await;
    let r = remote(&server, Duration::from_millis(300));
    assert_eq!(r.refresh(Duration::ZERO).await, Refresh::Fetched);
    for reply in [
        Reply::status(500, "down"),
        Reply::ok("not json"),
        Reply::ok(r#"{"keys": []}"#),
        serving(&[&a]).delay(Duration::from_secs(2)),
    ] {
        server.set_reply(reply);
        let started = std::time::Instant::now();
        assert!(matches!(
            r.refresh(Duration::ZERO).await,
            Refresh::Failed(_)
        ));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "bounded by the timeout"
        );
        assert!(r.keys().has_kid("a"), "last good keys kept");
    }
    assert_eq!(r.stats(), (5, 4));
}

#[tokio::test]
async fn https_urls_go_through_tls() {
    let server = TestServer::start(serving(&[&TestKey::ec("a")])).await;
    let url = server.url("/jwks").replace("http://", "https://");
    let fetcher = Fetcher::new(&url, Duration::from_millis(300)).expect("fetcher");
    assert!(fetcher.get().await.is_err(), "no cleartext fallback");
}

#[tokio::test]
async fn unreachable_url_fails_cleanly() {
    let server = TestServer::start(Reply::ok("")).await;
    let url = server.url("/jwks");
    drop(server);
    let fetcher = Fetcher::new(&url, Duration::from_millis(300)).expect("fetcher");
    assert!(fetcher.get().await.is_err());
    assert!(Fetcher::new("http://", Duration::from_secs(1)).is_err());
}

#[tokio::test]
async fn the_loop_refreshes_until_stopped() {
    let a = TestKey::ec("a");
    let server = TestServer::start(serving(&[&a])).await;
    let r = remote(&server, Duration::from_millis(300));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(Arc::clone(&r).run(async move {
        let _ = stopped.await;
    }));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.hits() < 2 {
        assert!(std::time::Instant::now() < deadline, "no second fetch");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("loop ended on stop")
        .expect("no panic");
    let hits = server.hits();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(server.hits(), hits, "no fetch after stop");
}
