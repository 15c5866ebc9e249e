//! Instruction counts per request (`bench --callgrind`): each server under
//! `valgrind --tool=callgrind`, a warm-up, `callgrind_control --zero`, N
//! requests from h2load, `callgrind_control --dump`; instructions (Ir, every
//! thread) of the dump / N. Repeatable whatever else the machine does, unlike
//! req/s. Also the top functions by inclusive cost of A and D side by side.
//!
//! The servers also run under callgrind's cache and branch simulation
//! (`--cache-sim=yes --branch-sim=yes`): first-level instruction and data
//! cache misses and mispredicted branches per request. Two servers with the
//! same instruction count can differ by a third by the clock (BENCHMARKS.md:
//! the host's own path against bare tonic); these counts are the repeatable
//! part of that difference, where the VM offers no hardware counters.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::driver::{Bench, Spec};

/// One dump's totals, summed over every thread.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Counts {
    /// Instructions executed (`Ir`).
    instructions: u64,
    /// First-level instruction cache misses (`I1mr`).
    i1_misses: u64,
    /// First-level data cache misses, reads and writes (`D1mr + D1mw`).
    d1_misses: u64,
    /// Mispredicted branches, conditional and indirect (`Bcm + Bim`).
    branch_misses: u64,
}

impl Counts {
    /// From a dump's `events:` and `totals:` lines; events the run did not
    /// simulate count 0.
    fn parse(events: &str, totals: &str) -> Option<Self> {
        let values: Vec<u64> = totals
            .split_whitespace()
            .map(|v| v.parse().ok())
            .collect::<Option<_>>()?;
        let get = |name: &str| {
            events
                .split_whitespace()
                .position(|e| e == name)
                .and_then(|i| values.get(i).copied())
                .unwrap_or(0)
        };
        Some(Self {
            instructions: *values.first()?,
            i1_misses: get("I1mr"),
            d1_misses: get("D1mr") + get("D1mw"),
            branch_misses: get("Bcm") + get("Bim"),
        })
    }
}

/// One server's count.
struct Profile {
    label: String,
    requests: u64,
    counts: Counts,
    /// (function, inclusive instructions) from `callgrind_annotate --inclusive=yes`.
    top: Vec<(String, u64)>,
}

impl Profile {
    fn per_request(&self) -> f64 {
        self.counts.instructions as f64 / self.requests as f64
    }
}

fn control(action: &str, pid: u32) -> Result<()> {
    let out = Command::new("callgrind_control")
        .arg(action)
        .arg(pid.to_string())
        .output()
        .context("running callgrind_control (Debian package valgrind)")?;
    if !out.status.success() {
        bail!(
            "callgrind_control {action} {pid}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The totals of a finished dump (waits for it to be written).
fn totals(dump: &Path) -> Result<Counts> {
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(text) = std::fs::read_to_string(dump) {
            let line = |prefix: &str| text.lines().find_map(|l| l.strip_prefix(prefix));
            if let Some(totals) = line("totals: ") {
                return Counts::parse(line("events: ").unwrap_or("Ir"), totals)
                    .with_context(|| format!("{}: unreadable totals", dump.display()));
            }
        }
        if Instant::now() > end {
            bail!("{}: no complete callgrind dump", dump.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `file:function [object]` → `function`.
fn function_name(entry: &str) -> String {
    let entry = entry.split(" [").next().unwrap_or(entry);
    let name = match entry.split_once(':') {
        Some((file, rest)) if file.contains('/') || file.starts_with("???") => rest,
        _ => entry,
    };
    let name = name.replace('|', "\\|");
    if name.chars().count() > 90 {
        let cut: String = name.chars().take(89).collect();
        format!("{cut}…")
    } else {
        name
    }
}

/// Functions by inclusive cost, costliest first.
fn annotate(dump: &Path) -> Result<Vec<(String, u64)>> {
    let out = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100", "--show=Ir"])
        .arg(dump)
        .output()
        .context("running callgrind_annotate")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rows = Vec::new();
    for line in text.lines().skip_while(|l| !l.contains("file:function")) {
        let line = line.trim_start();
        let Some((count, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<u64>() else {
            continue;
        };
        let entry = rest.split_once(')').map_or(rest, |(_, e)| e).trim();
        rows.push((function_name(entry), count));
    }
    Ok(rows)
}

fn profile(bench: &Bench, tag: &str, label: &str, spec: &Spec, n: u64) -> Result<Profile> {
    let out: PathBuf = bench.o.work.join(format!("callgrind-{tag}.out"));
    let dump = PathBuf::from(format!("{}.1", out.display()));
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&dump);
    let server = bench.launch(&format!("callgrind-{tag}"), spec, Some(&out))?;
    let mut sent = bench
        .grpc_load(server.port, (n / 10).max(50), None)?
        .succeeded;
    control("--zero", server.pid())?;
    sent += bench.grpc_load(server.port, n, None)?.succeeded;
    control("--dump", server.pid())?;
    let counts = totals(&dump)?;
    let name = server.name.clone();
    let (allow, deny) = server.stop()?;
    if allow != sent || deny != 0 {
        bail!("{name}: sent {sent} checks, server counted {allow} allow and {deny} deny");
    }
    let profile = Profile {
        label: label.to_string(),
        requests: n,
        counts,
        top: annotate(&dump)?,
    };
    eprintln!(
        "  {label}: {:.0} instructions/request ({n} requests, {})",
        profile.per_request(),
        dump.display()
    );
    Ok(profile)
}

/// Top functions of `a` and `d` side by side, per request, skipping the
/// runtime's frames that include (almost) everything, recursion cycles, and
/// the second attribution of a function to another source file.
fn side_by_side(a: &Profile, d: &Profile, rows: usize) -> String {
    let body = |p: &Profile| -> Vec<(String, f64)> {
        let mut seen = std::collections::HashSet::new();
        p.top
            .iter()
            .filter(|(_, c)| (*c as f64) < 0.95 * p.counts.instructions as f64)
            // `f'2` is callgrind's name for a recursive cycle: counted twice.
            .filter(|(f, _)| {
                f.rsplit_once('\'')
                    .is_none_or(|(_, n)| n.parse::<u32>().is_err())
            })
            .filter(|(f, _)| seen.insert(f.clone()))
            .take(rows)
            .map(|(f, c)| (f.clone(), *c as f64 / p.requests as f64))
            .collect()
    };
    let (left, right) = (body(a), body(d));
    let mut r = format!(
        "| # | {} | instr/req | {} | instr/req |\n|---:|---|---:|---|---:|\n",
        a.label, d.label
    );
    for i in 0..rows.max(left.len()).min(left.len().max(right.len())) {
        let cell = |v: &[(String, f64)]| {
            v.get(i).map_or((String::new(), String::new()), |(f, c)| {
                (format!("`{f}`"), format!("{c:.0}"))
            })
        };
        let ((lf, lc), (rf, rc)) = (cell(&left), cell(&right));
        r += &format!("| {} | {lf} | {lc} | {rf} | {rc} |\n", i + 1);
    }
    r
}

/// Runs the instruction counts; returns their Markdown tables.
pub(crate) fn report(bench: &Bench) -> Result<String> {
    let o = &bench.o;
    let n = o.callgrind_requests;
    let configs = o.root.join("bench/configs");
    let three = Spec::Host(configs.join("three-step.yaml"));
    let many = o.max_configs.max(1);
    let mut runs: Vec<(&str, String, Spec)> = vec![
        ("A", "A bare tonic".into(), Spec::Noop),
        (
            "A2",
            "A′ bare tonic, host's runtime".into(),
            Spec::NoopHostRuntime,
        ),
        ("D", "D 3-step .so".into(), three.clone()),
        ("B", "B native steps".into(), Spec::Native),
        (
            "C",
            "C 1-step .so".into(),
            Spec::Host(configs.join("one-step.yaml")),
        ),
    ];
    if !o.smoke || o.callgrind_servers.is_some() {
        runs.extend([
            (
                "D10",
                "D, 10 .so steps".into(),
                Spec::Host(crate::scale::write_config(&o.work, 1, 10)?),
            ),
            (
                "Dmany",
                format!("D, {many} configs loaded"),
                Spec::Host(crate::scale::write_config(&o.work, many, 3)?),
            ),
        ]);
    }
    match &o.callgrind_servers {
        Some(only) => runs.retain(|(tag, _, _)| only.iter().any(|t| t == tag)),
        None if o.smoke => runs.retain(|(tag, _, _)| matches!(*tag, "A" | "D")),
        None => {}
    }
    if runs.is_empty() {
        bail!("--servers: none of A, A2, B, C, D, D10, Dmany");
    }
    eprintln!("instruction counts: {n} requests per server under callgrind");
    let mut done = Vec::new();
    for (tag, label, spec) in &runs {
        done.push((*tag, profile(bench, tag, label, spec, n)?));
    }
    let get = |tag: &str| done.iter().find(|(t, _)| *t == tag).map(|(_, p)| p);
    let mut r = format!(
        "Instructions per request (callgrind, every thread, {n} requests after a warm-up, h2load -c 4 -m 16), and per request what its cache and branch simulation counts: first-level instruction and data cache misses, mispredicted branches\n\n\
         | server | instructions/request | I1 misses | D1 misses | mispredicted branches |\n|---|---:|---:|---:|---:|\n"
    );
    for (_, p) in &done {
        let per = |v: u64| v as f64 / p.requests as f64;
        let c = &p.counts;
        r += &format!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} |\n",
            p.label,
            p.per_request(),
            per(c.i1_misses),
            per(c.d1_misses),
            per(c.branch_misses)
        );
    }
    let mark = |ok: bool| if ok { "met" } else { "**missed**" };
    r += "\n| ratio (by instructions) | value | target |\n|---|---:|---|\n";
    if let (Some(a), Some(d)) = (get("A"), get("D")) {
        let d_a = a.per_request() / d.per_request();
        r += &format!("| D/A | {d_a:.3} | ≥ 0.85: {} |\n", mark(d_a >= 0.85));
    }
    if let (Some(a2), Some(d)) = (get("A2"), get("D")) {
        let d_a2 = a2.per_request() / d.per_request();
        r += &format!("| D/A′ (same runtime) | {d_a2:.3} | |\n");
    }
    if let (Some(a), Some(d)) = (get("A"), get("D")) {
        let more = |f: fn(&Counts) -> u64| f(&d.counts) as f64 / f(&a.counts) as f64 - 1.0;
        r += &format!(
            "| D over A: I1 misses / D1 misses / mispredicted branches | {:+.0} % / {:+.0} % / {:+.0} % | |\n",
            more(|c| c.i1_misses) * 100.0,
            more(|c| c.d1_misses) * 100.0,
            more(|c| c.branch_misses) * 100.0
        );
    }
    if let (Some(b), Some(d)) = (get("B"), get("D")) {
        let d_b = b.per_request() / d.per_request();
        let step = (d.per_request() - b.per_request()) / 3.0;
        r += &format!("| D/B | {d_b:.3} | ≥ 0.95: {} |\n", mark(d_b >= 0.95));
        r += &format!(
            "| one .so step over native, (D − B)/3 | {step:.0} instr | ≤ 1500: {} |\n",
            mark(step <= 1500.0)
        );
    }
    if let (Some(a), Some(c)) = (get("A"), get("C")) {
        r += &format!("| C/A | {:.3} | |\n", a.per_request() / c.per_request());
    }
    if let (Some(c), Some(d), Some(ten)) = (get("C"), get("D"), get("D10")) {
        let per3 = (d.per_request() - c.per_request()) / 2.0;
        let per10 = (ten.per_request() - c.per_request()) / 9.0;
        r += &format!(
            "| per step, 1→3 steps (D − C)/2 vs 1→10 steps (D10 − C)/9 | {per3:.0} vs {per10:.0} instr | constant |\n"
        );
    }
    if let (Some(d), Some(many)) = (get("D"), get("Dmany")) {
        let growth = many.per_request() / d.per_request() - 1.0;
        r += &format!(
            "| {} vs 1 config | {:+.1} % | within 5 %: {} |\n",
            o.max_configs,
            growth * 100.0,
            mark(growth.abs() <= 0.05)
        );
    }
    if let (Some(a), Some(d)) = (get("A"), get("D")) {
        r += "\nTop functions by inclusive cost (per request; frames that include ≥ 95 % of the total left out):\n\n";
        r += &side_by_side(a, d, if o.smoke { 10 } else { 30 });
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::Counts;

    #[test]
    fn totals_are_read_by_event_name_and_missing_events_count_zero() {
        let events = "Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim";
        let counts = Counts::parse(events, "100 9 8 7 6 5 4 3 2 1 10 20 30").expect("parsed");
        assert_eq!(
            counts,
            Counts {
                instructions: 100,
                i1_misses: 7,
                d1_misses: 11,
                branch_misses: 40,
            }
        );
        let plain = Counts::parse("Ir", "123").expect("parsed");
        assert_eq!(
            (plain.instructions, plain.i1_misses, plain.branch_misses),
            (123, 0, 0)
        );
        assert_eq!(Counts::parse("Ir", "12x"), None);
        assert_eq!(Counts::parse("Ir", ""), None);
    }
}
