//! Loads the built `libplugin_template.so` into the real host and sends it
//! requests over gRPC, as Envoy would. Build first: `cargo build --workspace`.

use gatehouse_tests::{auth_config, check_request, step, verdict, Host, PluginDir};

#[tokio::test]
async fn allows_listed_values_and_denies_the_rest() {
    // A plugin directory holding a copy of the .so, and a one-step auth config.
    let plugins = PluginDir::with(&["libplugin_template.so"]);
    let config = auth_config(
        "demo",
        &[step(
            "allow-list",
            "libplugin_template.so",
            "AllowList",
            "{header: x-team, allowed: [platform, security], denyDelayMs: 10}",
        )],
    );
    let host = match Host::start(&config, &plugins, &[]).await {
        Ok(host) => host,
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    };

    let ok = verdict(
        &host
            .check(check_request(Some("demo"), "/", &[("x-team", "platform")]))
            .await,
    );
    assert_eq!(ok.header("x-allow-list"), Some("passed"), "{ok:?}");

    let wrong = verdict(
        &host
            .check(check_request(Some("demo"), "/", &[("x-team", "sales")]))
            .await,
    );
    assert_eq!(wrong.denied_status(), Some(403), "{wrong:?}");

    let missing = verdict(&host.check(check_request(Some("demo"), "/", &[])).await);
    assert_eq!(missing.denied_status(), Some(403), "{missing:?}");
}

#[tokio::test]
async fn a_bad_config_stops_the_host_with_the_plugins_message() {
    let plugins = PluginDir::with(&["libplugin_template.so"]);
    let config = auth_config(
        "demo",
        &[step(
            "allow-list",
            "libplugin_template.so",
            "AllowList",
            "{header: x-team, allowed: []}",
        )],
    );
    match Host::start(&config, &plugins, &[]).await {
        Ok(_) => panic!("an empty `allowed` must be refused"),
        Err(failure) => assert!(
            failure.log.contains("allowed: give at least one value"),
            "{}",
            failure.log
        ),
    }
}
