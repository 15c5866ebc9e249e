//! Scale scenarios: how the host's cost grows with the configuration.
//!
//! - Configs 1 / 100 / [`Options::max_configs`](crate::driver::Options) (10,000
//!   in the full run): a file of that many copies of scenario D's 3-step
//!   AuthConfig (sharing its two libraries): time until the host is ready, the
//!   time of a reload (SIGHUP until the reload count moves, the generation
//!   gauge having moved too), RSS after the first load, after each of
//!   [`Options::reloads`](crate::driver::Options) reloads (reported as a
//!   series, and "flat" when the last half is within ±10 % of its median)
//!   and its peak (VmHWM, a reload's two generations at once).
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

/// The host's (`gatehouse_config_generation`, `gatehouse_reloads_total` of
/// any result): the generation moves when the new configuration serves, the
/// count once the reload is over (the previous generation dropped, freed
/// memory handed back).
fn reload_state(admin: u16) -> Result<(u64, u64)> {
    let (_, body) = http_get(admin, "/metrics")?;
    let value = |line: &str| {
        line.rsplit(' ')
            .next()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
    };
    let generation = body
        .lines()
        .find(|l| l.starts_with("gatehouse_config_generation "))
        .and_then(value)
        .context("no gatehouse_config_generation in /metrics")?;
    let reloads = body
        .lines()
        .filter(|l| l.starts_with("gatehouse_reloads_total{"))
        .filter_map(value)
        .sum();
    Ok((generation, reloads))
}

/// Sends SIGHUP and waits until that reload is over; returns the time it
/// took. Fails if the configuration was refused (the generation did not move).
fn reload(server: &Server) -> Result<Duration> {
    let admin = server.admin.context("not a host")?;
    let (generation, reloads) = reload_state(admin)?;
    let started = Instant::now();
    Command::new("kill")
        .arg("-HUP")
        .arg(server.pid().to_string())
        .status()?;
    loop {
        let (now_generation, now_reloads) = reload_state(admin)?;
        if now_reloads > reloads {
            if now_generation == generation {
                bail!("{}: reload refused (see its log)", server.name);
            }
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("{}: reload did not complete in 10 minutes", server.name);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One configs scenario: (configs, ready s, median and max reload s, RSS MiB
/// after the first load, after each reload, reloads done).
struct Row {
    configs: usize,
    ready: f64,
    reload_median: f64,
    reload_max: f64,
    rss_first: f64,
    /// RSS after each reload, in order (the last one after a load of 200 checks).
    rss_samples: Vec<f64>,
    /// The largest RSS of the process (VmHWM), reloads in progress included.
    rss_peak: f64,
    reloads: u64,
}

impl Row {
    fn rss_last(&self) -> f64 {
        self.rss_samples.last().copied().unwrap_or(self.rss_first)
    }

    fn rss_max(&self) -> f64 {
        self.rss_samples
            .iter()
            .copied()
            .fold(self.rss_first, f64::max)
    }
}

/// How far the last half of `samples` (at least one) strays from its median,
/// as (median, largest deviation in percent): "flat" is within ±10 %.
fn flatness(samples: &[f64]) -> (f64, f64) {
    let tail = &samples[samples.len() / 2..];
    let mid = crate::driver::median(tail.to_vec());
    let worst = tail
        .iter()
        .map(|s| (s - mid).abs() / mid * 100.0)
        .fold(0.0, f64::max);
    (mid, worst)
}

/// The process's RSS in MiB.
fn rss_mib(server: &Server) -> Result<f64> {
    Ok(server.status_kb("VmRSS:")? as f64 / 1024.0)
}

fn configs_run(bench: &Bench, configs: usize, reloads: u64) -> Result<Row> {
    let file = write_config(&bench.o.work, configs, 3)?;
    let server = bench.launch(&format!("configs-{configs}"), &Spec::Host(file), None)?;
    let ready = server.started.elapsed().as_secs_f64();
    let sent = bench.grpc_load(server.port, 200, None)?.succeeded;
    let rss_first = rss_mib(&server)?;
    let mut times = Vec::new();
    let mut rss_samples = Vec::new();
    for _ in 0..reloads {
        times.push(reload(&server)?.as_secs_f64());
        rss_samples.push(rss_mib(&server)?);
    }
    let sent = sent + bench.grpc_load(server.port, 200, None)?.succeeded;
    rss_samples.push(rss_mib(&server)?);
    // VmHWM is kept up to date lazily: it can lag a sample just taken.
    let rss_peak = (server.status_kb("VmHWM:")? as f64 / 1024.0)
        .max(rss_samples.iter().copied().fold(rss_first, f64::max));
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
        rss_samples,
        rss_peak,
        reloads,
    };
    let (_, spread) = flatness(&row.rss_samples);
    eprintln!(
        "  configs {configs}: ready {ready:.2} s, reload median {:.3} s max {:.3} s, RSS {rss_first:.1} → {:.1} MiB (max {:.1}, peak {rss_peak:.1}, last half ±{spread:.1} %)",
        row.reload_median,
        row.reload_max,
        row.rss_last(),
        row.rss_max()
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
        "Scale: N copies of D's 3-step AuthConfig (two shared libraries); ready = process start to /readyz 200; reload = SIGHUP until the reload is over (gatehouse_reloads_total moves)\n\n",
    );
    r += "| configs | ready s | reload s (median) | reload s (max) | reloads | RSS MiB after load | RSS MiB after reloads | RSS MiB max after a reload | RSS MiB peak (during one) | last half of samples |\n";
    r += "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for row in &rows {
        let (_, spread) = flatness(&row.rss_samples);
        r += &format!(
            "| {} | {:.2} | {:.3} | {:.3} | {} | {:.1} | {:.1} | {:.1} | {:.1} | ±{:.1} % |\n",
            row.configs,
            row.ready,
            row.reload_median,
            row.reload_max,
            row.reloads,
            row.rss_first,
            row.rss_last(),
            row.rss_max(),
            row.rss_peak,
            spread
        );
    }
    let mark = |ok: bool| if ok { "met" } else { "**missed**" };
    if let Some(big) = rows.last().filter(|r| r.configs > 100) {
        let (mid, spread) = flatness(&big.rss_samples);
        r += &format!(
            "\nTargets at {} configs: reload < 2 s: {} ({:.3} s median, {:.3} s max); RSS < 200 MiB: {} ({:.1} MiB after load, {:.1} MiB max after a reload of {}, {:.1} MiB peak during one); RSS flat (last half of the samples within ±10 % of their median, {mid:.1} MiB): {} (±{spread:.1} %)\n",
            big.configs,
            mark(big.reload_median < 2.0),
            big.reload_median,
            big.reload_max,
            mark(big.rss_peak < 200.0),
            big.rss_first,
            big.rss_max(),
            big.reloads,
            big.rss_peak,
            mark(spread <= 10.0),
        );
        r += &format!("\nRSS MiB after each reload of {} configs: ", big.configs);
        let samples: Vec<String> = big.rss_samples.iter().map(|s| format!("{s:.0}")).collect();
        r += &samples.join(" ");
        r += "\n";
    }
    r += "\nChains of 1, 3 and 10 `.so` steps: every decision checked (instructions per request: see the instruction counts).\n";
    Ok(r)
}
