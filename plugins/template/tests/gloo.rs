//! docs/porting-from-gloo.md's port of Gloo's RequiredHeader
//! (`examples/gloo_required_header.rs`, built as
//! `target/<profile>/examples/libgloo_required_header.so`) in the real host,
//! decided as the Go original decides: the allowed value passes with
//! `matched-allowed-headers: true`, anything else is a 403.

use gatehouse_tests::{auth_config, check_request, step, target_dir, verdict, Host, PluginDir};

const LIB: &str = "libgloo_required_header.so";

fn plugins() -> PluginDir {
    let plugins = PluginDir::with(&[]);
    let built = target_dir().join("examples").join(LIB);
    std::fs::copy(&built, plugins.path().join(LIB)).unwrap_or_else(|e| {
        panic!(
            "{} is not built ({e}): run `cargo build --workspace --all-targets`",
            built.display()
        )
    });
    plugins
}

#[tokio::test]
async fn the_port_decides_as_gloos_required_header_with_gloos_config_keys() {
    let plugins = plugins();
    // Gloo's PascalCase keys (serde aliases) and the Rust spelling both load.
    let config = [
        auth_config(
            "gloo",
            &[step(
                "required-header",
                LIB,
                "RequiredHeader",
                "{RequiredHeader: x-team, AllowedValues: [platform, security]}",
            )],
        ),
        auth_config(
            "rust",
            &[step(
                "required-header",
                LIB,
                "RequiredHeader",
                "{requiredHeader: x-team, allowedValues: [security]}",
            )],
        ),
    ]
    .concat();
    let host = match Host::start(&config, &plugins, &[]).await {
        Ok(host) => host,
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    };
    let ask = |id: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let host = &host;
        async move { verdict(&host.check(check_request(Some(id), "/", headers)).await) }
    };

    let ok = ask("gloo", &[("x-team", "platform")]).await;
    assert_eq!(ok.denied_status(), None, "{ok:?}");
    assert_eq!(ok.header("matched-allowed-headers"), Some("true"), "{ok:?}");
    let ok = ask("rust", &[("X-Team", "security")]).await;
    assert_eq!(ok.header("matched-allowed-headers"), Some("true"), "{ok:?}");

    let wrong = ask("gloo", &[("x-team", "sales")]).await;
    assert_eq!(wrong.denied_status(), Some(403), "{wrong:?}");
    assert_eq!(wrong.header("matched-allowed-headers"), None, "{wrong:?}");
    let missing = ask("rust", &[("x-other", "security")]).await;
    assert_eq!(missing.denied_status(), Some(403), "{missing:?}");

    // Gloo's log lines come out of the host, tagged with the plugin.
    let logs = host.logs();
    for line in [
        "Parsed RequiredHeaderAuthService config",
        "Header value match. Allowing request.",
        "Header value does not match allowed values, denying access.",
        "Required header not found, denying access",
    ] {
        assert!(logs.contains(line), "no `{line}` in:\n{logs}");
    }
}

#[tokio::test]
async fn a_misspelt_gloo_key_is_refused_by_name() {
    let plugins = plugins();
    let config = auth_config(
        "gloo",
        &[step(
            "required-header",
            LIB,
            "RequiredHeader",
            "{RequiredHeader: x-team, AllowedValue: [platform]}",
        )],
    );
    match Host::start(&config, &plugins, &[]).await {
        Ok(_) => panic!("a misspelt key must be refused"),
        Err(failure) => assert!(
            failure.log.contains("unknown field `AllowedValue`"),
            "{}",
            failure.log
        ),
    }
}
