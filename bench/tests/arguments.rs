//! `bench` refuses arguments it does not know before any run starts.

use std::process::{Command, Output};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench"))
        // Nothing may be started: a work dir that cannot be made would fail later.
        .args(["--work", "/proc/no-such-bench-work"])
        .args(args)
        .output()
        .expect("bench runs")
}

#[test]
fn an_unknown_flag_is_named_with_the_usage() {
    let out = bench(&["--smoke", "--round", "3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(r#"unknown argument "--round""#), "{stderr}");
    assert!(stderr.contains("--rounds N"), "usage is shown: {stderr}");
}

#[test]
fn help_prints_the_usage_and_runs_nothing() {
    let out = bench(&["--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("--callgrind-requests N"), "{stdout}");
}

#[test]
fn a_value_that_is_not_a_number_names_its_flag() {
    let out = bench(&["--smoke", "--rounds", "three"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(r#"--rounds "three": not a number"#),
        "{stderr}"
    );
    for args in [&["--smoke", "--out"][..], &["--out", "--smoke"]] {
        let out = bench(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--out needs a value"), "{args:?}: {stderr}");
    }
}
