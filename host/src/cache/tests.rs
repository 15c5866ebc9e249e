//! A cached step inside a real chain: hits skip the plugin and replay its
//! effects; denials, failures and other keys are not replayed; a reload keeps
//! the entries of an unchanged step only.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use futures::future::BoxFuture;

use super::*;
use crate::{
    chain::{Chain, ChainStep, Limits, NoObserver, Step, StepError, StepInput, StepOptions},
    model::{Decision, HeaderOp},
};

/// Allows requests with `authorization: good` (setting a header and a state
/// entry), denies others, fails on `authorization: fail`; counts its calls.
struct Checker(Arc<AtomicUsize>);

impl Step for Checker {
    fn authorize<'a>(
        &'a self,
        input: StepInput<'a>,
    ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let credential = input
            .request()
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.clone());
        Box::pin(async move {
            match credential.as_deref() {
                Some("good") => Ok(StepOutcome {
                    allow: true,
                    request_headers: vec![HeaderOp {
                        name: "x-user".into(),
                        value: "alice".into(),
                        action: Default::default(),
                    }],
                    state_set: vec![("user".into(), "alice".into())],
                    ..StepOutcome::default()
                }),
                Some("fail") => Err(StepError::Plugin("backend down".into())),
                _ => Ok(StepOutcome {
                    status: 401,
                    ..StepOutcome::default()
                }),
            }
        })
    }
}

fn spec(cache_denials: bool) -> CacheSpec {
    CacheSpec {
        ttl: Duration::from_secs(60),
        key: vec![KeyPart::Header("authorization".into())],
        max_entries: 100,
        cache_denials,
    }
}

fn step_config(config: serde_json::Value) -> StepConfig {
    StepConfig {
        name: "basic".into(),
        plugin_file_name: "libbasic.so".into(),
        exported_symbol_name: "Basic".into(),
        config,
        ..StepConfig::default()
    }
}

fn chain(
    caches: &Caches,
    spec: &CacheSpec,
    config: serde_json::Value,
) -> (Chain, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let step = ChainStep {
        name: "basic".into(),
        step: Arc::new(Checker(calls.clone())),
    };
    let options = StepOptions {
        cache: Some(caches.for_step("c", &step_config(config), spec)),
        ..StepOptions::default()
    };
    let chain = Chain::new("c", vec![step], Limits::default()).with_step_options(vec![options]);
    (chain, calls)
}

fn with_credential(value: &str) -> Request {
    Request {
        headers: vec![("authorization".into(), value.into())],
        ..Request::default()
    }
}

#[tokio::test]
async fn a_hit_replays_decision_headers_and_state_without_the_plugin() {
    let caches = Caches::in_memory();
    let (chain, calls) = chain(&caches, &spec(false), serde_json::Value::Null);
    let first = chain.run(&with_credential("good"), &NoObserver).await;
    let second = chain.run(&with_credential("good"), &NoObserver).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the second request is a hit"
    );
    let Decision::Allow(allowed) = &second else {
        panic!("replayed allow: {second:?}");
    };
    assert_eq!(first, second);
    assert_eq!(allowed.set_headers, vec![("x-user".into(), "alice".into())]);
    assert_eq!(allowed.state.get("user").map(String::as_str), Some("alice"));
    // Another credential is another key.
    assert!(matches!(
        chain.run(&with_credential("bad"), &NoObserver).await,
        Decision::Deny(_)
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn denials_are_replayed_only_with_cache_denials_and_failures_never() {
    for (cache_denials, calls_after_two) in [(false, 2), (true, 1)] {
        let caches = Caches::in_memory();
        let (chain, calls) = chain(&caches, &spec(cache_denials), serde_json::Value::Null);
        for _ in 0..2 {
            match chain.run(&with_credential("bad"), &NoObserver).await {
                Decision::Deny(d) => assert_eq!(d.status, 401),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            calls_after_two,
            "cacheDenials {cache_denials}"
        );
    }
    let caches = Caches::in_memory();
    let (chain, calls) = chain(&caches, &spec(true), serde_json::Value::Null);
    for _ in 0..2 {
        assert!(matches!(
            chain.run(&with_credential("fail"), &NoObserver).await,
            Decision::Deny(_)
        ));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "an error is never replayed"
    );
}

#[tokio::test]
async fn a_reload_keeps_entries_only_for_an_unchanged_step() {
    let caches = Caches::in_memory();
    let config = serde_json::json!({"users": {"alice": "hash"}});
    let (old, _) = chain(&caches, &spec(false), config.clone());
    old.run(&with_credential("good"), &NoObserver).await;
    // The new generation is built while the old one still serves.
    let (same, same_calls) = chain(&caches, &spec(false), config);
    same.run(&with_credential("good"), &NoObserver).await;
    assert_eq!(
        same_calls.load(Ordering::SeqCst),
        0,
        "unchanged step: still cached"
    );
    let (changed, changed_calls) = chain(&caches, &spec(false), serde_json::json!({"users": {}}));
    changed.run(&with_credential("good"), &NoObserver).await;
    assert_eq!(
        changed_calls.load(Ordering::SeqCst),
        1,
        "changed config: a new cache"
    );
    let longer = CacheSpec {
        ttl: Duration::from_secs(120),
        ..spec(false)
    };
    let (respecified, calls) = chain(
        &caches,
        &longer,
        serde_json::json!({"users": {"alice": "hash"}}),
    );
    respecified.run(&with_credential("good"), &NoObserver).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "changed cache settings: a new cache"
    );
}

#[tokio::test]
async fn redis_down_means_the_plugin_decides() {
    // Nothing listens on port 1: every lookup is a miss, the plugin decides.
    let caches = Caches::redis(
        "redis://127.0.0.1:1/",
        Duration::from_millis(50),
        HashSecret::random(),
    )
    .unwrap();
    let (chain, calls) = chain(&caches, &spec(true), serde_json::Value::Null);
    for credential in ["bad", "bad", "good"] {
        let decision = chain.run(&with_credential(credential), &NoObserver).await;
        assert_eq!(matches!(decision, Decision::Allow(_)), credential == "good");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
