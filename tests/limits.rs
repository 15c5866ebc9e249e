//! The request limits and the failure policy, each set by its flag on the real
//! binary: every test shows the flag changing the decision.

use gatehouse_tests::{
    auth_config, check_request, http_of, step, tagged_config, verdict, Host, PluginDir,
};

const SH: &str = "libset_headers.so";
const MB: &str = "libmisbehaving.so";

async fn host(config: &str, args: &[&str]) -> (Host, PluginDir) {
    let plugins = PluginDir::with(&[SH, MB]);
    match Host::start(config, &plugins, args).await {
        Ok(host) => (host, plugins),
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    }
}

/// The denial status (None: allowed) of a check carrying `body` and `headers`.
async fn status(host: &Host, body: &str, headers: &[(&str, &str)]) -> Option<i32> {
    let mut request = check_request(Some("tagged"), "/", headers);
    http_of(&mut request).body = body.into();
    verdict(&host.check(request).await).denied_status()
}

#[tokio::test]
async fn max_body_bytes_refuses_larger_bodies_with_413() {
    let (host, _plugins) = host(&tagged_config(), &["--max-body-bytes", "16"]).await;
    assert_eq!(status(&host, "sixteen bytes!!!", &[]).await, None);
    assert_eq!(status(&host, "seventeen bytes!!", &[]).await, Some(413));
}

#[tokio::test]
async fn max_header_bytes_refuses_larger_headers_with_431() {
    let (host, _plugins) = host(&tagged_config(), &["--max-header-bytes", "64"]).await;
    assert_eq!(status(&host, "", &[("x-small", "v")]).await, None);
    let big = "v".repeat(80);
    assert_eq!(status(&host, "", &[("x-big", &big)]).await, Some(431));
}

#[tokio::test]
async fn error_status_is_the_status_of_a_failed_step() {
    let config = auth_config("failing", &[step("boom", MB, "Fail", "{}")]);
    let (host, _plugins) = host(&config, &["--error-status", "503"]).await;
    let denied = verdict(&host.check(check_request(Some("failing"), "/", &[])).await);
    assert_eq!(denied.denied_status(), Some(503));
}

#[tokio::test]
async fn chain_deadline_ms_bounds_the_whole_chain() {
    // Two 150 ms steps: each within the step timeout, together over a 200 ms deadline.
    let config = auth_config(
        "slow",
        &[
            step("one", MB, "Sleep", "{millis: 150}"),
            step("two", MB, "Sleep", "{millis: 150}"),
        ],
    );
    let decide = |args: &'static [&'static str]| {
        let config = config.clone();
        async move {
            let (host, _plugins) = host(&config, args).await;
            verdict(&host.check(check_request(Some("slow"), "/", &[])).await).denied_status()
        }
    };
    assert_eq!(decide(&["--chain-deadline-ms", "1000"]).await, None);
    assert_eq!(decide(&["--chain-deadline-ms", "200"]).await, Some(403));
}
