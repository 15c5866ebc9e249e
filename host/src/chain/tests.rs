use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::model::{AppendAction, HeaderOp};

/// A step scripted by a closure over the state it receives.
struct Scripted<F>(F, Arc<AtomicUsize>);

impl<F> Step for Scripted<F>
where
    F: Fn(&State) -> Result<StepOutcome, StepError> + Send + Sync,
{
    fn authorize<'a>(
        &'a self,
        input: StepInput<'a>,
    ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        self.1.fetch_add(1, Ordering::SeqCst);
        let result = (self.0)(input.state());
        Box::pin(async move { result })
    }
}

fn step<F>(name: &str, f: F) -> (ChainStep, Arc<AtomicUsize>)
where
    F: Fn(&State) -> Result<StepOutcome, StepError> + Send + Sync + 'static,
{
    let calls = Arc::new(AtomicUsize::new(0));
    (
        ChainStep {
            name: name.into(),
            step: Arc::new(Scripted(f, calls.clone())),
        },
        calls,
    )
}

fn allow() -> StepOutcome {
    StepOutcome {
        allow: true,
        ..Default::default()
    }
}

/// A step that sleeps, then allows.
struct Sleeps(Duration);

impl Step for Sleeps {
    fn authorize<'a>(
        &'a self,
        _input: StepInput<'a>,
    ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async move {
            tokio::time::sleep(self.0).await;
            Ok(allow())
        })
    }
}

fn sleeps(name: &str, millis: u64) -> ChainStep {
    ChainStep {
        name: name.into(),
        step: Arc::new(Sleeps(Duration::from_millis(millis))),
    }
}

fn header(name: &str, value: &str, action: AppendAction) -> HeaderOp {
    HeaderOp {
        name: name.into(),
        value: value.into(),
        action,
    }
}

#[tokio::test]
async fn state_flows_and_first_deny_stops() {
    let (first, _) = step("first", |_| {
        Ok(StepOutcome {
            state_set: vec![("user".into(), "alice".into())],
            ..allow()
        })
    });
    let (second, _) = step("second", |state| {
        Ok(if state.get("user").map(String::as_str) == Some("alice") {
            StepOutcome {
                status: 418,
                body: "saw alice".into(),
                ..Default::default()
            }
        } else {
            allow()
        })
    });
    let (third, third_calls) = step("third", |_| Ok(allow()));
    let chain = Chain::new("c", vec![first, second, third], Limits::default());
    match chain.run(&Request::default(), &NoObserver).await {
        Decision::Deny(d) => assert_eq!((d.status, d.body.as_str()), (418, "saw alice")),
        other => panic!("expected deny, got {other:?}"),
    }
    assert_eq!(
        third_calls.load(Ordering::SeqCst),
        0,
        "a step after a deny must not run"
    );
}

#[tokio::test]
async fn allow_merges_headers_state_and_user() {
    let (a, _) = step("a", |_| {
        Ok(StepOutcome {
            request_headers: vec![header("one", "bar", AppendAction::OverwriteIfExistsOrAdd)],
            user_id: Some("alice".into()),
            state_set: vec![("k".into(), "1".into()), ("gone".into(), "x".into())],
            ..allow()
        })
    });
    let (b, _) = step("b", |_| {
        Ok(StepOutcome {
            request_headers: vec![
                header("one", "baz", AppendAction::AppendIfExistsOrAdd),
                header("two", "asd", AppendAction::OverwriteIfExistsOrAdd),
            ],
            remove_request_headers: vec!["drop-me".into()],
            state_remove: vec!["gone".into()],
            ..allow()
        })
    });
    let request = Request {
        headers: vec![("one".into(), "foo".into()), ("drop-me".into(), "1".into())],
        ..Default::default()
    };
    let Decision::Allow(allowed) = Chain::new("c", vec![a, b], Limits::default())
        .run(&request, &NoObserver)
        .await
    else {
        panic!("expected allow");
    };
    assert_eq!(
        allowed.set_headers,
        vec![
            ("one".into(), "bar, baz".into()),
            ("two".into(), "asd".into())
        ]
    );
    assert_eq!(allowed.remove_headers, vec!["drop-me".to_string()]);
    assert_eq!(allowed.user_id.as_deref(), Some("alice"));
    assert_eq!(
        allowed.state.into_iter().collect::<Vec<_>>(),
        vec![("k".to_string(), "1".to_string())]
    );
}

#[tokio::test]
async fn errors_panics_and_timeouts_deny() {
    struct Hangs;
    impl Step for Hangs {
        fn authorize<'a>(
            &'a self,
            _input: StepInput<'a>,
        ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
            Box::pin(futures::future::pending())
        }
    }
    struct PanicsInFuture;
    impl Step for PanicsInFuture {
        fn authorize<'a>(
            &'a self,
            _input: StepInput<'a>,
        ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
            Box::pin(async { panic!("boom in future") })
        }
    }
    struct PanicsAfterWaiting;
    impl Step for PanicsAfterWaiting {
        fn authorize<'a>(
            &'a self,
            _input: StepInput<'a>,
        ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
            Box::pin(async {
                tokio::task::yield_now().await;
                panic!("boom after waiting")
            })
        }
    }
    let (fails, _) = step("fails", |_| Err(StepError::Plugin("nope".into())));
    let (panics, _) = step("panics", |_| panic!("boom in sync"));
    let limits = Limits {
        step_timeout: Duration::from_millis(50),
        error_status: 500,
        ..Limits::default()
    };
    let cases: Vec<(ChainStep, &str)> = vec![
        (fails, "plugin error: nope"),
        (panics, "boom in sync"),
        (
            ChainStep {
                name: "future".into(),
                step: Arc::new(PanicsInFuture),
            },
            "boom in future",
        ),
        (
            ChainStep {
                name: "waits".into(),
                step: Arc::new(PanicsAfterWaiting),
            },
            "boom after waiting",
        ),
        (
            ChainStep {
                name: "hangs".into(),
                step: Arc::new(Hangs),
            },
            "timed out",
        ),
    ];
    for (step, expected) in cases {
        let chain = Chain::new("c", vec![step], limits);
        match chain.run(&Request::default(), &NoObserver).await {
            Decision::Deny(d) => {
                assert_eq!(d.status, 500);
                assert!(
                    d.reason.contains(expected),
                    "{} should mention {expected}",
                    d.reason
                );
            }
            other => panic!("expected deny, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn chain_deadline_caps_the_steps_and_failure_mode_allow_lets_through() {
    let slow = || sleeps("slow", 60);
    // Each step is within its own timeout, but three of them exceed the chain deadline.
    let limits = Limits {
        step_timeout: Duration::from_secs(1),
        chain_deadline: Duration::from_millis(150),
        ..Limits::default()
    };
    let chain = Chain::new("c", vec![slow(), slow(), slow()], limits);
    match chain.run(&Request::default(), &NoObserver).await {
        Decision::Deny(d) => assert!(d.reason.contains("timed out"), "{}", d.reason),
        other => panic!("the chain deadline must deny, got {other:?}"),
    }
    let chain = Chain::new(
        "c",
        vec![slow(), slow(), slow()],
        Limits {
            failure_mode_allow: true,
            ..limits
        },
    );
    match chain.run(&Request::default(), &NoObserver).await {
        Decision::Allow(a) => assert_eq!(
            a.set_headers,
            vec![(FAILURE_MODE_HEADER.to_string(), "true".to_string())]
        ),
        other => panic!("failureModeAllow must allow, got {other:?}"),
    }
}

#[tokio::test]
async fn observer_sees_every_step() {
    use std::sync::Mutex;
    #[derive(Default)]
    struct Record(Mutex<Vec<(String, StepResult)>>);
    impl Observer for Record {
        fn step(&self, _: &str, step: &str, result: StepResult, _: bool, _: Duration) {
            self.0.lock().unwrap().push((step.to_string(), result));
        }
    }
    let (a, _) = step("a", |_| Ok(allow()));
    let (b, _) = step("b", |_| Ok(StepOutcome::default()));
    let record = Record::default();
    Chain::new("c", vec![a, b], Limits::default())
        .run(&Request::default(), &record)
        .await;
    assert_eq!(
        *record.0.lock().unwrap(),
        vec![
            ("a".to_string(), StepResult::Allow),
            ("b".to_string(), StepResult::Deny)
        ]
    );
}

fn request_with(headers: &[(&str, &str)]) -> Request {
    Request {
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        ..Request::default()
    }
}

#[tokio::test]
async fn fail_open_applies_completed_steps_and_strips_owned_client_headers() {
    let (strip, _) = step("strip", |_| {
        Ok(StepOutcome {
            remove_request_headers: vec!["x-user".into()],
            ..allow()
        })
    });
    // Sets x-role on the first request, fails on every later one.
    let runs = Arc::new(AtomicUsize::new(0));
    let seen = runs.clone();
    let (flaky, _) = step("flaky", move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Ok(StepOutcome {
                request_headers: vec![header(
                    "x-role",
                    "reader",
                    AppendAction::OverwriteIfExistsOrAdd,
                )],
                ..allow()
            })
        } else {
            Err(StepError::Plugin("backend down".into()))
        }
    });
    let limits = Limits {
        failure_mode_allow: true,
        ..Limits::default()
    };
    let chain =
        Chain::new("c", vec![strip, flaky], limits).with_owned_headers(vec!["X-Tenant".into()]);
    let attack = request_with(&[
        ("x-user", "admin"),
        ("x-role", "root"),
        ("x-tenant", "other"),
        (FAILURE_MODE_HEADER, "false"),
        ("x-innocent", "kept"),
    ]);
    let Decision::Allow(first) = chain.run(&attack, &NoObserver).await else {
        panic!("the first run allows");
    };
    assert_eq!(first.set_headers, vec![("x-role".into(), "reader".into())]);
    assert_eq!(
        first.remove_headers,
        vec!["x-user".to_string(), FAILURE_MODE_HEADER.to_string()],
        "a client's failure-mode marker never passes, even on a normal allow"
    );
    let Decision::Allow(failed) = chain.run(&attack, &NoObserver).await else {
        panic!("failureModeAllow allows");
    };
    assert_eq!(
        failed.set_headers,
        vec![(FAILURE_MODE_HEADER.to_string(), "true".to_string())]
    );
    let mut removed = failed.remove_headers.clone();
    removed.sort();
    assert_eq!(
        removed,
        vec!["x-role", "x-tenant", "x-user"],
        "step 1's removal applies; declared and learned owned headers are stripped"
    );
}

#[tokio::test]
async fn fail_closed_chains_do_not_learn_and_deny_without_effects() {
    let (strip, _) = step("strip", |_| {
        Ok(StepOutcome {
            remove_request_headers: vec!["x-user".into()],
            ..allow()
        })
    });
    let (fail, _) = step("fail", |_| Err(StepError::Panic("secret payload".into())));
    let chain = Chain::new("c", vec![strip, fail], Limits::default());
    match chain
        .run(&request_with(&[("x-user", "admin")]), &NoObserver)
        .await
    {
        Decision::Deny(d) => {
            assert_eq!(d.status, 403);
            assert!(d.body.is_empty() && d.headers.is_empty(), "{d:?}");
        }
        other => panic!("fail closed, got {other:?}"),
    }
    assert!(chain.owned.names().is_empty());
}

/// A step that allows (setting `x-<name>: yes` and state `<name>`) or denies
/// with `status`, counting its calls.
fn verdict_step(name: &str, allows: bool, status: u16) -> (ChainStep, Arc<AtomicUsize>) {
    let owned = name.to_string();
    step(name, move |_| {
        Ok(if allows {
            StepOutcome {
                request_headers: vec![header(
                    &format!("x-{owned}"),
                    "yes",
                    AppendAction::OverwriteIfExistsOrAdd,
                )],
                state_set: vec![(owned.clone(), "ok".into())],
                ..allow()
            }
        } else {
            StepOutcome {
                status,
                body: format!("{owned} says no"),
                ..Default::default()
            }
        })
    })
}

/// Runs `expr` over steps `basic` (allow?), `apikey` (allow?), `policy` (allow?).
async fn decide(expr: &str, verdicts: [bool; 3]) -> (Decision, Vec<usize>) {
    let names = ["basic", "apikey", "policy"];
    let (steps, calls): (Vec<_>, Vec<_>) = names
        .iter()
        .zip(verdicts)
        .zip([401, 401, 403])
        .map(|((n, v), s)| verdict_step(n, v, s))
        .unzip();
    let expr = expr::parse(expr, |n| names.iter().position(|m| *m == n)).unwrap();
    let chain = Chain::new("c", steps, Limits::default()).with_expr(expr);
    let decision = chain.run(&Request::default(), &NoObserver).await;
    (
        decision,
        calls.iter().map(|c| c.load(Ordering::SeqCst)).collect(),
    )
}

#[tokio::test]
async fn boolean_expr_short_circuits_left_to_right() {
    let (decision, calls) = decide("(basic || apikey) && policy", [true, false, true]).await;
    let Decision::Allow(allowed) = decision else {
        panic!("allowed: {decision:?}")
    };
    assert_eq!(calls, vec![1, 0, 1], "apikey never runs once basic allowed");
    assert_eq!(
        allowed.set_headers,
        vec![
            ("x-basic".into(), "yes".into()),
            ("x-policy".into(), "yes".into())
        ]
    );
    assert_eq!(allowed.state.get("basic").map(String::as_str), Some("ok"));

    let (decision, calls) = decide("(basic || apikey) && policy", [false, true, true]).await;
    assert!(matches!(decision, Decision::Allow(_)), "{decision:?}");
    assert_eq!(calls, vec![1, 1, 1]);
}

#[tokio::test]
async fn a_false_expression_returns_the_last_denial() {
    let (decision, calls) = decide("basic || apikey", [false, false, true]).await;
    match decision {
        Decision::Deny(d) => assert_eq!((d.status, d.body.as_str()), (401, "apikey says no")),
        other => panic!("denied: {other:?}"),
    }
    assert_eq!(calls, vec![1, 1, 0]);
    let (decision, _) = decide("basic && !apikey", [true, true, true]).await;
    match decision {
        Decision::Deny(d) => assert_eq!((d.status, d.body.as_str()), (403, "")),
        other => panic!("a negated allow with no denial is a 403: {other:?}"),
    }
    let (decision, _) = decide("!policy || apikey", [true, true, false]).await;
    assert!(
        matches!(decision, Decision::Allow(_)),
        "NOT of a denial allows: {decision:?}"
    );
}

#[tokio::test]
async fn a_failing_step_in_an_expression_fails_closed() {
    let (ok, _) = verdict_step("basic", false, 401);
    let (fail, _) = step("broken", |_| Err(StepError::Plugin("down".into())));
    let expr = expr::parse("basic || !broken", |n| {
        ["basic", "broken"].iter().position(|m| *m == n)
    })
    .unwrap();
    let chain = Chain::new("c", vec![ok, fail], Limits::default()).with_expr(expr);
    match chain.run(&Request::default(), &NoObserver).await {
        Decision::Deny(d) => assert!(d.reason.contains("failed"), "{d:?}"),
        other => panic!("a failure is never `false` under `!`: {other:?}"),
    }
}

#[tokio::test]
async fn shadow_steps_never_decide_nor_change_anything() {
    use std::sync::Mutex;
    #[derive(Default)]
    struct Record(Mutex<Vec<(String, StepResult, bool)>>);
    impl Observer for Record {
        fn step(&self, _: &str, step: &str, result: StepResult, shadow: bool, _: Duration) {
            self.0
                .lock()
                .unwrap()
                .push((step.to_string(), result, shadow));
        }
    }
    let (tagging, _) = verdict_step("tagging", true, 0);
    let (denying, _) = verdict_step("denying", false, 401);
    let (failing, _) = step("failing", |_| {
        Err(StepError::Panic("new policy bug".into()))
    });
    let (last, _) = verdict_step("last", true, 0);
    let chain = Chain::new(
        "c",
        vec![tagging, denying, failing, last],
        Limits::default(),
    )
    .with_step_options(
        [true, true, true, false]
            .map(|shadow| StepOptions {
                shadow,
                ..StepOptions::default()
            })
            .to_vec(),
    );
    let record = Record::default();
    let Decision::Allow(allowed) = chain.run(&Request::default(), &record).await else {
        panic!("shadow denials and failures never deny");
    };
    assert_eq!(allowed.set_headers, vec![("x-last".into(), "yes".into())]);
    assert_eq!(allowed.state.keys().collect::<Vec<_>>(), vec!["last"]);
    assert_eq!(
        *record.0.lock().unwrap(),
        vec![
            ("tagging".to_string(), StepResult::Allow, true),
            ("denying".to_string(), StepResult::Deny, true),
            ("failing".to_string(), StepResult::Panic, true),
            ("last".to_string(), StepResult::Allow, false),
        ]
    );
}

fn only_on(prefix: &str) -> StepOptions {
    let document = serde_yaml::from_str(&format!("path: {{prefix: '{prefix}'}}")).unwrap();
    StepOptions {
        when: vec![when::compile(document).unwrap()],
        ..StepOptions::default()
    }
}

fn at(path: &str) -> Request {
    Request {
        path: path.into(),
        ..Request::default()
    }
}

#[tokio::test]
async fn a_step_runs_only_where_its_when_holds() {
    let (admin, admin_calls) = verdict_step("admin", false, 401);
    let (tag, _) = verdict_step("tag", true, 0);
    let chain = Chain::new("c", vec![admin, tag], Limits::default())
        .with_step_options(vec![only_on("/admin")]);
    assert!(matches!(
        chain.run(&at("/public"), &NoObserver).await,
        Decision::Allow(_)
    ));
    assert_eq!(admin_calls.load(Ordering::SeqCst), 0, "skipped, not run");
    assert!(matches!(
        chain.run(&at("/admin/x"), &NoObserver).await,
        Decision::Deny(_)
    ));
    assert_eq!(admin_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn skipped_steps_take_no_part_in_boolean_expr() {
    let names = ["basic", "apikey"];
    let chain = |basic_allows: bool| {
        let (basic, _) = verdict_step("basic", basic_allows, 401);
        let (apikey, _) = verdict_step("apikey", false, 401);
        let expr = expr::parse("basic || !apikey", |n| names.iter().position(|m| *m == n)).unwrap();
        Chain::new("c", vec![basic, apikey], Limits::default())
            .with_step_options(vec![only_on("/basic"), only_on("/key")])
            .with_expr(expr)
    };
    // basic skipped: `!apikey` alone decides; apikey denies, so it is true.
    assert!(matches!(
        chain(false).run(&at("/key"), &NoObserver).await,
        Decision::Allow(_)
    ));
    // apikey skipped: basic alone decides.
    assert!(matches!(
        chain(true).run(&at("/basic"), &NoObserver).await,
        Decision::Allow(_)
    ));
    match chain(false).run(&at("/basic"), &NoObserver).await {
        Decision::Deny(d) => assert_eq!(d.status, 401),
        other => panic!("basic's denial: {other:?}"),
    }
    // Both skipped: nothing decided, denied.
    match chain(true).run(&at("/other"), &NoObserver).await {
        Decision::Deny(d) => assert!(d.reason.contains("skipped"), "{d:?}"),
        other => panic!("an undecided expression denies: {other:?}"),
    }
}

/// A step pending `left` times, each time woken later by another task; it
/// counts its polls and the polls that came without a wake.
struct WokenLater {
    polls: Arc<AtomicUsize>,
    unwoken: Arc<AtomicUsize>,
    left: usize,
}

impl Step for WokenLater {
    fn authorize<'a>(&'a self, _: StepInput<'a>) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        let (polls, unwoken) = (self.polls.clone(), self.unwoken.clone());
        let woken = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut left = self.left;
        Box::pin(std::future::poll_fn(move |cx| {
            if polls.fetch_add(1, Ordering::SeqCst) > 0 && !woken.swap(false, Ordering::SeqCst) {
                unwoken.fetch_add(1, Ordering::SeqCst);
            }
            if left == 0 {
                return Poll::Ready(Ok(allow()));
            }
            left -= 1;
            let (waker, woken) = (cx.waker().clone(), woken.clone());
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                woken.store(true, Ordering::SeqCst);
                waker.wake();
            });
            Poll::Pending
        }))
    }
}

#[tokio::test]
async fn a_pending_step_is_polled_again_only_when_woken_and_still_times_out() {
    let (polls, unwoken) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let step = |left| ChainStep {
        name: "later".into(),
        step: Arc::new(WokenLater {
            polls: polls.clone(),
            unwoken: unwoken.clone(),
            left,
        }),
    };
    let chain = Chain::new("c", vec![step(2)], Limits::default());
    let decision = chain.run(&Request::default(), &NoObserver).await;
    assert!(matches!(decision, Decision::Allow(_)), "{decision:?}");
    // First poll, then one poll per wake: the timer armed after the first
    // poll does not poll the step again before it is woken.
    assert_eq!(polls.load(Ordering::SeqCst), 3);
    assert_eq!(unwoken.load(Ordering::SeqCst), 0);

    let limits = Limits {
        step_timeout: Duration::from_millis(20),
        ..Limits::default()
    };
    let chain = Chain::new("c", vec![step(usize::MAX)], limits);
    match chain.run(&Request::default(), &NoObserver).await {
        Decision::Deny(d) => assert!(d.reason.contains("timed out"), "{}", d.reason),
        other => panic!("a step that never answers must time out, got {other:?}"),
    }
}

#[tokio::test]
async fn each_step_is_timed_from_where_the_one_before_ended() {
    struct Times(std::sync::Mutex<Vec<(String, Duration)>>);
    impl Observer for Times {
        fn step(&self, _: &str, step: &str, _: StepResult, _: bool, elapsed: Duration) {
            self.0.lock().unwrap().push((step.to_string(), elapsed));
        }
    }
    let limits = Limits {
        chain_deadline: Duration::from_secs(5),
        ..Limits::default()
    };
    let steps = vec![
        sleeps("slow", 200),
        sleeps("quick", 0),
        sleeps("slower", 100),
    ];
    let chain = Chain::new("c", steps, limits);
    let times = Times(Default::default());
    let decision = chain.run(&Request::default(), &times).await;
    assert!(matches!(decision, Decision::Allow(_)), "{decision:?}");
    let times = times.0.into_inner().unwrap();
    let names: Vec<_> = times.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["slow", "quick", "slower"]);
    let millis = |i: usize| times[i].1.as_millis();
    assert!(millis(0) >= 200, "{times:?}");
    // A step is not charged for the time of the step before it.
    assert!(millis(1) < 200, "{times:?}");
    assert!((100..300).contains(&millis(2)), "{times:?}");
}

#[tokio::test]
async fn a_slow_cache_lookup_does_not_use_up_the_step_timeout() {
    /// A cache that takes its time to miss (Redis far away).
    struct SlowMiss;
    impl StepCache for SlowMiss {
        fn lookup<'a>(&'a self, _: &'a Request, _: &'a State) -> BoxFuture<'a, Lookup> {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(150)).await;
                Lookup::Miss(cache::CacheKey([0; 32]))
            })
        }
        fn store(&self, _: cache::CacheKey, _: &StepOutcome) -> u64 {
            0
        }
    }
    let limits = Limits {
        step_timeout: Duration::from_millis(200),
        chain_deadline: Duration::from_secs(5),
        ..Limits::default()
    };
    let options = StepOptions {
        cache: Some(Arc::new(SlowMiss)),
        ..StepOptions::default()
    };
    // 150 ms looking up, then 100 ms in the plugin: within the plugin's 200 ms,
    // which start when it is called.
    let chain =
        Chain::new("c", vec![sleeps("cached", 100)], limits).with_step_options(vec![options]);
    let decision = chain.run(&Request::default(), &NoObserver).await;
    assert!(matches!(decision, Decision::Allow(_)), "{decision:?}");
}
