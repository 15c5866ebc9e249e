//! `gatehouse-verify` through the real binary, on copies of real plugin
//! libraries: every kind of failure must give its exit code and a message a
//! plugin author can act on.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    process::Command,
};

use gatehouse_tests::{target_dir, PluginDir};

const RH: &str = "librequired_header.so";
const SH: &str = "libset_headers.so";
const MB: &str = "libmisbehaving.so";
const V1_0: &str = "libversioned_v1_0.so";
const NEWER: &str = "libversioned_newer.so";
const V2_0: &str = "libversioned_v2_0.so";
const BAD: &str = "libversioned_badlayout.so";

/// One finished run of `gatehouse-verify`.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts the exit code, that every `text` appears in stdout or stderr,
    /// and that the output has the promised shape.
    fn expect(&self, code: i32, texts: &[&str]) -> &Self {
        assert_eq!(self.code, Some(code), "exit code\n{self}");
        let all = format!("{}\n{}", self.stdout, self.stderr);
        for text in texts {
            assert!(all.contains(text), "expected {text:?} in\n{self}");
        }
        for line in self.stdout.lines() {
            assert!(
                line.starts_with("{\"level\":\"")
                    && line.contains(",\"ts\":\"")
                    && line.contains(",\"logger\":\"verify")
                    && line.contains(",\"msg\":\"")
                    && line.ends_with('}'),
                "not a Gloo-style JSON line: {line}\n{self}"
            );
        }
        self
    }

    /// The one-line summary: the last line on stderr (a panicking plugin may
    /// print its own lines before it).
    fn summary(&self) -> &str {
        self.stderr.lines().last().unwrap_or_default()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn binary() -> PathBuf {
    let path = target_dir().join("gatehouse-verify");
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Runs the binary with `args`.
fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = Command::new(binary())
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run gatehouse-verify");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Writes `manifest` into the plugin dir and verifies it with canonical flags.
fn verify(plugins: &PluginDir, manifest: &str) -> Run {
    let file = write_manifest(plugins, manifest);
    run([
        OsStr::new("--plugin-dir"),
        plugins.path().as_os_str(),
        OsStr::new("--manifest"),
        file.as_os_str(),
    ])
}

fn write_manifest(plugins: &PluginDir, manifest: &str) -> PathBuf {
    let file = plugins.path().join("manifest.yaml");
    std::fs::write(&file, manifest).expect("write manifest");
    file
}

/// A Gloo manifest entry for one plugin.
fn entry(file: &str, symbol: &str, config: &str) -> String {
    format!(
        "name: {symbol}\npluginFileName: {file}\nexportedSymbolName: {symbol}\nconfig: {config}\n"
    )
}

const RH_CONFIG: &str = "{requiredHeader: x-team, allowedValues: [platform]}";

#[test]
fn a_good_plugin_passes_with_its_request_cases() {
    let plugins = PluginDir::with(&[RH]);
    let manifest = format!(
        "{}cases:\n\
         - name: missing header\n  expect: {{decision: deny, status: 401, body: missing header x-team}}\n\
         - name: allowed team\n  request: {{headers: {{x-team: platform}}}}\n  expect: {{decision: allow, state: {{requiredHeader: platform}}}}\n",
        entry(RH, "RequiredHeader", RH_CONFIG)
    );
    let run = verify(&plugins, &manifest);
    run.expect(
        0,
        &[
            r#""msg":"plugin loaded","name":"RequiredHeader","plugin":"RequiredHeader","file":"librequired_header.so","interface":"1.5.0""#,
            r#""exports":["RequiredHeader"]"#,
            r#""msg":"request case passed","name":"RequiredHeader","case":"missing header","decision":"deny""#,
            r#""case":"allowed team","decision":"allow""#,
            r#""msg":"Successfully verified that the plugins load into this Gatehouse host""#,
        ],
    );
    assert_eq!(
        run.summary(),
        "gatehouse-verify: OK: 1 plugin step loaded, configured, started and stopped; 2 request cases passed (plugin interface 1.5.0)"
    );
}

#[test]
fn an_incompatible_interface_version_names_both_versions_and_who_rebuilds() {
    let plugins = PluginDir::with(&[V2_0, NEWER]);
    let manifest = format!(
        "- {{name: major, pluginFileName: {V2_0}, exportedSymbolName: Versioned}}\n\
         - {{name: minor, pluginFileName: {NEWER}, exportedSymbolName: Versioned}}\n"
    );
    let run = verify(&plugins, &manifest);
    run.expect(
        3,
        &[
            r#""msg":"plugin could not be loaded","name":"major","plugin":"Versioned","file":"libversioned_v2_0.so","check":"interface""#,
            "libversioned_v2_0.so: built against plugin interface 2.0.0; this host supports 1.0.x, 1.1.x, 1.2.x, 1.3.x, 1.4.x, 1.5.x: rebuild the plugin against gatehouse-plugin-api 1.5",
            "libversioned_newer.so: built against plugin interface 1.6.0; this host supports 1.0.x, 1.1.x, 1.2.x, 1.3.x, 1.4.x, 1.5.x: the plugin is newer than this host: upgrade the host",
        ],
    );
    assert!(
        run.summary().starts_with(
            "gatehouse-verify: FAILED (exit 3: a plugin could not be loaded): 2 of 2 plugin steps failed; first failure: plugin 'major': "
        ),
        "{run}"
    );
}

#[test]
fn a_changed_type_layout_names_the_type() {
    let plugins = PluginDir::with(&[BAD]);
    verify(&plugins, &entry(BAD, "Versioned", "{}")).expect(
        3,
        &[
            r#""check":"layout""#,
            "interface 1.5.0 type layout mismatch",
            "type AuthRequest (at PluginMod.new_service",
            "incompatible type size: expected 536, found 544",
        ],
    );
}

#[test]
fn a_file_that_is_not_a_library_says_so() {
    let plugins = PluginDir::with(&[]);
    std::fs::write(plugins.path().join("x.so"), "this is not a library\n").expect("write");
    verify(&plugins, &entry("x.so", "X", "{}")).expect(
        3,
        &[
            r#""check":"library""#,
            r#"x.so: cannot load: not a shared library: it is a text file (starting \"this is not a library\")"#,
        ],
    );
}

#[test]
fn a_library_for_another_architecture_names_both() {
    let (machine, name) = if std::env::consts::ARCH == "aarch64" {
        (62u16, "x86_64")
    } else {
        (183u16, "aarch64")
    };
    // A 64-bit little-endian ELF header of a shared object (ET_DYN) for `machine`.
    let mut header = vec![0u8; 64];
    header[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    header[16..18].copy_from_slice(&3u16.to_le_bytes());
    header[18..20].copy_from_slice(&machine.to_le_bytes());
    let plugins = PluginDir::with(&[]);
    std::fs::write(plugins.path().join("other.so"), header).expect("write");
    let host = std::env::consts::ARCH;
    verify(&plugins, &entry("other.so", "X", "{}")).expect(
        3,
        &[&format!(
            "other.so: cannot load: built for {name}, this host is {host}: rebuild the plugin for {host}"
        )],
    );
}

#[test]
fn a_missing_file_names_the_plugin_dir() {
    let plugins = PluginDir::with(&[]);
    verify(&plugins, &entry("missing.so", "X", "{}")).expect(
        3,
        &[
            r#""check":"file""#,
            "pluginFileName 'missing.so' not found in plugin directory",
        ],
    );
}

#[test]
fn a_wrong_exported_name_lists_the_real_ones() {
    let plugins = PluginDir::with(&[MB]);
    verify(&plugins, &entry(MB, "Nope", "{}")).expect(
        3,
        &[
            r#""check":"export""#,
            "libmisbehaving.so: exports no plugin named 'Nope'; it exports: Whoami, Panic, Sleep, Fail",
        ],
    );
}

#[test]
fn an_invalid_config_names_the_field() {
    let plugins = PluginDir::with(&[RH]);
    let run = verify(
        &plugins,
        &entry(
            RH,
            "RequiredHeader",
            "{requiredHeader: x-team, allowedValues: [a, b, 3]}",
        ),
    );
    run.expect(
        4,
        &[
            r#""msg":"plugin config invalid""#,
            r#""check":"config""#,
            "librequired_header.so plugin 'RequiredHeader': invalid config: allowedValues[2]: invalid type: integer `3`, expected a string",
        ],
    );
    assert!(
        run.summary().starts_with(
            "gatehouse-verify: FAILED (exit 4: a plugin refused its config or failed to start)"
        ),
        "{run}"
    );
}

#[test]
fn a_failing_start_or_factory_is_a_config_failure() {
    let plugins = PluginDir::with(&[MB]);
    let manifest = format!(
        "- {{name: start, pluginFileName: {MB}, exportedSymbolName: Panic, config: {{when: start}}}}\n\
         - {{name: new, pluginFileName: {MB}, exportedSymbolName: Panic, config: {{when: new}}}}\n"
    );
    verify(&plugins, &manifest).expect(
        4,
        &[
            r#""msg":"plugin failed to start","name":"start""#,
            "libmisbehaving.so: failed to start: plugin panicked: deliberate panic in start",
            r#""msg":"plugin could not be built","name":"new""#,
            "could not be created: plugin panicked: deliberate panic in new",
        ],
    );
}

#[test]
fn a_failing_request_case_shows_a_diff() {
    let plugins = PluginDir::with(&[RH]);
    let manifest = format!(
        "{}cases:\n\
         - name: wrong status\n  expect: {{decision: deny, status: 403}}\n\
         - name: wrong decision\n  expect: {{decision: allow}}\n\
         - name: right\n  request: {{headers: {{x-team: platform}}}}\n  expect: {{decision: allow}}\n",
        entry(RH, "RequiredHeader", RH_CONFIG)
    );
    let run = verify(&plugins, &manifest);
    run.expect(
        5,
        &[
            r#""msg":"request case failed","name":"RequiredHeader","case":"wrong status","diff":["- status: 403","+ status: 401"]"#,
            r#""got":{"body":"missing header x-team","decision":"deny""#,
            r#""case":"wrong decision","diff":["- decision: allow","+ decision: deny"]"#,
            r#""msg":"request case passed","name":"RequiredHeader","case":"right""#,
        ],
    );
    assert_eq!(
        run.summary(),
        "gatehouse-verify: FAILED (exit 5: a request case failed): 0 of 1 plugin step failed; 2 of 3 request cases failed; first failure: plugin 'RequiredHeader' case 'wrong status': - status: 403 + status: 401"
    );
}

#[test]
fn auth_config_documents_run_as_chains_with_an_initial_state() {
    let plugins = PluginDir::with(&[RH, SH]);
    let manifest = r#"
kind: AuthConfig
metadata: {name: demo, namespace: gatehouse}
spec:
  configs:
    - pluginAuth:
        name: team
        pluginFileName: librequired_header.so
        exportedSymbolName: RequiredHeader
        config: {requiredHeader: x-team, allowedValues: [platform]}
    - pluginAuth:
        name: tagged
        pluginFileName: libset_headers.so
        exportedSymbolName: SetHeaders
        config:
          requireState: {tagged: "yes"}
          headers: [{name: x-checked, value: "true"}]
          removeHeaders: [x-debug]
---
kind: VerifyCases
authConfig: gatehouse.demo
cases:
  - name: seeded state passes
    request:
      headers: {x-team: platform, x-debug: "1"}
      state: {tagged: "yes"}
    expect:
      decision: allow
      setHeaders: {x-checked: "true"}
      removedHeaders: [x-debug]
      state: {requiredHeader: platform, tagged: "yes"}
  - name: no state is refused by step 2
    request: {headers: {x-team: platform}}
    expect: {decision: deny, status: 403}
"#;
    verify(&plugins, manifest).expect(
        0,
        &[
            r#""msg":"plugin loaded","authConfig":"gatehouse.demo","step":"team","plugin":"RequiredHeader""#,
            r#""msg":"plugin loaded","authConfig":"gatehouse.demo","step":"tagged","plugin":"SetHeaders""#,
            r#""case":"seeded state passes","decision":"allow""#,
            r#""case":"no state is refused by step 2","decision":"deny""#,
        ],
    );
}

#[test]
fn the_most_fundamental_failure_sets_the_exit_code() {
    let plugins = PluginDir::with(&[RH]);
    let manifest = format!(
        "- {{name: gone, pluginFileName: missing.so, exportedSymbolName: X, cases: [{{name: skipped, expect: {{decision: allow}}}}]}}\n\
         - name: rh\n  pluginFileName: {RH}\n  exportedSymbolName: RequiredHeader\n  config: {RH_CONFIG}\n  cases: [{{name: fails, expect: {{decision: allow}}}}]\n"
    );
    let run = verify(&plugins, &manifest);
    run.expect(
        3,
        &[
            r#""msg":"request case skipped","name":"gone","case":"skipped""#,
            r#""msg":"request case failed","name":"rh","case":"fails""#,
        ],
    );
    assert!(
        run.summary().starts_with(
            "gatehouse-verify: FAILED (exit 3: a plugin could not be loaded): 1 of 2 plugin steps failed; 1 of 2 request cases failed, 1 skipped; first failure: plugin 'gone': pluginFileName 'missing.so' not found"
        ),
        "{run}"
    );
}

#[test]
fn gloo_flag_spellings_work() {
    let plugins = PluginDir::with(&[V1_0]);
    let manifest = write_manifest(&plugins, &entry(V1_0, "Versioned", "{}"));
    let dir = plugins.path();
    // Gloo's Dockerfile line, verbatim in shape: -pluginDir DIR -manifest FILE.
    run([
        OsStr::new("-pluginDir"),
        dir.as_os_str(),
        OsStr::new("-manifest"),
        manifest.as_os_str(),
        OsStr::new("-debug"),
    ])
    .expect(
        0,
        &[
            r#""level":"debug","#,
            r#""msg":"verify starting""#,
            r#""interface":"1.0.0""#,
        ],
    );
    let joined = |flag: &str, path: &Path| format!("{flag}={}", path.display());
    let run = run([
        joined("--pluginDir", dir),
        joined("-manifest", &manifest),
        "-debug=false".into(),
    ]);
    run.expect(0, &[r#""msg":"plugin loaded""#]);
    assert!(!run.stdout.contains(r#""level":"debug""#), "{run}");
}

#[test]
fn usage_errors_exit_2_and_say_what_is_wrong() {
    let plugins = PluginDir::with(&[]);
    let dir = plugins.path().to_str().expect("utf8 path");
    run(["--plugin-dir", dir]).expect(2, &["--manifest <FILE>", r#""msg":"usage error""#]);
    run(["--plugin-dir", dir, "--manifest", "m.yaml", "--bogus"]).expect(2, &["--bogus"]);
    let missing = plugins.path().join("nope.yaml");
    run([
        OsStr::new("--plugin-dir"),
        plugins.path().as_os_str(),
        OsStr::new("--manifest"),
        missing.as_os_str(),
    ])
    .expect(2, &["cannot read manifest", "nope.yaml"]);
    verify(
        &plugins,
        "pluginFileName: a.so\nexportedSymbolName: A\ncases:\n- name: c\n  expect: {decision: allowed}\n",
    )
    .expect(
        2,
        &["manifest.yaml: cases[0].expect.decision: unknown variant `allowed`, expected `allow` or `deny`"],
    );
    let run = run([
        "--plugin-dir",
        "/nonexistent/plugins",
        "--manifest",
        "m.yaml",
    ]);
    run.expect(2, &["plugin directory /nonexistent/plugins is not usable"]);
    assert!(
        run.summary()
            .starts_with("gatehouse-verify: FAILED (exit 2: usage): plugin directory"),
        "{run}"
    );
}

#[test]
fn version_and_help_name_what_is_checked() {
    let version = run(["--version"]);
    assert_eq!(version.code, Some(0), "{version}");
    assert!(
        version
            .stdout
            .starts_with("gatehouse-verify 0.1.0 (plugin interface 1.5.0; loads plugins built against 1.0.x, 1.1.x, 1.2.x, 1.3.x, 1.4.x, 1.5.x)"),
        "{version}"
    );
    let help = run(["--help"]);
    assert_eq!(help.code, Some(0), "{help}");
    for text in [
        "-pluginDir",
        "Exit codes:",
        "3  a plugin could not be loaded",
        "5  a request case failed",
    ] {
        assert!(help.stdout.contains(text), "{text:?} in\n{help}");
    }
}

#[test]
fn the_packaging_hook_verifies_the_shipped_demo_config() {
    // verify/ci/verify-plugins.sh as the image build runs it, on the debug build:
    // the demo auth configs the host image ships, with their request cases.
    let script = gatehouse_tests::repo_root().join("verify/ci/verify-plugins.sh");
    let output = Command::new("bash")
        .arg(&script)
        .env("VERIFY", binary())
        .env("PLUGIN_DIR", target_dir())
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run verify-plugins.sh");
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout
            .starts_with("gatehouse-verify 0.1.0 (plugin interface"),
        "the hook logs the version first\n{run}"
    );
    assert!(
        run.stdout.contains(r#""msg":"request case passed","authConfig":"merge-example","case":"Gloo's header merge example""#),
        "{run}"
    );
    assert!(run.summary().starts_with("gatehouse-verify: OK: "), "{run}");
}

#[test]
fn a_chain_with_a_broken_step_counts_the_good_one_and_skips_its_cases() {
    let plugins = PluginDir::with(&[RH]);
    let manifest = r#"
kind: AuthConfig
metadata: {name: half}
spec:
  configs:
    - pluginAuth:
        name: good
        pluginFileName: librequired_header.so
        exportedSymbolName: RequiredHeader
        config: {requiredHeader: x-team, allowedValues: [platform]}
    - pluginAuth: {name: gone, pluginFileName: gone.so, exportedSymbolName: Gone}
---
kind: VerifyCases
cases:
  - name: cannot run
    expect: {decision: deny}
"#;
    let run = verify(&plugins, manifest);
    run.expect(
        3,
        &[
            r#""msg":"plugin loaded","authConfig":"half","step":"good""#,
            r#""msg":"plugin could not be loaded","authConfig":"half","step":"gone","plugin":"Gone","file":"gone.so","check":"file""#,
            r#""msg":"request case skipped","authConfig":"half","case":"cannot run""#,
        ],
    );
    assert!(
        run.summary().starts_with(
            "gatehouse-verify: FAILED (exit 3: a plugin could not be loaded): 1 of 2 plugin steps failed; 0 of 1 request case failed, 1 skipped; first failure: auth config 'half' step 2 'gone': pluginFileName 'gone.so' not found"
        ),
        "{run}"
    );
}

const ABORT: &str = "libpanic_abort.so";
const ABORT_V1_1: &str = "libpanic_abort_v1_1.so";

/// A library that records `panic = "abort"` is refused with the host's message,
/// before any of its code runs: exit 3, check `panic`.
#[test]
fn a_panic_abort_library_is_refused_with_the_fix() {
    let plugins = PluginDir::with(&[ABORT]);
    let manifest = format!(
        "{}cases:\n  - name: never runs\n    expect: {{decision: allow}}\n",
        entry(ABORT, "PanicAbort", "{}")
    );
    let run = verify(&plugins, &manifest);
    run.expect(
        3,
        &[
            r#""msg":"plugin could not be loaded","name":"PanicAbort","plugin":"PanicAbort","file":"libpanic_abort.so","check":"panic""#,
            "libpanic_abort.so: built with panic = \\\"abort\\\": its first panic would kill the host, which contains plugin panics only when they unwind; remove panic = \\\"abort\\\" from the plugin's Cargo.toml profiles (and -C panic=abort from RUSTFLAGS) and rebuild",
        ],
    );
    assert!(
        run.summary().starts_with("gatehouse-verify: FAILED (exit 3: a plugin could not be loaded): 1 of 1 plugin step failed; 0 of 1 request case failed, 1 skipped; first failure: plugin 'PanicAbort': ")
            && run.summary().contains("built with panic = \"abort\""),
        "{run}"
    );
    assert!(
        !run.stderr.contains("authorize panics"),
        "no plugin code may run:\n{run}"
    );
}

/// A plugin that kills its process in a request case (here: a `panic =
/// "abort"` build against the frozen 1.1, which cannot record its strategy, so
/// it loads) is a failed case naming the signal; verify lives on, skips that
/// chain's other cases and verifies the next chain.
#[test]
fn a_plugin_that_aborts_the_process_is_a_failure_not_a_crash() {
    let plugins = PluginDir::with(&[ABORT_V1_1, RH]);
    let manifest = format!(
        "- name: aborts\n  pluginFileName: {ABORT_V1_1}\n  exportedSymbolName: PanicAbort\n  cases:\n\
         \x20   - {{name: first request, expect: {{decision: allow}}}}\n\
         \x20   - {{name: second request, expect: {{decision: allow}}}}\n\
         - name: after\n  pluginFileName: {RH}\n  exportedSymbolName: RequiredHeader\n  config: {RH_CONFIG}\n  cases:\n\
         \x20   - {{name: still verified, request: {{headers: {{x-team: platform}}}}, expect: {{decision: allow}}}}\n"
    );
    let run = verify(&plugins, &manifest);
    run.expect(
        5,
        &[
            r#""msg":"library does not record its panic strategy"#,
            r#""panic":"unrecorded""#,
            r#""msg":"plugin killed the process","chain":"aborts","check":"crash","error":"plugin 'aborts' case 'first request': the process aborted (SIGABRT)"#,
            "the host would die the same way",
            r#""msg":"request case passed","name":"after","case":"still verified""#,
        ],
    );
    assert_eq!(
        run.summary(),
        "gatehouse-verify: FAILED (exit 5: a request case failed): 0 of 2 plugin steps failed; 1 of 3 request cases failed, 1 skipped; first failure: plugin 'aborts' case 'first request': the process aborted (SIGABRT): a panic in a plugin built with panic = \"abort\", or an abort() in plugin code; the host would die the same way",
        "{run}"
    );
}

#[test]
fn boolean_expr_when_shadow_and_cache_are_verified_as_the_host_runs_them() {
    let plugins = PluginDir::with(&[RH, SH]);
    let manifest = r#"
kind: AuthConfig
metadata: {name: either}
spec:
  booleanExpr: team || service
  configs:
    - name: team
      pluginAuth:
        name: team-header
        pluginFileName: librequired_header.so
        exportedSymbolName: RequiredHeader
        config: {requiredHeader: x-team, allowedValues: [platform]}
    - name: service
      when: [{path: {prefix: /api}}]
      pluginAuth:
        name: service-header
        pluginFileName: librequired_header.so
        exportedSymbolName: RequiredHeader
        config: {requiredHeader: x-service, allowedValues: [billing]}
---
kind: AuthConfig
metadata: {name: rollout}
spec:
  configs:
    - shadow: true
      pluginAuth:
        name: new-policy
        pluginFileName: librequired_header.so
        exportedSymbolName: RequiredHeader
        config: {requiredHeader: x-team, allowedValues: [platform]}
    - pluginAuth:
        name: tag
        pluginFileName: libset_headers.so
        exportedSymbolName: SetHeaders
        config: {headers: [{name: x-checked, value: "yes"}]}
---
kind: AuthConfig
metadata: {name: cached}
spec:
  configs:
    - cache: {ttlSeconds: 60, key: ["header:x-user"]}
      pluginAuth:
        name: tag
        pluginFileName: libset_headers.so
        exportedSymbolName: SetHeaders
        config: {headers: [{name: x-checked, value: "yes"}]}
---
kind: VerifyCases
authConfig: cached
cases:
  - name: a first request runs the step
    request: {headers: {x-user: alice}}
    expect: {decision: allow, steps: {tag: ran}}
  - name: the same key is answered from the cache
    request: {path: /other, headers: {x-user: alice}}
    expect: {decision: allow, setHeaders: {x-checked: "yes"}, steps: {tag: cached}}
  - name: another key runs it again
    request: {headers: {x-user: bob}}
    expect: {decision: allow, steps: {tag: ran}}
---
kind: VerifyCases
authConfig: either
cases:
  - name: a service on /api passes by OR
    request: {path: /api/x, headers: {x-service: billing}}
    expect: {decision: allow, steps: {team-header: ran, service-header: ran}}
  - name: a service elsewhere is skipped, team decides
    request: {path: /web, headers: {x-service: billing}}
    expect: {decision: deny, status: 401, steps: {service-header: skipped}}
  - name: a team member passes before service is reached
    request: {path: /api/x, headers: {x-team: platform}}
    expect: {decision: allow, steps: {team-header: ran, service-header: notRun}}
---
kind: VerifyCases
authConfig: rollout
cases:
  - name: the shadow step never denies
    expect: {decision: allow, setHeaders: {x-checked: "yes"}, steps: {new-policy: shadow, tag: ran}}
"#;
    verify(&plugins, manifest).expect(
        0,
        &[
            r#""case":"a service on /api passes by OR","decision":"allow""#,
            r#""case":"a service elsewhere is skipped, team decides","decision":"deny""#,
            r#""case":"the shadow step never denies","decision":"allow""#,
            r#""case":"the same key is answered from the cache","decision":"allow""#,
        ],
    );
    // A step that did something else than expected fails the case, with a diff.
    let wrong = manifest.replace("steps: {tag: cached}", "steps: {tag: ran}");
    verify(&plugins, &wrong).expect(5, &["- steps.tag: ran", "+ steps.tag: cached"]);
    let bad = manifest.replace("steps: {tag: cached}", "steps: {tag: hit}");
    verify(&plugins, &bad).expect(
        2,
        &["expect.steps.tag: 'hit' is not one of ran, skipped, cached, shadow, notRun"],
    );
}
