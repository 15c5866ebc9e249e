//! `bench`: runs scenarios A–E and prints the table (see BENCHMARKS.md).
//!
//! `bench [--smoke | --callgrind | --scale] [--rounds N] [--seconds S] [--latency-seconds S]
//!        [--rss-requests N] [--callgrind-requests N] [--servers A,B,C,D]
//!        [--max-configs N] [--reloads N]
//!        [--bin-dir DIR] [--envoy PATH] [--work DIR] [--out FILE]`

use std::path::PathBuf;

use gatehouse_bench::driver::{run, Options};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
            Some(v) => v.parse()?,
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
