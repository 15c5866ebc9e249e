//! `libhttp_callout.so` in the real host over gRPC, against a local server
//! standing in for the authorization service: allow, deny, timeout, 5xx, cache
//! hits and expiry, and the README example. Build first: `cargo build --workspace`.

use std::time::Duration;

use gatehouse_tests::http_server::{Reply, TestServer};
use gatehouse_tests::{
    auth_config, check_request, plugins_readme_example, step, verdict, Host, PluginDir, Verdict,
};
use serde_json::{json, Value};

const HC: &str = "libhttp_callout.so";
const SH: &str = "libset_headers.so";
/// A chain deadline well above the timeouts under test.
const HOST_ARGS: &[&str] = &["--chain-deadline-ms", "3000", "--step-timeout-ms", "3000"];
const UNAVAILABLE: &str = "authorization service unavailable";

/// A host running `config`. Tests of the plugin's own behaviour give the chain
/// a roomy deadline (`HOST_ARGS`) so a loaded machine cannot turn them into host
/// timeouts; the README example runs with the host's defaults (`&[]`).
async fn host(config: &str, args: &[&str]) -> (Host, PluginDir) {
    let plugins = PluginDir::with(&[HC, SH]);
    match Host::start(config, &plugins, args).await {
        Ok(host) => (host, plugins),
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    }
}

/// An auth config `id` with one `HttpCallout` step asking `server`.
fn callout_config(id: &str, server: &TestServer, extra: Value) -> String {
    let mut config = json!({
        "url": server.url("/check"),
        "timeoutMs": 100,
        "pathHeader": "x-original-uri",
        "copyHeadersOnAllow": ["x-user-id"],
        "copyHeadersOnDeny": ["www-authenticate"],
    });
    if let (Some(c), Value::Object(extra)) = (config.as_object_mut(), extra) {
        c.extend(extra);
    }
    auth_config(
        id,
        &[step("callout", HC, "HttpCallout", &config.to_string())],
    )
}

async fn check(host: &Host, id: &str, headers: &[(&str, &str)]) -> Verdict {
    verdict(
        &host
            .check(check_request(Some(id), "/orders/7", headers))
            .await,
    )
}

fn denied_body(v: &Verdict) -> Option<(i32, &str)> {
    match v {
        Verdict::Denied { status, body, .. } => Some((*status, body.as_str())),
        Verdict::Allowed { .. } => None,
    }
}

#[tokio::test]
async fn allow_and_deny_follow_the_service() {
    let server = TestServer::start(Reply::ok("").header("x-user-id", "u-42")).await;
    let (host, _plugins) = host(&callout_config("c", &server, json!({})), HOST_ARGS).await;

    let allowed = check(&host, "c", &[("authorization", "Bearer good")]).await;
    assert_eq!(allowed.header("x-user-id"), Some("u-42"), "{allowed:?}");
    let seen = &server.seen()[0];
    assert_eq!(seen.header("authorization"), Some("Bearer good"));
    assert_eq!(seen.header("x-original-uri"), Some("/orders/7"));

    server.set_reply(
        Reply::status(401, "token revoked").header("www-authenticate", "Bearer realm=\"api\""),
    );
    let denied = check(&host, "c", &[("authorization", "Bearer revoked")]).await;
    let Verdict::Denied {
        status,
        body,
        headers,
    } = &denied
    else {
        panic!("{denied:?}")
    };
    assert_eq!((*status, body.as_str()), (401, "token revoked"));
    assert!(headers.contains(&("www-authenticate".into(), "Bearer realm=\"api\"".into())));
}

#[tokio::test]
async fn timeouts_and_server_errors_fail_closed() {
    let server = TestServer::start(Reply::status(502, "bad gateway")).await;
    let (host, _plugins) = host(&callout_config("c", &server, json!({})), HOST_ARGS).await;
    let v = check(&host, "c", &[("authorization", "Bearer x")]).await;
    assert_eq!(denied_body(&v), Some((403, UNAVAILABLE)), "{v:?}");

    server.set_reply(Reply::ok("").delay(Duration::from_secs(3)));
    let v = check(&host, "c", &[("authorization", "Bearer x")]).await;
    assert_eq!(
        denied_body(&v),
        Some((403, UNAVAILABLE)),
        "the plugin's timeout, not the host's: {v:?}"
    );
}

#[tokio::test]
async fn failure_mode_allow_fails_open() {
    let server = TestServer::start(Reply::status(503, "")).await;
    let config = callout_config("open", &server, json!({"failureMode": "allow"}));
    let (host, _plugins) = host(&config, HOST_ARGS).await;
    let v = check(&host, "open", &[("x-user-id", "spoofed")]).await;
    let Verdict::Allowed { removed, .. } = &v else {
        panic!("{v:?}")
    };
    assert_eq!(removed, &vec!["x-user-id".to_string()]);
}

#[tokio::test]
async fn allows_are_cached_until_the_ttl() {
    let server = TestServer::start(Reply::ok("").header("x-user-id", "u-1")).await;
    let cache = json!({"cache": {"ttlSeconds": 1, "keyHeaders": ["authorization"]}});
    let (host, _plugins) = host(&callout_config("cached", &server, cache), HOST_ARGS).await;
    let alice = [("authorization", "Bearer alice")];
    for _ in 0..5 {
        let v = check(&host, "cached", &alice).await;
        assert_eq!(v.header("x-user-id"), Some("u-1"), "{v:?}");
    }
    assert_eq!(server.hits(), 1, "one callout for five requests");

    // While cached, the service being down does not matter.
    server.set_reply(Reply::status(503, ""));
    assert_eq!(
        check(&host, "cached", &alice).await.header("x-user-id"),
        Some("u-1")
    );
    assert_eq!(server.hits(), 1);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let v = check(&host, "cached", &alice).await;
    assert_eq!(
        denied_body(&v),
        Some((403, UNAVAILABLE)),
        "expired: asked again: {v:?}"
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn readme_example_runs() {
    let server = TestServer::start(Reply::ok("").header("x-user-id", "u-42")).await;
    let yaml = plugins_readme_example("http-callout")
        .replace("http://auth.internal:9000/check", &server.url("/check"));
    let (host, _plugins) = host(&yaml, &[]).await;
    let id = "gloo-system.session-check";
    let cookie = [("cookie", "session=abc")];
    for _ in 0..3 {
        let v = check(&host, id, &cookie).await;
        assert_eq!(v.header("x-user-id"), Some("u-42"), "{v:?}");
        assert_eq!(
            v.header("x-authenticated-by"),
            Some("http-callout"),
            "{v:?}"
        );
    }
    assert_eq!(server.hits(), 1, "cached by cookie");
    assert_eq!(server.seen()[0].header("cookie"), Some("session=abc"));

    server.set_reply(Reply::status(401, "login first").header("www-authenticate", "Cookie"));
    let v = check(&host, id, &[("cookie", "session=other")]).await;
    assert_eq!(denied_body(&v), Some((401, "login first")), "{v:?}");
}
