//! Scale scenarios: how the host's cost grows with the configuration.
//!
//! - Configs 1 / 100 / [`Options::max_configs`](crate::driver::Options) (10,000
//!   in the full run): a file of that many copies of scenario D's 3-step
//!   AuthConfig (sharing its two libraries): time until the host is ready, the
//!   time of a reload (SIGHUP until the generation gauge moves), RSS after the
//!   first load and after [`Options::reloads`](crate::driver::Options) reloads.
//! - Steps 1 / 3 / 10: one AuthConfig with that many `.so` steps; decisions
//!   checked here, instructions per request in [`crate::callgrind`].
//!
//! Every generated config is named `bench-N`, except the first, `bench`, which
//! every benchmark request names: decisions are checked as in scenarios C/D.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::driver::{http_get, Bench, Server, Spec};

/// The steps of a generated chain, in order: D's three (`team`, `tag`,
/// `checked`), then `set-headers` steps that each set one upstream header.
fn step_yaml(index: usize) -> String {
    match index {
        0 => "    - pluginAuth:\n        name: team\n        pluginFileName: librequired_header.so\n        exportedSymbolName: RequiredHeader\n        config: {requiredHeader: x-team, allowedValues: [platform, security]}\n".into(),
        1 => "    - pluginAuth:\n        name: tag\n        pluginFileName: libset_headers.so\n        exportedSymbolName: SetHeaders\n        config:\n          headers:\n            - {name: x-gatehouse-team, value: verified}\n            - {name: x-forwarded-for, value: 10.0.0.1, appendAction: APPEND_IF_EXISTS_OR_ADD}\n          setState: {tier: gold}\n".into(),
        2 => "    - pluginAuth:\n        name: checked\n        pluginFileName: libset_headers.so\n        exportedSymbolName: SetHeaders\n        config:\n          requireState: {tier: gold}\n          headers: [{name: x-gatehouse-checked, value: \"true\"}]\n".into(),
        n => format!("    - pluginAuth:\n        name: extra{n}\n        pluginFileName: libset_headers.so\n        exportedSymbolName: SetHeaders\n        config:\n          headers: [{{name: x-step-{n}, value: ok}}]\n"),
    }
}

/// Writes `configs` AuthConfigs of `steps` steps each into `dir`; returns the file.
pub(crate) fn write_config(dir: &Path, configs: usize, steps: usize) -> Result<PathBuf> {
    let path = dir.join(format!("scale-{configs}x{steps}.yaml"));
    let body: String = (0..steps).map(step_yaml).collect();
    let mut text = String::with_capacity(configs * (body.len() + 120));
    for i in 0..configs {
        let name = if i == 0 {
            "bench".to_string()
        } else {
            format!("bench-{i}")
        };
        text += &format!("---\napiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata: {{name: {name}}}\nspec:\n  configs:\n{body}");
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The host's `gatehouse_config_generation`.
fn generation(admin: u16) -> Result<u64> {
    let (_, body) = http_get(admin, "/metrics")?;
    body.lines()
        .find_map(|l| l.strip_prefix("gatehouse_config_generation "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .context("no gatehouse_config_generation in /metrics")
}

/// Sends SIGHUP and waits until the generation moves; returns the time it took.
fn reload(server: &Server) -> Result<Duration> {
    let admin = server.admin.context("not a host")?;
    let before = generation(admin)?;
    let started = Instant::now();
    Command::new("kill")
        .arg("-HUP")
        .arg(server.pid().to_string())
        .status()?;
    while generation(admin)? == before {
        if started.elapsed() > Duration::from_secs(600) {
            bail!("{}: reload did not complete in 10 minutes", server.name);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(started.elapsed())
}

/// One configs scenario: (configs, ready s, median reload s, max reload s,
/// RSS MiB after the first load, after the reloads, reloads done).
struct Row {
    configs: usize,
    ready: f64,
    reload_median: f64,
    reload_max: f64,
    rss_first: f64,
    rss_last: f64,
    reloads: u64,
}

fn configs_run(bench: &Bench, configs: usize, reloads: u64) -> Result<Row> {
    let file = write_config(&bench.o.work, configs, 3)?;
    let server = bench.launch(&format!("configs-{configs}"), &Spec::Host(file), None)?;
    let ready = server.started.elapsed().as_secs_f64();
    let mib = |s: &Server| -> Result<f64> { Ok(s.status_kb("VmRSS:")? as f64 / 1024.0) };
    let sent = bench.grpc_load(server.port, 200, None)?.succeeded;
    let rss_first = mib(&server)?;
    let mut times = Vec::new();
    for _ in 0..reloads {
        times.push(reload(&server)?.as_secs_f64());
    }
    let sent = sent + bench.grpc_load(server.port, 200, None)?.succeeded;
    let rss_last = mib(&server)?;
    let name = server.name.clone();
    let (allow, deny) = server.stop()?;
    if allow != sent || deny != 0 {
        bail!("{name}: sent {sent} checks, server counted {allow} allow and {deny} deny");
    }
    let max = times.iter().copied().fold(f64::NAN, f64::max);
    let row = Row {
        configs,
        ready,
        reload_median: crate::driver::median(times),
        reload_max: max,
        rss_first,
        rss_last,
        reloads,
    };
    eprintln!(
        "  configs {configs}: ready {ready:.2} s, reload median {:.3} s, RSS {rss_first:.1} → {rss_last:.1} MiB",
        row.reload_median
    );
    Ok(row)
}

/// Steps scenario: a chain of `steps` `.so` steps answers every request allow.
fn steps_run(bench: &Bench, steps: usize, n: u64) -> Result<()> {
    let file = write_config(&bench.o.work, 1, steps)?;
    let server = bench.launch(&format!("steps-{steps}"), &Spec::Host(file), None)?;
    let sent = bench.grpc_load(server.port, n, None)?.succeeded;
    let name = server.name.clone();
    let (allow, deny) = server.stop()?;
    if allow != sent || deny != 0 {
        bail!("{name}: sent {sent} checks, server counted {allow} allow and {deny} deny");
    }
    eprintln!("  steps {steps}: {sent} checks allowed");
    Ok(())
}

/// Runs the scale scenarios; returns their Markdown table.
pub(crate) fn report(bench: &Bench) -> Result<String> {
    let o = &bench.o;
    let largest = o.max_configs.max(1);
    let mut sizes = vec![1, 100.min(largest), largest];
    sizes.dedup();
    eprintln!("scale: configs {sizes:?} (3 steps each), steps 1/3/10");
    let mut rows = Vec::new();
    for &configs in &sizes {
        // Every size is reloaded a few times; the largest as often as asked.
        let reloads = if configs == largest { o.reloads } else { 5 };
        rows.push(configs_run(bench, configs, reloads.max(1))?);
    }
    for steps in [1, 3, 10] {
        steps_run(bench, steps, if o.smoke { 200 } else { 2_000 })?;
    }
    let mut r = String::from(
        "Scale: N copies of D's 3-step AuthConfig (two shared libraries); ready = process start to /readyz 200; reload = SIGHUP until the generation gauge moves\n\n",
    );
    r += "| configs | ready s | reload s (median) | reload s (max) | reloads | RSS MiB after load | RSS MiB after reloads |\n";
    r += "|---:|---:|---:|---:|---:|---:|---:|\n";
    for row in &rows {
        r += &format!(
            "| {} | {:.2} | {:.3} | {:.3} | {} | {:.1} | {:.1} |\n",
            row.configs,
            row.ready,
            row.reload_median,
            row.reload_max,
            row.reloads,
            row.rss_first,
            row.rss_last
        );
    }
    if let Some(big) = rows.iter().find(|r| r.configs >= 10_000) {
        let mark = |ok: bool| if ok { "met" } else { "**missed**" };
        r += &format!(
            "\nTargets at {} configs: reload < 2 s: {} ({:.3} s median); RSS < 200 MiB: {} ({:.1} MiB); RSS flat over {} reloads: {:+.1} MiB\n",
            big.configs,
            mark(big.reload_max < 2.0),
            big.reload_median,
            mark(big.rss_last < 200.0),
            big.rss_last,
            big.reloads,
            big.rss_last - big.rss_first
        );
    }
    r += "\nChains of 1, 3 and 10 `.so` steps: every decision checked (instructions per request: see the instruction counts).\n";
    Ok(r)
}
