//! Running it like a service: reload under load, bad configs during load, file
//! watching with ConfigMap-style symlink swaps, health transitions, graceful
//! shutdown, metrics and the admin endpoints.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use gatehouse_tests::{auth_config, check_request, step, verdict, Host, PluginDir};
use tonic_health::pb::health_check_response::ServingStatus;

const SH: &str = "libset_headers.so";
const MB: &str = "libmisbehaving.so";

fn generation(tag: &str) -> String {
    auth_config(
        "load",
        &[step(
            "tag",
            SH,
            "SetHeaders",
            &format!("{{headers: [{{name: x-gen, value: {tag}}}]}}"),
        )],
    )
}

/// Sends requests from `workers` tasks until `stop`; counts failures and which
/// generation answered.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    seen_b: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    async fn start(host: &Host, workers: usize) -> Load {
        let (stop, ok, failed, seen_b) = Default::default();
        let mut load = Load {
            stop,
            ok,
            failed,
            seen_b,
            tasks: Vec::new(),
        };
        for _ in 0..workers {
            let mut client = AuthorizationClient::new(host.channel().await);
            let (stop, ok, failed, seen_b) = (
                load.stop.clone(),
                load.ok.clone(),
                load.failed.clone(),
                load.seen_b.clone(),
            );
            load.tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match client.check(check_request(Some("load"), "/", &[])).await {
                        Ok(response) => match verdict(&response.into_inner()).header("x-gen") {
                            Some("a") => ok.fetch_add(1, Ordering::Relaxed),
                            Some("b") => {
                                seen_b.fetch_add(1, Ordering::Relaxed);
                                ok.fetch_add(1, Ordering::Relaxed)
                            }
                            _ => failed.fetch_add(1, Ordering::Relaxed),
                        },
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
        load
    }

    async fn finish(self) -> (usize, usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.seen_b.load(Ordering::Relaxed),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_drops_nothing_and_switches_decisions() {
    let plugins = PluginDir::with(&[SH]);
    let host = Host::start(&generation("a"), &plugins, &[])
        .await
        .expect("start");
    let load = Load::start(&host, 4).await;
    for round in 0..24 {
        let tag = if round % 2 == 0 { "b" } else { "a" };
        let outcome = host.reload(&generation(tag)).await;
        assert!(
            outcome.contains("reloaded on SIGHUP"),
            "round {round}: {outcome}"
        );
        // A bad config in the middle of the load keeps the old one serving.
        if round == 10 {
            let bad = auth_config("load", &[step("tag", "missing.so", "SetHeaders", "{}")]);
            let outcome = host.reload(&bad).await;
            assert!(
                outcome.contains("reload failed") && outcome.contains("missing.so"),
                "{outcome}"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (ok, failed, seen_b) = load.finish().await;
    assert_eq!(failed, 0, "no request may fail during reloads ({ok} ok)");
    assert!(ok > 100, "the load must have run: {ok}");
    assert!(seen_b > 0, "decisions must switch to the new config");
    // The last swap installed "a".
    let last = verdict(&host.check(check_request(Some("load"), "/", &[])).await);
    assert_eq!(last.header("x-gen"), Some("a"));
    let (_, metrics) = host.admin_get("/metrics");
    assert!(
        metrics.contains("gatehouse_reloads_total{result=\"ok\"} 25"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gatehouse_reloads_total{result=\"failed\"} 1"),
        "{metrics}"
    );
    // Same .so reloaded 25 times: loaded once.
    assert!(
        metrics.contains("gatehouse_loaded_plugin_libraries 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn configmap_symlink_swap_is_picked_up_by_the_watcher() {
    let plugins = PluginDir::with(&[SH]);
    let dir = plugins.path().join("configmap");
    let publish = |version: &str, yaml: &str| {
        // What the kubelet does: write a new timestamped dir, swap `..data` atomically.
        let data = dir.join(format!("..{version}"));
        std::fs::create_dir_all(&data).expect("mkdir");
        std::fs::write(data.join("auth-configs.yaml"), yaml).expect("write");
        let tmp = dir.join("..data_tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(format!("..{version}"), &tmp).expect("symlink");
        std::fs::rename(&tmp, dir.join("..data")).expect("swap");
    };
    std::fs::create_dir_all(&dir).expect("mkdir");
    publish("v1", &generation("a"));
    std::os::unix::fs::symlink("..data/auth-configs.yaml", dir.join("auth-configs.yaml"))
        .expect("symlink");

    let mut host = Host::spawn_with_config_file(
        &dir.join("auth-configs.yaml"),
        &plugins,
        &["--watch-interval-ms", "100"],
    );
    host.wait_serving().await.expect("start");
    publish("v2", &generation("b"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = verdict(&host.check(check_request(Some("load"), "/", &[])).await);
        if now.header("x-gen") == Some("b") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "watcher did not reload:\n{}",
            host.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A broken update is reported and the previous config keeps serving.
    publish(
        "v3",
        "kind: AuthConfig\nmetadata: {name: load}\nspec: {configs: []}\n",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !host
        .admin_get("/config")
        .1
        .contains("needs at least one step")
    {
        assert!(
            Instant::now() < deadline,
            "bad config not reported:\n{}",
            host.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let still = verdict(&host.check(check_request(Some("load"), "/", &[])).await);
    assert_eq!(still.header("x-gen"), Some("b"));
}

#[tokio::test]
async fn health_not_serving_while_loading_serving_after_and_draining_on_sigterm() {
    let plugins = PluginDir::with(&[MB]);
    let config = auth_config(
        "slow-start",
        &[step("s", MB, "Sleep", "{millis: 0, startupMillis: 1500}")],
    );
    let mut host = Host::spawn(&config, &plugins, &["--shutdown-delay-ms", "1500"]);

    // While the plugin is still being built: listening, but not serving, not ready.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut saw_not_serving = false;
    while Instant::now() < deadline && !saw_not_serving {
        saw_not_serving = host.health("").await == Some(ServingStatus::NotServing);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        saw_not_serving,
        "health must say NOT_SERVING before the config is loaded:\n{}",
        host.logs()
    );
    assert_eq!(host.admin_get("/readyz").0, 503);
    assert_eq!(host.admin_get("/healthz").0, 200);

    host.wait_serving().await.expect("serving after load");
    assert_eq!(
        host.health("envoy.service.auth.v3.Authorization").await,
        Some(ServingStatus::Serving)
    );
    assert_eq!(host.admin_get("/readyz").0, 200);

    // SIGTERM: NOT_SERVING during the shutdown delay while requests still succeed, then exit 0.
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(host.pid().to_string())
        .status();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(host.health("").await, Some(ServingStatus::NotServing));
    assert_eq!(host.admin_get("/readyz").0, 503);
    let during = verdict(
        &host
            .check(check_request(Some("slow-start"), "/", &[]))
            .await,
    );
    assert_eq!(
        during.denied_status(),
        None,
        "in-flight and new requests are still answered while draining"
    );
    let code = host.terminate().await;
    assert_eq!(code, Some(0), "graceful shutdown exits 0:\n{}", host.logs());
}

#[tokio::test]
async fn metrics_and_config_reflect_known_traffic() {
    let plugins = PluginDir::with(&[SH, MB, "libversioned_v1_0.so"]);
    let config = [
        auth_config("tagged", &[step("tag", SH, "SetHeaders", "{headers: [{name: x, value: y}]}")]),
        auth_config("panics", &[step("boom", MB, "Panic", "{when: authorize}")]),
        auth_config("old", &[step("v", "libversioned_v1_0.so", "Versioned", "{}")]),
        "---\nkind: AuthConfig\nmetadata: {name: lenient}\nspec:\n  failureModeAllow: true\n  configs:\n".to_string()
            + &step("boom", MB, "Panic", "{when: future}"),
    ]
    .concat();
    let host = Host::start(&config, &plugins, &["--max-headers", "5"])
        .await
        .expect("start");
    for _ in 0..3 {
        host.check(check_request(Some("tagged"), "/", &[])).await;
    }
    for _ in 0..2 {
        let denied = verdict(&host.check(check_request(Some("panics"), "/", &[])).await);
        assert_eq!(denied.denied_status(), Some(403));
    }
    let lenient = verdict(&host.check(check_request(Some("lenient"), "/", &[])).await);
    assert_eq!(
        lenient.header("x-gatehouse-failure-mode-allowed"),
        Some("true"),
        "{lenient:?}"
    );
    let many: Vec<(String, String)> = (0..8).map(|i| (format!("h{i}"), "v".to_string())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let too_many = verdict(&host.check(check_request(Some("tagged"), "/", &many)).await);
    assert_eq!(too_many.denied_status(), Some(431));
    host.check(check_request(Some("nope"), "/", &[])).await;

    let (status, metrics) = host.admin_get("/metrics");
    assert_eq!(status, 200);
    for line in [
        "gatehouse_requests_total{auth_config=\"tagged\",decision=\"allow\"} 3",
        "gatehouse_requests_total{auth_config=\"tagged\",decision=\"deny\"} 1",
        "gatehouse_requests_total{auth_config=\"panics\",decision=\"deny\"} 2",
        "gatehouse_requests_total{auth_config=\"(unknown)\",decision=\"deny\"} 1",
        "gatehouse_step_results_total{auth_config=\"panics\",result=\"panic\",shadow=\"false\",step=\"boom\"} 2",
        "gatehouse_step_results_total{auth_config=\"lenient\",result=\"panic\",shadow=\"false\",step=\"boom\"} 1",
        "gatehouse_step_duration_seconds_count{auth_config=\"tagged\",step=\"tag\"} 3",
        "gatehouse_reloads_total{result=\"ok\"} 1",
        "gatehouse_loaded_plugin_libraries 3",
        "gatehouse_config_generation 1",
        // A plain (not profile-guided) build: tests/e2e/images.sh checks the other kind.
        "gatehouse_build_info{pgo_profile=\"\",version=\"0.1.0\"} 1",
    ] {
        assert!(metrics.contains(line), "missing `{line}` in:\n{metrics}");
    }

    let (status, body) = host.admin_get("/config");
    assert_eq!(status, 200);
    for needle in [
        "\"id\":\"tagged\"",
        "\"failureModeAllow\":true",
        "\"interface\":\"1.0.0\"",
        "\"interface\":\"1.5.0\"",
        "\"lastReloadError\":null",
        "gatehouse-plugin-sdk",
    ] {
        assert!(body.contains(needle), "missing {needle} in /config: {body}");
    }
}

#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let plugins = PluginDir::with(&[MB]);
    let config = auth_config("p", &[step("boom", MB, "Fail", "{}")]);
    let host = Host::start(&config, &plugins, &["--log-format", "json"])
        .await
        .expect("start");
    host.check(check_request(Some("p"), "/", &[])).await;
    let logs = host.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("step failed"))
        .unwrap_or_else(|| panic!("no failure line:\n{logs}"));
    assert!(
        line.starts_with('{') && line.contains("\"request_id\":\"test-request\""),
        "{line}"
    );
}

#[tokio::test]
async fn a_replaced_library_file_is_loaded_anew() {
    let plugins = PluginDir::with(&[SH, MB]);
    let host = Host::start(&generation("a"), &plugins, &[])
        .await
        .expect("start");
    // Same file name, other content: the dynamic loader would hand back the old
    // library for a path it already opened, so the host must stage the new one.
    std::fs::copy(plugins.path().join(MB), plugins.path().join(SH)).expect("replace");
    let whoami = auth_config("load", &[step("who", SH, "Whoami", "{name: replaced}")]);
    let outcome = host.reload(&whoami).await;
    assert!(outcome.contains("reloaded on SIGHUP"), "{outcome}");
    let result = verdict(&host.check(check_request(Some("load"), "/", &[])).await);
    assert_eq!(result.header("x-whoami"), Some("replaced"), "{result:?}");
    let (_, metrics) = host.admin_get("/metrics");
    assert!(
        metrics.contains("gatehouse_loaded_plugin_libraries 2"),
        "{metrics}"
    );
}
