//! `libjwt.so` in the real host over gRPC: tokens signed here with fresh keys, a
//! JWKS served by a local HTTP server, key rotation, a chain into `SetHeaders`,
//! and the README example. Build first: `cargo build --workspace`.

#[path = "../src/testkit/mod.rs"]
mod testkit;

use std::time::Duration;

use gatehouse_tests::http_server::{Reply, TestServer};
use gatehouse_tests::{
    auth_config, check_request, plugins_readme_example, step, verdict, Host, PluginDir, Verdict,
};
use serde_json::{json, Value};
use testkit::{claims, jwks, now, tampered, unsigned, TestKey};

const JWT: &str = "libjwt.so";
const SH: &str = "libset_headers.so";
/// A chain deadline well above the waits under test.
const HOST_ARGS: &[&str] = &["--chain-deadline-ms", "3000", "--step-timeout-ms", "3000"];
const ISS: &str = "https://issuer.test/";
const AUD: &str = "orders";

/// A host running `config`. Tests of the plugin's own behaviour give the chain
/// a roomy deadline (`HOST_ARGS`) so a loaded machine cannot turn them into host
/// timeouts; the README example runs with the host's defaults (`&[]`).
async fn host(config: &str, args: &[&str]) -> (Host, PluginDir) {
    let plugins = PluginDir::with(&[JWT, SH]);
    match Host::start(config, &plugins, args).await {
        Ok(host) => (host, plugins),
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    }
}

fn serving(keys: &[&TestKey]) -> Reply {
    Reply::ok(jwks(keys).to_string()).header("content-type", "application/json")
}

/// A `Jwt` step (config as JSON, which is YAML too).
fn jwt_step(config: Value) -> String {
    step("jwt", JWT, "Jwt", &config.to_string())
}

/// Waits until `server` has answered `n` fetches, plus a moment for the plugin
/// to take the keys in.
async fn fetched(server: &TestServer, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.hits() < n {
        assert!(std::time::Instant::now() < deadline, "JWKS never fetched");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn check(host: &Host, config_id: &str, token: Option<&str>) -> Verdict {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    verdict(
        &host
            .check(check_request(Some(config_id), "/", &headers))
            .await,
    )
}

#[tokio::test]
async fn jwt_then_set_headers_reads_the_claims_from_state() {
    let key = TestKey::ec("ec-1");
    let server = TestServer::start(serving(&[&key])).await;
    let config = auth_config(
        "chain",
        &[
            jwt_step(json!({
                "issuer": ISS, "audiences": [AUD],
                "jwks": {"url": server.url("/jwks.json"), "refetchWaitMs": 1000},
                "forwardClaims": [{"claim": "sub", "header": "x-user"}],
            })),
            step(
                "alice-only",
                SH,
                "SetHeaders",
                "{requireState: {jwt.claim.sub: alice}, headers: [{name: x-chain, value: ok}]}",
            ),
        ],
    );
    let (host, _plugins) = host(&config, HOST_ARGS).await;

    let alice = check(&host, "chain", Some(&key.sign(&claims("alice", ISS, AUD)))).await;
    assert_eq!(alice.header("x-user"), Some("alice"), "{alice:?}");
    assert_eq!(alice.header("x-chain"), Some("ok"), "{alice:?}");

    let bob = check(&host, "chain", Some(&key.sign(&claims("bob", ISS, AUD)))).await;
    assert_eq!(bob.denied_status(), Some(403), "step 2 denies: {bob:?}");

    let none = check(&host, "chain", None).await;
    let Verdict::Denied {
        status, headers, ..
    } = &none
    else {
        panic!("{none:?}")
    };
    assert_eq!(*status, 401);
    assert!(headers.contains(&("www-authenticate".into(), "Bearer".into())));
}

#[tokio::test]
async fn invalid_tokens_are_denied_401() {
    let key = TestKey::ed("ed-1");
    let server = TestServer::start(serving(&[&key])).await;
    let config = auth_config(
        "strict",
        &[jwt_step(json!({
            "issuer": ISS, "audiences": [AUD], "leewaySeconds": 30,
            "jwks": {"url": server.url("/jwks.json"), "refetchWaitMs": 1000},
        }))],
    );
    let (host, _plugins) = host(&config, HOST_ARGS).await;
    let valid = claims("alice", ISS, AUD);
    let with = |field: &str, value: Value| {
        let mut c = valid.clone();
        c[field] = value;
        c
    };
    let cases = [
        ("expired", key.sign(&with("exp", json!(now() - 120)))),
        ("not yet valid", key.sign(&with("nbf", json!(now() + 120)))),
        ("wrong audience", key.sign(&with("aud", json!("billing")))),
        (
            "wrong issuer",
            key.sign(&with("iss", json!("https://evil.test/"))),
        ),
        ("bad signature", tampered(&key.sign(&valid))),
        ("forged", TestKey::ed("ed-1").sign(&valid)),
        ("alg none", unsigned(&valid)),
    ];
    for (what, token) in &cases {
        let v = check(&host, "strict", Some(token)).await;
        assert_eq!(v.denied_status(), Some(401), "{what}: {v:?}");
    }
    let ok = check(&host, "strict", Some(&key.sign(&valid))).await;
    assert!(matches!(ok, Verdict::Allowed { .. }), "{ok:?}");
}

#[tokio::test]
async fn a_new_kid_is_picked_up_after_rotation() {
    let a = TestKey::rsa_shared(0, "kid-a");
    let b = TestKey::ec("kid-b");
    let server = TestServer::start(serving(&[&a])).await;
    let config = auth_config(
        "rotating",
        &[jwt_step(json!({
            "jwks": {
                "url": server.url("/jwks.json"),
                "cooldownSeconds": 0,
                "refetchWaitMs": 1000,
            },
        }))],
    );
    let (host, _plugins) = host(&config, HOST_ARGS).await;
    let token_a = a.sign(&claims("alice", ISS, AUD));
    let token_b = b.sign(&claims("bob", ISS, AUD));

    assert!(matches!(
        check(&host, "rotating", Some(&token_a)).await,
        Verdict::Allowed { .. }
    ));
    let before = check(&host, "rotating", Some(&token_b)).await;
    assert_eq!(
        before.denied_status(),
        Some(401),
        "kid-b not served yet: {before:?}"
    );

    server.set_reply(serving(&[&a, &b]));
    let after = check(&host, "rotating", Some(&token_b)).await;
    assert!(
        matches!(after, Verdict::Allowed { .. }),
        "kid-b picked up: {after:?}"
    );
    assert!(matches!(
        check(&host, "rotating", Some(&token_a)).await,
        Verdict::Allowed { .. }
    ));
}

#[tokio::test]
async fn background_refresh_runs_until_the_config_is_replaced() {
    let a = TestKey::ec("a");
    let b = TestKey::ec("b");
    let server = TestServer::start(serving(&[&a])).await;
    let config = auth_config(
        "refreshing",
        &[jwt_step(json!({
            "jwks": {"url": server.url("/jwks.json"), "refreshSeconds": 1, "cooldownSeconds": 3600},
        }))],
    );
    let (host, _plugins) = host(&config, HOST_ARGS).await;
    fetched(&server, 1).await;
    let token_b = b.sign(&claims("bob", ISS, AUD));
    assert!(matches!(
        check(&host, "refreshing", Some(&a.sign(&claims("a", ISS, AUD)))).await,
        Verdict::Allowed { .. }
    ));
    server.set_reply(serving(&[&a, &b]));
    // The cooldown rules out a refetch for kid b: only the periodic refresh
    // can bring it in.
    let before = server.hits();
    fetched(&server, before + 1).await;
    let v = check(&host, "refreshing", Some(&token_b)).await;
    assert!(matches!(v, Verdict::Allowed { .. }), "{v:?}");

    // Replace the config with one that fetches nothing: the old loop stops.
    let inline = auth_config(
        "inline",
        &[jwt_step(json!({"jwks": {"inline": jwks(&[&a])}}))],
    );
    let outcome = host.reload(&inline).await;
    assert!(outcome.contains("reloaded on SIGHUP"), "{outcome}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits = server.hits();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(
        server.hits(),
        hits,
        "no fetch after the service was stopped"
    );
}

#[tokio::test]
async fn readme_example_runs() {
    let key = TestKey::ec("idp-1");
    let server = TestServer::start(serving(&[&key])).await;
    let yaml = plugins_readme_example("jwt").replace(
        "https://idp.example.com/.well-known/jwks.json",
        &server.url("/jwks.json"),
    );
    let (host, _plugins) = host(&yaml, &[]).await;
    fetched(&server, 1).await;
    let id = "gloo-system.orders-jwt";
    let token = |tenant: &str| {
        let mut c = claims("alice", "https://idp.example.com/", "orders-api");
        c["tenant"] = json!(tenant);
        c["scope"] = json!("orders:read");
        key.sign(&c)
    };
    let acme = check(&host, id, Some(&token("acme"))).await;
    assert_eq!(acme.header("x-user"), Some("alice"), "{acme:?}");
    assert_eq!(acme.header("x-scope"), Some("orders:read"), "{acme:?}");
    assert_eq!(acme.header("x-authenticated-by"), Some("jwt"), "{acme:?}");
    let globex = check(&host, id, Some(&token("globex"))).await;
    assert_eq!(globex.denied_status(), Some(403), "{globex:?}");
    assert_eq!(check(&host, id, None).await.denied_status(), Some(401));
}
