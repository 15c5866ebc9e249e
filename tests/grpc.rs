//! Multi-step chains over real gRPC: the `gatehouse` binary with the workspace's
//! plugin libraries.

use gatehouse_tests::{auth_config, check_request, step, verdict, Host, PluginDir, Verdict};

const RH: &str = "librequired_header.so";
const SH: &str = "libset_headers.so";
const MB: &str = "libmisbehaving.so";

fn team_header() -> String {
    step(
        "team",
        RH,
        "RequiredHeader",
        "{requiredHeader: x-team, allowedValues: [platform, security]}",
    )
}

async fn host(config: &str) -> (Host, PluginDir) {
    let plugins = PluginDir::with(&[RH, SH, MB]);
    match Host::start(config, &plugins, &[]).await {
        Ok(host) => (host, plugins),
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    }
}

#[tokio::test]
async fn allow_deny_and_state_from_required_header() {
    let config = auth_config(
        "demo",
        &[team_header(), step("echo-state", SH, "SetHeaders", "{requireState: {requiredHeader: platform}, headers: [{name: x-team-ok, value: 'yes'}]}")],
    );
    let (host, _plugins) = host(&config).await;

    let allowed = verdict(
        &host
            .check(check_request(Some("demo"), "/", &[("x-team", "platform")]))
            .await,
    );
    assert_eq!(
        allowed.header("x-team-ok"),
        Some("yes"),
        "state from step 1 reached step 2: {allowed:?}"
    );

    let missing = verdict(&host.check(check_request(Some("demo"), "/", &[])).await);
    assert_eq!(missing.denied_status(), Some(401), "{missing:?}");

    let wrong = verdict(
        &host
            .check(check_request(Some("demo"), "/", &[("x-team", "intern")]))
            .await,
    );
    assert_eq!(wrong.denied_status(), Some(403), "{wrong:?}");

    // Same header value but the state it produced differs → step 2 denies.
    let security = verdict(
        &host
            .check(check_request(Some("demo"), "/", &[("x-team", "security")]))
            .await,
    );
    assert_eq!(
        security.denied_status(),
        Some(403),
        "requireState must deny: {security:?}"
    );
}

#[tokio::test]
async fn first_deny_stops_later_steps() {
    let config = auth_config(
        "stops",
        &[
            step("first", SH, "SetHeaders", "{headers: [{name: x-first, value: '1'}], setState: {first: 'yes'}}"),
            step("denier", SH, "SetHeaders", "{deny: {status: 451, body: stopped here}, responseHeaders: [{name: x-denier, value: '1'}]}"),
            step("later", SH, "SetHeaders", "{responseHeaders: [{name: x-later, value: '1'}], headers: [{name: x-later, value: '1'}]}"),
        ],
    );
    let (host, _plugins) = host(&config).await;
    let result = verdict(&host.check(check_request(Some("stops"), "/", &[])).await);
    let Verdict::Denied {
        status,
        body,
        headers,
    } = result
    else {
        panic!("expected a denial, got {result:?}")
    };
    assert_eq!((status, body.as_str()), (451, "stopped here"));
    assert!(headers.iter().any(|h| h.0 == "x-denier"), "{headers:?}");
    assert!(
        !headers.iter().any(|h| h.0 == "x-later" || h.0 == "x-first"),
        "later/earlier step effects leaked: {headers:?}"
    );
}

#[tokio::test]
async fn reference_header_merge_example() {
    let config = auth_config(
        "merge",
        &[
            step(
                "step1",
                SH,
                "SetHeaders",
                "{headers: [{name: one, value: bar, append: false}]}",
            ),
            step(
                "step2",
                SH,
                "SetHeaders",
                "{headers: [{name: one, value: baz, append: true}, {name: two, value: asd}]}",
            ),
        ],
    );
    let (host, _plugins) = host(&config).await;
    let result = verdict(
        &host
            .check(check_request(Some("merge"), "/", &[("one", "foo")]))
            .await,
    );
    const OVERWRITE_IF_EXISTS_OR_ADD: i32 = 2;
    assert_eq!(
        result,
        Verdict::Allowed {
            headers: vec![
                ("one".into(), "bar, baz".into(), OVERWRITE_IF_EXISTS_OR_ADD),
                ("two".into(), "asd".into(), OVERWRITE_IF_EXISTS_OR_ADD),
            ],
            removed: vec![],
            response_headers: vec![],
        }
    );
}

#[tokio::test]
async fn each_v3_append_action() {
    let config = auth_config(
        "actions",
        &[step(
            "actions",
            SH,
            "SetHeaders",
            "{headers: [\
              {name: a, value: '2', appendAction: APPEND_IF_EXISTS_OR_ADD},\
              {name: fresh-append, value: x, appendAction: APPEND_IF_EXISTS_OR_ADD},\
              {name: b, value: '2', appendAction: ADD_IF_ABSENT},\
              {name: fresh-add, value: x, appendAction: ADD_IF_ABSENT},\
              {name: c, value: '2', appendAction: OVERWRITE_IF_EXISTS_OR_ADD},\
              {name: fresh-over, value: x, appendAction: OVERWRITE_IF_EXISTS_OR_ADD},\
              {name: d, value: '2', appendAction: OVERWRITE_IF_EXISTS},\
              {name: fresh-if-exists, value: x, appendAction: OVERWRITE_IF_EXISTS}],\
              removeHeaders: [e]}",
        )],
    );
    let (host, _plugins) = host(&config).await;
    let headers = [("a", "1"), ("b", "1"), ("c", "1"), ("d", "1"), ("e", "1")];
    let result = verdict(
        &host
            .check(check_request(Some("actions"), "/", &headers))
            .await,
    );
    let expect = [
        ("a", Some("1, 2")),
        ("fresh-append", Some("x")),
        ("b", None), // present: ADD_IF_ABSENT leaves it alone
        ("fresh-add", Some("x")),
        ("c", Some("2")),
        ("fresh-over", Some("x")),
        ("d", Some("2")),
        ("fresh-if-exists", None), // absent: OVERWRITE_IF_EXISTS adds nothing
    ];
    for (name, value) in expect {
        assert_eq!(result.header(name), value, "header {name} in {result:?}");
    }
    let Verdict::Allowed { removed, .. } = &result else {
        panic!("{result:?}")
    };
    assert_eq!(removed, &vec!["e".to_string()]);
}

#[tokio::test]
async fn unknown_or_missing_config_id_is_denied() {
    let (host, _plugins) = host(&auth_config("only", &[team_header()])).await;
    for request in [
        check_request(Some("nope"), "/", &[("x-team", "platform")]),
        check_request(None, "/", &[("x-team", "platform")]),
    ] {
        let result = verdict(&host.check(request).await);
        assert_eq!(result.denied_status(), Some(403), "{result:?}");
    }
    let logs = host.logs();
    assert!(
        logs.contains("unknown auth config 'nope' (loaded: only)"),
        "{logs}"
    );
    assert!(logs.contains("no context_extensions.config_id"), "{logs}");
}

#[tokio::test]
async fn namespaced_ids_and_several_plugins_from_one_library() {
    let config = format!(
        "{}---\nkind: AuthConfig\nmetadata: {{name: who, namespace: team-a}}\nspec:\n  configs:\n{}",
        auth_config("sleepy", &[step("sleep", MB, "Sleep", "{millis: 20}")]),
        step("whoami", MB, "Whoami", "{name: alice}")
    );
    let (host, _plugins) = host(&config).await;
    let who = verdict(
        &host
            .check(check_request(Some("team-a.who"), "/", &[]))
            .await,
    );
    assert_eq!(who.header("x-whoami"), Some("alice"), "{who:?}");
    // The Sleep plugin awaits a tokio timer: the SDK's plugin-owned runtime drives it.
    let slept = verdict(&host.check(check_request(Some("sleepy"), "/", &[])).await);
    assert_eq!(slept.header("x-slept-ms"), Some("20"), "{slept:?}");
}

#[tokio::test]
async fn panics_and_errors_cost_only_their_request() {
    let config = [
        auth_config("panic-sync", &[step("p", MB, "Panic", "{when: authorize}")]),
        auth_config("panic-future", &[step("p", MB, "Panic", "{when: future}")]),
        auth_config("fails", &[step("f", MB, "Fail", "{}")]),
        auth_config("fine", &[step("w", MB, "Whoami", "{name: bob}")]),
    ]
    .concat();
    let (mut host, _plugins) = host(&config).await;
    for id in ["panic-sync", "panic-future", "fails", "panic-sync"] {
        let result = verdict(&host.check(check_request(Some(id), "/", &[])).await);
        assert_eq!(result.denied_status(), Some(403), "{id}: {result:?}");
        let fine = verdict(&host.check(check_request(Some("fine"), "/", &[])).await);
        assert_eq!(
            fine.header("x-whoami"),
            Some("bob"),
            "host must keep serving after {id}"
        );
    }
    assert!(host.is_running());
    let logs = host.logs();
    assert!(logs.contains("plugin panicked"), "{logs}");
    assert!(logs.contains("deliberate failure"), "{logs}");
}

#[tokio::test]
async fn hanging_step_times_out_and_denies() {
    let plugins = PluginDir::with(&[MB]);
    let config = auth_config("slow", &[step("sleep", MB, "Sleep", "{millis: 5000}")]);
    let host = Host::start(&config, &plugins, &["--step-timeout-ms", "200"])
        .await
        .expect("start");
    let started = std::time::Instant::now();
    let result = verdict(&host.check(check_request(Some("slow"), "/", &[])).await);
    assert_eq!(result.denied_status(), Some(403), "{result:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "timeout did not fire"
    );
    assert!(host.logs().contains("timed out"));
}
