//! Plugin loading through the real binary: config errors, path rules, interface
//! versions, panicking factories, and reloads that keep the old configuration.

use gatehouse_tests::{auth_config, check_request, step, verdict, Host, PluginDir, StartFailure};

const RH: &str = "librequired_header.so";
const SH: &str = "libset_headers.so";
const MB: &str = "libmisbehaving.so";

async fn refused(config: &str, plugins: &PluginDir) -> StartFailure {
    match Host::start(config, plugins, &[]).await {
        Ok(_) => panic!("gatehouse accepted a config it must refuse:\n{config}"),
        Err(failure) => {
            assert!(
                failure.code.is_some_and(|c| c != 0),
                "must exit non-zero: {failure:?}"
            );
            failure
        }
    }
}

#[tokio::test]
async fn config_error_names_the_field_and_host_exits() {
    let plugins = PluginDir::with(&[RH]);
    let config = auth_config(
        "bad",
        &[step(
            "team",
            RH,
            "RequiredHeader",
            "{requiredHeader: x, allowedValues: [a, b, 3]}",
        )],
    );
    let failure = refused(&config, &plugins).await;
    assert!(
        failure
            .log
            .contains("allowedValues[2]: invalid type: integer `3`, expected a string"),
        "{}",
        failure.log
    );
    assert!(
        failure.log.contains("auth config 'bad'") && failure.log.contains("step 1 'team'"),
        "{}",
        failure.log
    );
}

#[tokio::test]
async fn plugin_file_must_stay_inside_the_plugin_dir() {
    let plugins = PluginDir::with(&[RH]);
    let outside = plugins.path().parent().expect("parent").join("outside.so");
    std::fs::copy(plugins.path().join(RH), &outside).expect("copy");
    std::os::unix::fs::symlink(&outside, plugins.path().join("escape.so")).expect("symlink");
    let cfg = "{requiredHeader: x, allowedValues: [a]}";
    for (file, expected) in [
        ("../outside.so", "must not contain '..'"),
        (outside.to_str().expect("utf8"), "not an absolute path"),
        ("escape.so", "outside the plugin directory"),
        ("missing.so", "not found in plugin directory"),
    ] {
        let failure = refused(
            &auth_config("x", &[step("s", file, "RequiredHeader", cfg)]),
            &plugins,
        )
        .await;
        assert!(
            failure.log.contains(expected),
            "{file}: expected '{expected}' in:\n{}",
            failure.log
        );
    }
    let _ = std::fs::remove_file(outside);
}

#[tokio::test]
async fn wrong_exported_name_lists_the_real_ones() {
    let plugins = PluginDir::with(&[MB]);
    let failure = refused(&auth_config("x", &[step("s", MB, "Nope", "{}")]), &plugins).await;
    assert!(
        failure
            .log
            .contains("exports no plugin named 'Nope'; it exports: Whoami, Panic, Sleep, Fail"),
        "{}",
        failure.log
    );
}

#[tokio::test]
async fn panicking_factory_or_start_refuses_the_config() {
    let plugins = PluginDir::with(&[MB]);
    let failure = refused(
        &auth_config("x", &[step("s", MB, "Panic", "{when: new}")]),
        &plugins,
    )
    .await;
    assert!(failure.log.contains("plugin panicked"), "{}", failure.log);
    let failure = refused(
        &auth_config("x", &[step("s", MB, "Panic", "{when: start}")]),
        &plugins,
    )
    .await;
    assert!(
        failure.log.contains("failed to start") && failure.log.contains("plugin panicked"),
        "{}",
        failure.log
    );
}

#[tokio::test]
async fn two_libraries_side_by_side_answer_as_themselves() {
    let plugins = PluginDir::with(&[RH, SH, MB]);
    let config = [
        auth_config(
            "rh",
            &[step(
                "rh",
                RH,
                "RequiredHeader",
                "{requiredHeader: x-a, allowedValues: [ok]}",
            )],
        ),
        auth_config(
            "sh",
            &[step(
                "sh",
                SH,
                "SetHeaders",
                "{headers: [{name: x-from, value: set-headers}]}",
            )],
        ),
        auth_config("mb", &[step("mb", MB, "Whoami", "{name: misbehaving}")]),
    ]
    .concat();
    let host = Host::start(&config, &plugins, &[]).await.expect("start");
    let rh = verdict(&host.check(check_request(Some("rh"), "/", &[])).await);
    assert_eq!(rh.denied_status(), Some(401));
    let sh = verdict(&host.check(check_request(Some("sh"), "/", &[])).await);
    assert_eq!(sh.header("x-from"), Some("set-headers"));
    let mb = verdict(&host.check(check_request(Some("mb"), "/", &[])).await);
    assert_eq!(mb.header("x-whoami"), Some("misbehaving"));
}

const V1_0: &str = "libversioned_v1_0.so";
const V1_1: &str = "libversioned_v1_1.so";
const V1_2: &str = "libversioned_v1_2.so";
const V1_3: &str = "libversioned_v1_3.so";
const V2_0: &str = "libversioned_v2_0.so";
const BAD: &str = "libversioned_badlayout.so";

/// Every supported interface version (1.0 and 1.1 through their frozen copies,
/// 1.2 through the current one) loads into one host and answers requests.
#[tokio::test]
async fn older_and_current_interface_versions_load_side_by_side() {
    let plugins = PluginDir::with(&[V1_0, V1_1, V1_2]);
    let config = [
        auth_config("v1-0", &[step("v", V1_0, "Versioned", "{}")]),
        auth_config("v1-1", &[step("v", V1_1, "Versioned", "{}")]),
        auth_config("v1-2", &[step("v", V1_2, "Versioned", "{}")]),
    ]
    .concat();
    let host = Host::start(&config, &plugins, &[])
        .await
        .expect("1.0, 1.1 and 1.2 plugins must load");
    for (id, version) in [("v1-0", "1.0.0"), ("v1-1", "1.1.0"), ("v1-2", "1.2.0")] {
        let answer = verdict(&host.check(check_request(Some(id), "/", &[])).await);
        assert_eq!(
            answer.header("x-interface-version"),
            Some(version),
            "{id}: {answer:?}"
        );
    }
}

/// One chain mixing versions: the 1.2 steps share one converted request (the
/// run's cache holds one per interface type) yet each sees the state left by the
/// step just before it, whatever that step's version; 1.0 and 1.1 steps get their
/// own copy per step. Each `Versioned` step appends its version to state `chain`.
#[tokio::test]
async fn a_chain_mixing_owned_and_borrowed_versions_passes_state_through_every_step() {
    let plugins = PluginDir::with(&[V1_0, V1_1, V1_2]);
    let chain = [V1_2, V1_1, V1_2, V1_0, V1_2]
        .iter()
        .enumerate()
        .map(|(i, file)| step(&format!("s{i}"), file, "Versioned", "{}"))
        .collect::<Vec<_>>();
    let host = Host::start(&auth_config("mixed", &chain), &plugins, &[])
        .await
        .expect("start");
    for path in ["/first?q=1", "/second"] {
        let answer = verdict(&host.check(check_request(Some("mixed"), path, &[])).await);
        assert_eq!(
            answer.header("x-chain"),
            Some("1.2.0 1.1.0 1.2.0 1.0.0 1.2.0"),
            "{answer:?}"
        );
        assert_eq!(answer.header("x-seen-path"), Some(path), "{answer:?}");
        assert_eq!(answer.header("x-interface-version"), Some("1.2.0"));
    }
}

#[tokio::test]
async fn newer_incompatible_and_mismatched_plugins_are_refused_and_host_stays_up() {
    let plugins = PluginDir::with(&[V1_2, V1_3, V2_0, BAD]);
    let good = auth_config("good", &[step("v", V1_2, "Versioned", "{}")]);
    let mut host = Host::start(&good, &plugins, &[]).await.expect("start");
    for (file, expected) in [
        (V1_3, "built against plugin interface 1.3.0; this host supports 1.0.x, 1.1.x, 1.2.x: the plugin is newer than this host"),
        (V2_0, "built against plugin interface 2.0.0; this host supports 1.0.x, 1.1.x, 1.2.x: rebuild the plugin against gatehouse-plugin-api 1.2"),
        (BAD, "interface 1.2.0 type layout mismatch"),
    ] {
        let outcome = host.reload(&auth_config("good", &[step("v", file, "Versioned", "{}")])).await;
        assert!(outcome.contains("reload failed"), "{file}: {outcome}");
        assert!(outcome.contains(expected), "{file}: expected '{expected}' in:\n{outcome}");
        if file == BAD {
            assert!(outcome.contains("AuthRequest"), "layout error must name the type:\n{outcome}");
        }
        let still = verdict(&host.check(check_request(Some("good"), "/", &[])).await);
        assert_eq!(still.header("x-interface-version"), Some("1.2.0"), "old config must keep serving");
    }
    assert!(host.is_running());
}

#[tokio::test]
async fn reload_swaps_to_a_good_config() {
    let plugins = PluginDir::with(&[SH]);
    let first = auth_config(
        "a",
        &[step(
            "s",
            SH,
            "SetHeaders",
            "{headers: [{name: x-gen, value: one}]}",
        )],
    );
    let host = Host::start(&first, &plugins, &[]).await.expect("start");
    let second = auth_config(
        "a",
        &[step(
            "s",
            SH,
            "SetHeaders",
            "{headers: [{name: x-gen, value: two}]}",
        )],
    );
    let outcome = host.reload(&second).await;
    assert!(outcome.contains("reloaded on SIGHUP"), "{outcome}");
    let result = verdict(&host.check(check_request(Some("a"), "/", &[])).await);
    assert_eq!(result.header("x-gen"), Some("two"));
}
