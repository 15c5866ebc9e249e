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
const V1_4: &str = "libversioned_v1_4.so";
const V1_5: &str = "libversioned_v1_5.so";
/// Built against a copy of the current interface numbered as the next minor.
const NEWER: &str = "libversioned_newer.so";
const V2_0: &str = "libversioned_v2_0.so";
const BAD: &str = "libversioned_badlayout.so";

/// Every supported interface version (1.0 to 1.4 through their frozen copies,
/// 1.5 through the current one) loads into one host and answers requests; 1.4
/// libraries get the host's allocator before their first answer, and 1.5 ones
/// answer with answers the host built.
#[tokio::test]
async fn older_and_current_interface_versions_load_side_by_side() {
    let plugins = PluginDir::with(&[V1_0, V1_1, V1_2, V1_3, V1_4, V1_5]);
    let config = [
        auth_config("v1-0", &[step("v", V1_0, "Versioned", "{}")]),
        auth_config("v1-1", &[step("v", V1_1, "Versioned", "{}")]),
        auth_config("v1-2", &[step("v", V1_2, "Versioned", "{}")]),
        auth_config("v1-3", &[step("v", V1_3, "Versioned", "{}")]),
        auth_config("v1-4", &[step("v", V1_4, "Versioned", "{}")]),
        auth_config("v1-5", &[step("v", V1_5, "Versioned", "{}")]),
    ]
    .concat();
    let host = Host::start(&config, &plugins, &[])
        .await
        .expect("1.0, 1.1, 1.2, 1.3, 1.4 and 1.5 plugins must load");
    for (id, version, host_alloc) in [
        ("v1-0", "1.0.0", "no"),
        ("v1-1", "1.1.0", "no"),
        ("v1-2", "1.2.0", "no"),
        ("v1-3", "1.3.0", "no"),
        ("v1-4", "1.4.0", "yes"),
        ("v1-5", "1.5.0", "built"),
    ] {
        let answer = verdict(&host.check(check_request(Some(id), "/", &[])).await);
        assert_eq!(
            answer.header("x-interface-version"),
            Some(version),
            "{id}: {answer:?}"
        );
        assert_eq!(
            answer.header("x-host-alloc"),
            Some(host_alloc),
            "{id}: {answer:?}"
        );
    }
}

/// The answer is the same whoever allocated it: up to 1.3 the plugin's
/// allocator (the host copies every string), in 1.4 the host's (the host
/// takes the buffers over), from 1.5 the host's own answer (built as the
/// plugin adds each effect). A chain of two steps of one version: every
/// upstream header with its append action, the state the first step left for
/// the second, and a denial's status, body and headers, exactly.
#[tokio::test]
async fn every_version_gives_the_same_allow_and_denial_whoever_allocated_the_answer() {
    use gatehouse_tests::Verdict;

    let versions = [
        (V1_0, "1.0.0", "no"),
        (V1_1, "1.1.0", "no"),
        (V1_2, "1.2.0", "no"),
        (V1_3, "1.3.0", "no"),
        (V1_4, "1.4.0", "yes"),
        (V1_5, "1.5.0", "built"),
    ];
    let plugins = PluginDir::with(&versions.map(|(file, ..)| file));
    let config = versions
        .iter()
        .map(|(file, version, _)| {
            auth_config(
                version,
                &[
                    step("first", file, "Versioned", "{}"),
                    step("second", file, "Versioned", "{}"),
                ],
            )
        })
        .collect::<Vec<_>>()
        .concat();
    let host = Host::start(&config, &plugins, &[]).await.expect("start");
    // Overwrite (Envoy's OVERWRITE_IF_EXISTS_OR_ADD) on every header.
    const OVERWRITE: i32 = 2;
    for (_, version, host_alloc) in versions {
        let allowed = verdict(
            &host
                .check(check_request(Some(version), "/p?q=1", &[]))
                .await,
        );
        let expected = |name: &str, value: &str| (name.to_string(), value.to_string(), OVERWRITE);
        assert_eq!(
            allowed,
            Verdict::Allowed {
                headers: vec![
                    expected("x-interface-version", version),
                    expected("x-chain", &format!("{version} {version}")),
                    expected("x-seen-path", "/p?q=1"),
                    expected("x-host-alloc", host_alloc),
                ],
                removed: vec![],
                response_headers: vec![],
            },
            "{version}"
        );
        let denied = verdict(
            &host
                .check(check_request(Some(version), "/", &[("x-deny", "401")]))
                .await,
        );
        assert_eq!(
            denied,
            Verdict::Denied {
                status: 401,
                body: format!("denied by {version}"),
                headers: vec![
                    ("x-denied-by".to_string(), version.to_string()),
                    ("x-host-alloc".to_string(), host_alloc.to_string()),
                ],
            },
            "{version}"
        );
    }
}

/// One chain mixing versions: the 1.2 steps share one converted request (the
/// run's cache holds one per interface type) yet each sees the state left by the
/// step just before it, whatever that step's version (and whoever allocated
/// that step's answer: 1.4 steps answer in the host's allocator, 1.5 steps
/// with answers the host built); 1.0 and 1.1
/// steps get their own copy per step. Each `Versioned` step appends its
/// version to state `chain`.
#[tokio::test]
async fn a_chain_mixing_owned_and_borrowed_versions_passes_state_through_every_step() {
    let plugins = PluginDir::with(&[V1_0, V1_1, V1_2, V1_3, V1_4, V1_5]);
    let chain = [V1_2, V1_5, V1_1, V1_3, V1_4, V1_2, V1_0, V1_3, V1_4, V1_5]
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
            Some("1.2.0 1.5.0 1.1.0 1.3.0 1.4.0 1.2.0 1.0.0 1.3.0 1.4.0 1.5.0"),
            "{answer:?}"
        );
        assert_eq!(answer.header("x-seen-path"), Some(path), "{answer:?}");
        assert_eq!(answer.header("x-interface-version"), Some("1.5.0"));
    }
}

#[tokio::test]
async fn newer_incompatible_and_mismatched_plugins_are_refused_and_host_stays_up() {
    let plugins = PluginDir::with(&[V1_5, NEWER, V2_0, BAD]);
    let good = auth_config("good", &[step("v", V1_5, "Versioned", "{}")]);
    let mut host = Host::start(&good, &plugins, &[]).await.expect("start");
    for (file, expected) in [
        (NEWER, "built against plugin interface 1.6.0; this host supports 1.0.x, 1.1.x, 1.2.x, 1.3.x, 1.4.x, 1.5.x: the plugin is newer than this host: upgrade the host, or rebuild the plugin against interface 1.5"),
        (V2_0, "built against plugin interface 2.0.0; this host supports 1.0.x, 1.1.x, 1.2.x, 1.3.x, 1.4.x, 1.5.x: rebuild the plugin against gatehouse-plugin-api 1.5"),
        (BAD, "interface 1.5.0 type layout mismatch"),
    ] {
        let outcome = host.reload(&auth_config("good", &[step("v", file, "Versioned", "{}")])).await;
        assert!(outcome.contains("reload failed"), "{file}: {outcome}");
        assert!(outcome.contains(expected), "{file}: expected '{expected}' in:\n{outcome}");
        if file == BAD {
            assert!(outcome.contains("AuthRequest"), "layout error must name the type:\n{outcome}");
        }
        let still = verdict(&host.check(check_request(Some("good"), "/", &[])).await);
        assert_eq!(still.header("x-interface-version"), Some("1.5.0"), "old config must keep serving");
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

const ABORT: &str = "libpanic_abort.so";
const ABORT_V1_1: &str = "libpanic_abort_v1_1.so";
/// The start of the refusal of a library built with `panic = "abort"`.
const ABORT_REFUSED: &str = "built with panic = \"abort\": its first panic would kill the host";
/// …and how it says to fix it.
const ABORT_FIX: &str =
    "remove panic = \"abort\" from the plugin's Cargo.toml profiles (and -C panic=abort from RUSTFLAGS) and rebuild";

/// A library that records `panic = "abort"` is refused before any of its code
/// runs: at startup (the host exits) and at reload (the old config keeps serving).
#[tokio::test]
async fn a_panic_abort_library_is_refused_at_startup_and_at_reload() {
    let plugins = PluginDir::with(&[ABORT, V1_2]);
    let abort = auth_config("a", &[step("s", ABORT, "PanicAbort", "{}")]);
    let failure = refused(&abort, &plugins).await;
    assert!(
        failure.log.contains(ABORT_REFUSED) && failure.log.contains(ABORT_FIX),
        "{}",
        failure.log
    );
    assert!(
        failure.log.contains("libpanic_abort.so"),
        "names the file:\n{}",
        failure.log
    );

    let good = auth_config("a", &[step("s", V1_2, "Versioned", "{}")]);
    let mut host = Host::start(&good, &plugins, &[]).await.expect("start");
    let outcome = host.reload(&abort).await;
    assert!(
        outcome.contains("reload failed") && outcome.contains(ABORT_REFUSED),
        "{outcome}"
    );
    let still = verdict(&host.check(check_request(Some("a"), "/", &[])).await);
    assert_eq!(still.header("x-interface-version"), Some("1.2.0"));
    assert!(host.is_running());
}

/// Libraries that cannot record their strategy (frozen 1.0/1.1) still load, as
/// promised, with a warning; the marker-less `panic = "abort"` build is one.
#[tokio::test]
async fn a_library_without_the_panic_marker_loads_with_a_warning() {
    let plugins = PluginDir::with(&[ABORT_V1_1, V1_2]);
    let config = [
        auth_config("old", &[step("s", ABORT_V1_1, "PanicAbort", "{}")]),
        auth_config("new", &[step("s", V1_2, "Versioned", "{}")]),
    ]
    .concat();
    let host = Host::start(&config, &plugins, &[]).await.expect("start");
    let logs = host.logs();
    assert!(
        logs.contains("plugin library does not record its panic strategy"),
        "{logs}"
    );
    assert!(
        logs.contains("panic=\"unwind\"") || logs.contains("panic=unwind"),
        "{logs}"
    );
}

/// A fresh directory for library copies, only this user's.
fn staging_dir(tag: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir =
        gatehouse_tests::target_dir().join(format!("test-staging/{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("staging dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    dir
}

/// Every entry of `dir`, by name.
fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Copies are made under `--library-staging-dir`, mapped, and removed at once:
/// after many reloads of changing libraries nothing is left there, although
/// the process still maps them (as deleted files). Leftovers of a crashed
/// process and the shared directory of earlier releases are removed at start.
#[tokio::test]
async fn library_copies_are_removed_once_mapped_even_after_many_reloads() {
    let staging = staging_dir("reloads");
    let stale = staging.join("gatehouse-staging-999999999-0-abcdef");
    let legacy = staging.join("gatehouse-libraries");
    for dir in [&stale, &legacy] {
        std::fs::create_dir(dir).expect("mkdir");
        std::fs::write(dir.join("libold.so"), vec![0u8; 4096]).expect("write");
    }
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::open(&stale)
        .and_then(|f| f.set_modified(hour_ago))
        .expect("age");

    let plugins = PluginDir::with(&[SH]);
    let config = |n: usize| {
        auth_config(
            "a",
            &[step(
                "s",
                SH,
                "SetHeaders",
                &format!("{{headers: [{{name: x-gen, value: '{n}'}}]}}"),
            )],
        )
    };
    let dir = staging.to_str().expect("utf8");
    let host = Host::start(&config(0), &plugins, &["--library-staging-dir", dir])
        .await
        .expect("start");
    assert_eq!(
        entries(&staging),
        Vec::<String>::new(),
        "stale copies must be removed at start"
    );
    let library = plugins.path().join(SH);
    for n in 1..=12 {
        // New content under the same name (trailing bytes do not change the ELF).
        let mut bytes = std::fs::read(&library).expect("read");
        bytes.extend_from_slice(format!("reload {n}").as_bytes());
        std::fs::write(&library, bytes).expect("rewrite");
        let outcome = host.reload(&config(n)).await;
        assert!(outcome.contains("reloaded on SIGHUP"), "{outcome}");
        let answer = verdict(&host.check(check_request(Some("a"), "/", &[])).await);
        assert_eq!(answer.header("x-gen"), Some(n.to_string().as_str()));
        assert_eq!(
            entries(&staging),
            Vec::<String>::new(),
            "reload {n} left a copy"
        );
    }
    // The copies were made under the staging dir and are mapped as deleted files.
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", host.pid())).expect("maps");
    let mapped: std::collections::BTreeSet<&str> = maps
        .lines()
        .filter(|l| l.contains(dir) && l.contains(SH))
        .filter_map(|l| l.split_whitespace().nth(5))
        .collect();
    assert_eq!(mapped.len(), 13, "one private copy per content:\n{maps}");
    assert!(
        maps.lines()
            .filter(|l| l.contains(dir))
            .all(|l| l.ends_with("(deleted)")),
        "{maps}"
    );
    drop(host);
    let _ = std::fs::remove_dir_all(&staging);
}

/// A staging directory another user could change entries of is refused with
/// a message naming it and the flag: writable by others without the sticky
/// bit, owned by another user, or a symlink another user owns. A directory
/// another user planted where earlier releases put their copies is not used.
#[tokio::test]
async fn a_staging_directory_other_users_can_change_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let plugins = PluginDir::with(&[SH]);
    let config = auth_config("a", &[step("s", SH, "SetHeaders", "{headers: []}")]);
    let root = staging_dir("refused");
    let open = root.join("open");
    std::fs::create_dir(&open).expect("mkdir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let mut cases = vec![(
        open.clone(),
        "is writable by other users (mode 777) and not sticky",
    )];

    // Ownership by another user can only be arranged by root (CI runs as root).
    let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    if as_root {
        let foreign = root.join("foreign");
        std::fs::create_dir(&foreign).expect("mkdir");
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).expect("chown");
        cases.push((foreign, "is owned by another user (uid 65534)"));
        let link = root.join("link");
        let target = root.join("target");
        std::fs::create_dir(&target).expect("mkdir");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).expect("lchown");
        cases.push((link, "is a symlink owned by another user (uid 65534)"));
    } else {
        eprintln!("not root: skipping the foreign-owner cases");
    }
    for (dir, expected) in cases {
        let dir_arg = dir.to_str().expect("utf8");
        let failure =
            match Host::start(&config, &plugins, &["--library-staging-dir", dir_arg]).await {
                Ok(_) => panic!("host loaded a library through {dir_arg}"),
                Err(failure) => failure,
            };
        assert!(
            failure
                .log
                .contains(&format!("staging directory {dir_arg} {expected}"))
                && failure.log.contains("--library-staging-dir"),
            "{dir_arg}: expected '{expected}' in:\n{}",
            failure.log
        );
        assert_eq!(
            entries(&dir),
            Vec::<String>::new(),
            "nothing written into {dir_arg}"
        );
    }

    // Another user's world-writable `gatehouse-libraries` (where copies used to
    // go, with a symlink planted in it) is neither used nor removed.
    let parent = staging_dir("planted");
    let planted = parent.join("gatehouse-libraries");
    std::fs::create_dir(&planted).expect("mkdir");
    let victim = parent.join("victim");
    std::fs::write(&victim, b"victim").expect("victim");
    std::os::unix::fs::symlink(&victim, planted.join(SH)).expect("symlink");
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    if as_root {
        std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).expect("chown");
    }
    let dir_arg = parent.to_str().expect("utf8");
    let host = Host::start(&config, &plugins, &["--library-staging-dir", dir_arg])
        .await
        .expect("start");
    if as_root {
        assert_eq!(
            entries(&planted),
            vec![SH.to_string()],
            "another user's directory is left alone"
        );
    }
    assert_eq!(
        std::fs::read(&victim).expect("victim"),
        b"victim",
        "the planted symlink was followed"
    );
    drop(host);
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&parent);
}
