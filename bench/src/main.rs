//! `bench`: runs scenarios A–E and prints the table (see BENCHMARKS.md).
//!
//! `bench [--smoke | --callgrind | --scale] [--rounds N] [--seconds S] [--latency-seconds S]
//!        [--rss-requests N] [--callgrind-requests N] [--servers A,A2,B,C,D,D10,Dmany]
//!        [--max-configs N] [--reloads N]
//!        [--bin-dir DIR] [--envoy PATH] [--work DIR] [--out FILE]`

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use gatehouse_bench::driver::{run, Options};

/// Flags that stand alone.
const SWITCHES: [&str; 3] = ["--smoke", "--callgrind", "--scale"];
/// Flags followed by a value.
const VALUED: [&str; 12] = [
    "--rounds",
    "--seconds",
    "--latency-seconds",
    "--rss-requests",
    "--callgrind-requests",
    "--servers",
    "--max-configs",
    "--reloads",
    "--bin-dir",
    "--envoy",
    "--work",
    "--out",
];

/// Refuses what `bench` does not know before a run of many minutes starts,
/// so a typo or `--help` never silently runs the full benchmark.
fn check(args: &[String]) -> anyhow::Result<()> {
    let usage = include_str!("main.rs")
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .skip(2)
        .map(|l| l.trim_start_matches("//!").trim_matches('`'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--help" || arg == "-h" {
            println!("usage:\n{usage}");
            std::process::exit(0);
        }
        if SWITCHES.contains(&arg.as_str()) {
            continue;
        }
        if !VALUED.contains(&arg.as_str()) {
            bail!("unknown argument {arg:?}\nusage:\n{usage}");
        }
        if rest.next().is_none_or(|v| v.starts_with("--")) {
            bail!("{arg} needs a value");
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    check(&args)?;
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let smoke = args.iter().any(|a| a == "--smoke");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf();
    let exe = std::env::current_exe()?;
    let bin_dir = value("--bin-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| exe.parent().expect("bin dir").to_path_buf());
    let num = |flag: &str, smoke_v: f64, full: f64| -> anyhow::Result<f64> {
        Ok(match value(flag) {
            Some(v) => v
                .parse()
                .with_context(|| format!("{flag} {v:?}: not a number"))?,
            None if smoke => smoke_v,
            None => full,
        })
    };
    let options = Options {
        smoke,
        rounds: num("--rounds", 1.0, 3.0)? as usize,
        seconds: num("--seconds", 0.2, 5.0)?,
        latency_seconds: num("--latency-seconds", 0.2, 5.0)?,
        rss_requests: num("--rss-requests", 0.0, 1_000_000.0)? as u64,
        envoy: Some(
            value("--envoy")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join(".tools/bin/envoy")),
        ),
        work: value("--work")
            .map(PathBuf::from)
            .unwrap_or_else(|| bin_dir.join("bench-work")),
        callgrind_only: args.iter().any(|a| a == "--callgrind"),
        scale_only: args.iter().any(|a| a == "--scale"),
        callgrind_requests: num("--callgrind-requests", 300.0, 3_000.0)? as u64,
        callgrind_servers: value("--servers")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect()),
        max_configs: num("--max-configs", 100.0, 10_000.0)? as usize,
        reloads: num("--reloads", 3.0, 100.0)? as u64,
        bin_dir,
        root,
    };
    let report = run(options)?;
    if let Some(out) = value("--out") {
        std::fs::write(out, report)?;
    }
    Ok(())
}
