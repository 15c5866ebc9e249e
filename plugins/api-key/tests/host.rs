//! `libapi_key.so` in the real host over gRPC: right, wrong and missing keys,
//! a refused config, and the plugins/README.md example (a keys file and a
//! chain into `ClaimsPolicy`).
//! Build first: `cargo build --workspace`.

use gatehouse_tests::{
    auth_config, check_request, plugins_readme_example, step, verdict, Host, PluginDir, Verdict,
};

const AK: &str = "libapi_key.so";
const CP: &str = "libclaims_policy.so";

async fn start(config: &str, plugins: &PluginDir) -> Host {
    match Host::start(config, plugins, &[]).await {
        Ok(host) => host,
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    }
}

fn denied(v: &Verdict) -> (i32, &str) {
    match v {
        Verdict::Denied { status, body, .. } => (*status, body.as_str()),
        Verdict::Allowed { .. } => panic!("expected a denial, got {v:?}"),
    }
}

#[tokio::test]
async fn right_wrong_and_missing_keys() {
    let plugins = PluginDir::with(&[AK]);
    let config = auth_config(
        "keys",
        &[step(
            "api-key",
            AK,
            "ApiKey",
            "{keys: [{key: k-alice, user: alice}, {key: k-bob, user: bob}], \
              queryParam: api_key, forwardUserHeader: x-user}",
        )],
    );
    let host = start(&config, &plugins).await;
    let check = |path: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let host = &host;
        async move { verdict(&host.check(check_request(Some("keys"), path, headers)).await) }
    };

    let by_header = check("/", &[("x-api-key", "k-alice"), ("x-user", "mallory")]).await;
    assert_eq!(by_header.header("x-user"), Some("alice"), "{by_header:?}");
    let by_query = check("/items?api_key=k-bob", &[]).await;
    assert_eq!(by_query.header("x-user"), Some("bob"), "{by_query:?}");

    assert_eq!(
        denied(&check("/", &[("x-api-key", "k-eve")]).await),
        (401, "invalid API key")
    );
    assert_eq!(
        denied(&check("/?api_key=nope", &[]).await),
        (401, "invalid API key")
    );
    assert_eq!(denied(&check("/", &[]).await), (401, "missing API key"));
}

#[tokio::test]
async fn missing_keys_file_refuses_the_config_naming_the_file() {
    let plugins = PluginDir::with(&[AK]);
    let config = auth_config(
        "file",
        &[step(
            "api-key",
            AK,
            "ApiKey",
            "{keysFile: /nonexistent/gatehouse-keys.txt}",
        )],
    );
    match Host::start(&config, &plugins, &[]).await {
        Ok(_) => panic!("a missing keys file must be refused"),
        Err(failure) => assert!(
            failure
                .log
                .contains("keysFile: cannot read /nonexistent/gatehouse-keys.txt"),
            "{}",
            failure.log
        ),
    }
}

#[tokio::test]
async fn readme_example_runs_keys_file_and_policy_chain() {
    let plugins = PluginDir::with(&[AK, CP]);
    let keys_file = plugins.path().join("api-keys.yaml");
    std::fs::write(
        &keys_file,
        "billing-9d8e7f6a5b4c3d2e: billing\nintern-0a1b2c3d4e5f6a7b: intern\n",
    )
    .expect("write keys file");
    let config = plugins_readme_example("api-key").replace(
        "/etc/gatehouse/api-keys.yaml",
        keys_file.to_str().expect("utf-8 path"),
    );
    let host = start(&config, &plugins).await;
    let check = |path: &'static str, key: Option<&'static str>| {
        let host = &host;
        async move {
            let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
            let request = check_request(Some("gloo-system.reports-api"), path, &headers);
            verdict(&host.check(request).await)
        }
    };

    let batch = check("/", Some("batch-3f9c2e7a51d04b6c")).await;
    assert_eq!(batch.header("x-user"), Some("batch-job"), "{batch:?}");
    assert_eq!(
        batch.header("x-authenticated-by"),
        Some("api-key:batch-job")
    );
    let Verdict::Allowed { removed, .. } = &batch else {
        panic!("{batch:?}")
    };
    assert_eq!(removed, &vec!["x-api-key".to_string()]);
    let by_query = check("/?api_key=batch-3f9c2e7a51d04b6c", None).await;
    assert_eq!(by_query.header("x-user"), Some("batch-job"), "{by_query:?}");
    let dashboard = check("/", Some("dash-5b2f90c4e1d84a7e")).await;
    assert_eq!(
        dashboard.header("x-user"),
        Some("dashboard"),
        "by hash: {dashboard:?}"
    );
    let billing = check("/", Some("billing-9d8e7f6a5b4c3d2e")).await;
    assert_eq!(
        billing.header("x-user"),
        Some("billing"),
        "from the file: {billing:?}"
    );

    assert_eq!(
        denied(&check("/", Some("intern-0a1b2c3d4e5f6a7b")).await),
        (403, "claim `user` does not satisfy the policy"),
        "a valid key whose user the policy refuses"
    );
    assert_eq!(
        denied(&check("/", Some("nope")).await),
        (401, "invalid API key")
    );
    assert_eq!(denied(&check("/", None).await), (401, "missing API key"));
}
