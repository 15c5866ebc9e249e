//! Interface 1.3's host services, with the real binary and a real `.so`
//! (`libmisbehaving.so`'s `Logs`): a plugin's `tracing` events come out of the
//! host's subscriber in `--log-format json` with level, plugin, step and
//! request id, filtered by the host's `RUST_LOG` (the harness sets `info`);
//! `authorize` sees the step's remaining budget, and work it spawned sees the
//! call's cancellation when the host stops waiting.

use std::time::{Duration, Instant};

use gatehouse_tests::{auth_config, check_request, step, verdict, Host, PluginDir};

fn config(wait_cancel: bool) -> String {
    auth_config(
        "logs",
        &[step(
            "log-step",
            "libmisbehaving.so",
            "Logs",
            &format!("{{waitCancel: {wait_cancel}}}"),
        )],
    )
}

/// The JSON lines of `logs` whose `plugin_target` is set (plugin events).
fn plugin_events(logs: &str) -> Vec<serde_json::Value> {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v.get("plugin_target").is_some())
        .collect()
}

fn field<'a>(event: &'a serde_json::Value, name: &str) -> &'a str {
    event.get(name).and_then(|v| v.as_str()).unwrap_or("")
}

/// Waits until `host` logged a line containing `needle`.
async fn logged(host: &Host, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = host.logs();
        if logs.contains(needle) || Instant::now() > deadline {
            return logs;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn plugin_events_are_host_json_lines_with_plugin_step_and_request_id() {
    let plugins = PluginDir::with(&["libmisbehaving.so"]);
    let host = Host::start(&config(false), &plugins, &["--log-format", "json"])
        .await
        .expect("host starts");
    let response = host
        .check(check_request(
            Some("logs"),
            "/",
            &[("x-request-id", "req-42")],
        ))
        .await;
    let allowed = verdict(&response);
    let budget: u64 = allowed
        .header("x-budget-ms")
        .expect("x-budget-ms")
        .parse()
        .expect("a number");
    // The default step timeout and chain deadline bound it (180 ms chain deadline).
    assert!(budget > 0 && budget <= 180, "budget {budget} ms");

    let logs = logged(&host, "fixture event from a spawned task").await;
    let events = plugin_events(&logs);
    let by_message = |text: &str| {
        events
            .iter()
            .find(|e| field(e, "message").starts_with(text))
            .unwrap_or_else(|| panic!("no plugin event {text:?} in:\n{logs}"))
    };
    let error = by_message("fixture event at error");
    assert_eq!(field(error, "level"), "ERROR");
    assert_eq!(field(error, "plugin"), "Logs");
    assert_eq!(field(error, "step"), "log-step");
    assert_eq!(field(error, "target"), "gatehouse::plugin");
    assert_eq!(field(error, "plugin_target"), "misbehaving");
    assert_eq!(field(error, "message"), "fixture event at error kid=\"k1\"");
    let request_id = field(error, "request_id").to_string();
    assert!(!request_id.is_empty(), "request id missing: {error}");
    assert_eq!(field(by_message("fixture event at warn"), "level"), "WARN");
    let info = by_message("fixture event at info");
    assert_eq!(field(info, "message"), "fixture event at info count=3");
    // A task spawned through the SDK keeps the step and request.
    let spawned = by_message("fixture event from a spawned task");
    assert_eq!(field(spawned, "step"), "log-step");
    assert_eq!(field(spawned, "request_id"), request_id);
    // Built at config load: the step is known, the request is not.
    let built = by_message("logs fixture built");
    assert_eq!(field(built, "step"), "log-step");
    assert!(built.get("request_id").is_none(), "{built}");
    // RUST_LOG=info (the harness's): the host's filter drops debug and trace.
    for quiet in ["fixture event at debug", "fixture event at trace"] {
        assert!(
            !logs.contains(quiet),
            "{quiet} was logged under RUST_LOG=info:\n{logs}"
        );
    }
    // Nothing of the plugin's reached stderr outside the host's JSON lines.
    for line in logs.lines().filter(|l| l.contains("fixture event")) {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
}

#[tokio::test]
async fn work_spawned_for_a_call_sees_its_cancellation_when_the_host_stops_waiting() {
    let plugins = PluginDir::with(&["libmisbehaving.so"]);
    let host = Host::start(
        &config(true),
        &plugins,
        &["--log-format", "json", "--step-timeout-ms", "100"],
    )
    .await
    .expect("host starts");
    let started = Instant::now();
    let response = host.check(check_request(Some("logs"), "/", &[])).await;
    assert!(
        verdict(&response).denied_status().is_some(),
        "a timed-out step denies"
    );
    let logs = logged(&host, "logs fixture: call cancelled").await;
    let event = plugin_events(&logs)
        .into_iter()
        .find(|e| field(e, "message").starts_with("logs fixture: call cancelled"))
        .unwrap_or_else(|| panic!("no cancellation event in:\n{logs}"));
    let message = field(&event, "message");
    assert!(message.contains("cancelled=true"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5), "cancelled late");
}
