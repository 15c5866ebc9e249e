//! The trust boundary over real gRPC: what a client sends cannot change which
//! copy of a header is judged, what a fail-open chain lets through, or what the
//! proxy learns from a denial; a failed reload leaves the serving generation
//! exactly as it was.

use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue};
use gatehouse_tests::{
    auth_config, check_request, http_of,
    http_server::{Reply, TestServer},
    step, tagged_config, verdict, Host, PluginDir, Verdict,
};

const RH: &str = "librequired_header.so";
const SH: &str = "libset_headers.so";
const MB: &str = "libmisbehaving.so";
const JWT: &str = "libjwt.so";

async fn host(config: &str, libraries: &[&str], args: &[&str]) -> (Host, PluginDir) {
    let plugins = PluginDir::with(libraries);
    match Host::start(config, &plugins, args).await {
        Ok(host) => (host, plugins),
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    }
}

/// A check whose headers come as Envoy's `header_map`, repeated names kept apart.
fn with_header_map(
    config_id: &str,
    headers: &[(&str, &str)],
) -> envoy_types::pb::envoy::service::auth::v3::CheckRequest {
    let mut request = check_request(Some(config_id), "/", &[]);
    let http = http_of(&mut request);
    http.headers.clear();
    http.header_map = Some(HeaderMap {
        headers: headers
            .iter()
            .map(|(k, v)| HeaderValue {
                key: k.to_string(),
                raw_value: v.as_bytes().to_vec(),
                ..Default::default()
            })
            .collect(),
    });
    request
}

#[tokio::test]
async fn every_copy_of_a_repeated_header_is_judged_in_any_order() {
    let config = auth_config(
        "teams",
        &[step(
            "team",
            RH,
            "RequiredHeader",
            "{requiredHeader: x-team, allowedValues: [platform]}",
        )],
    );
    let (host, _plugins) = host(&config, &[RH], &[]).await;
    let decide = |headers: &'static [(&'static str, &'static str)]| {
        let host = &host;
        async move { verdict(&host.check(with_header_map("teams", headers)).await) }
    };
    assert_eq!(
        decide(&[("x-team", "platform")]).await.denied_status(),
        None
    );
    for copies in [
        &[("x-team", "platform"), ("x-team", "intern")][..],
        &[("x-team", "intern"), ("x-team", "platform")][..],
        &[("X-Team", "platform"), ("x-team", "intern")][..],
    ] {
        assert_eq!(
            decide(copies).await.denied_status(),
            Some(403),
            "a copy outside the allowed values must deny: {copies:?}"
        );
    }
}

#[tokio::test]
async fn fail_open_never_passes_a_client_value_of_an_owned_header() {
    let config = "---\nkind: AuthConfig\nmetadata: {name: lenient}\nspec:\n  failureModeAllow: true\n  failureModeAllowRemoveHeaders: [x-tenant]\n  configs:\n".to_string()
        + &step("strip", SH, "SetHeaders", "{removeHeaders: [x-user]}")
        + &step("slow", MB, "Sleep", "{millis: 2000}");
    let (host, _plugins) = host(&config, &[SH, MB], &["--step-timeout-ms", "100"]).await;
    let request = check_request(
        Some("lenient"),
        "/",
        &[
            ("x-user", "admin"),
            ("x-tenant", "other"),
            ("x-gatehouse-failure-mode-allowed", "false"),
            ("x-innocent", "kept"),
        ],
    );
    let Verdict::Allowed {
        headers, removed, ..
    } = verdict(&host.check(request).await)
    else {
        panic!("failureModeAllow lets a timed-out chain through");
    };
    assert_eq!(
        headers
            .iter()
            .map(|(n, v, _)| (n.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        vec![("x-gatehouse-failure-mode-allowed", "true")],
        "the marker overwrites a client's copy"
    );
    let mut removed = removed.clone();
    removed.sort();
    assert_eq!(
        removed,
        vec!["x-tenant", "x-user"],
        "step 1's removal and the declared owned header"
    );
}

#[tokio::test]
async fn denials_tell_the_proxy_nothing_of_panics_or_loaded_configs() {
    let config = [
        auth_config(
            "secret-config-name",
            &[step("boom", MB, "Panic", "{when: authorize}")],
        ),
        auth_config(
            "other-secret",
            &[step(
                "tag",
                SH,
                "SetHeaders",
                "{headers: [{name: x, value: y}]}",
            )],
        ),
    ]
    .concat();
    let (host, _plugins) = host(&config, &[SH, MB], &[]).await;
    for config_id in [Some("secret-config-name"), Some("nope"), None] {
        let response = host.check(check_request(config_id, "/", &[])).await;
        let message = response
            .status
            .as_ref()
            .map(|s| s.message.clone())
            .unwrap_or_default();
        assert_eq!(verdict(&response).denied_status(), Some(403));
        for secret in [
            "deliberate panic",
            "secret-config-name",
            "other-secret",
            "loaded",
        ] {
            assert!(
                !message.contains(secret),
                "{config_id:?}: status message leaks `{secret}`: {message}"
            );
        }
    }
    let logs = host.logs();
    assert!(
        logs.contains("deliberate panic"),
        "the log keeps the panic:\n{logs}"
    );
    assert!(
        logs.contains("other-secret"),
        "the log keeps the loaded configs:\n{logs}"
    );
}

#[tokio::test]
async fn client_caused_refusals_are_logged_rate_limited() {
    let (host, _plugins) = host(&tagged_config(), &[SH], &[]).await;
    let before = host.log_len();
    for _ in 0..200 {
        let denied = verdict(&host.check(check_request(Some("nope"), "/", &[])).await);
        assert_eq!(denied.denied_status(), Some(403));
    }
    let logs = host.logs_from(before);
    let lines = logs
        .lines()
        .filter(|l| l.contains("unknown auth config"))
        .count();
    assert!(
        (1..=40).contains(&lines),
        "{lines} refusal lines for 200 refusals:\n{logs}"
    );
    let (_, metrics) = host.admin_get("/metrics");
    assert!(
        metrics
            .contains("gatehouse_requests_total{auth_config=\"(unknown)\",decision=\"deny\"} 200"),
        "metrics count every refusal:\n{metrics}"
    );
}

/// A request id is the client's to choose (`x-request-id`): written into a text
/// log line it must not start a line of its own or carry terminal sequences.
#[tokio::test]
async fn a_client_chosen_request_id_cannot_forge_log_lines() {
    let (host, _plugins) = host(&tagged_config(), &[SH], &[]).await;
    let forged = "2026-12-01T00:00:00.000000Z  INFO gatehouse: forged";
    let mut request = check_request(Some("nope"), "/", &[]);
    http_of(&mut request).id = format!("r-1\n{forged}\u{1b}[2J");
    assert_eq!(
        verdict(&host.check(request).await).denied_status(),
        Some(403)
    );
    let logs = host.logs();
    assert!(
        logs.contains(&format!("request_id=r-1\\n{forged}\\u{{1b}}[2J")),
        "the id is logged, escaped:\n{logs}"
    );
    assert!(
        !logs.lines().any(|l| l.starts_with(forged)) && !logs.contains('\u{1b}'),
        "a forged line or an escape sequence reached the log:\n{logs}"
    );
}

#[tokio::test]
async fn a_failed_reload_leaves_the_serving_generation_running_with_its_background_work() {
    let jwks = TestServer::start(Reply::ok("{\"keys\": []}")).await;
    let keyed = auth_config(
        "keyed",
        &[step(
            "token",
            JWT,
            "Jwt",
            &format!(
                "{{jwks: {{url: '{}', refreshSeconds: 1}}}}",
                jwks.url("/jwks")
            ),
        )],
    );
    let (host, _plugins) = host(&keyed, &[JWT, MB], &[]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(jwks.hits() >= 1, "the JWKS is fetched at start");

    let broken =
        keyed.clone() + &auth_config("broken", &[step("boom", MB, "Panic", "{when: start}")]);
    let outcome = host.reload(&broken).await;
    assert!(outcome.contains("reload failed"), "{outcome}");
    let after_failure = jwks.hits();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(
        jwks.hits() >= after_failure + 2,
        "the serving generation's JWKS refresh goes on after a failed reload: {} then {}",
        after_failure,
        jwks.hits()
    );
    let denied = verdict(&host.check(check_request(Some("keyed"), "/", &[])).await);
    assert_eq!(
        denied.denied_status(),
        Some(401),
        "the old chain still answers"
    );
}
