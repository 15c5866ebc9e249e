//! `gatehouse-verify`: proves in CI that plugin libraries load into this
//! Gatehouse host, and says why not.
//!
//! ```text
//! gatehouse-verify --plugin-dir DIR --manifest FILE [--debug]
//! gatehouse-verify -pluginDir DIR -manifest FILE [-debug]     # Gloo's spelling
//! ```
//!
//! Every plugin goes through the host's own loader and chain (the `gatehouse`
//! library), so what passes here loads into a host built from the same tree.
//! JSON lines on stdout, a one-line summary on stderr; the exit code says what
//! kind of failure happened (see `--help` or docs/verify.md). Plugin code runs
//! in a child process per chain ([`child`]), so a plugin that kills its
//! process is reported instead of ending verify.

mod args;
mod cases;
mod child;
mod host_events;
mod log;
mod manifest;
mod report;
mod run;
mod steps;

use std::process::ExitCode;

use anyhow::{ensure, Context};
use gatehouse::loader::{Loader, SUPPORTED_INTERFACES};
use serde_json::json;

use crate::{
    args::{Command, Options},
    log::Log,
    manifest::Plan,
    report::{usage_summary, Report, INTERNAL, USAGE},
};

/// The interface version of the plugin API this host is built with.
const INTERFACE: &str = gatehouse_plugin_api::INTERFACE_VERSION;

fn main() -> ExitCode {
    let code = match args::parse(std::env::args_os()) {
        Ok(Command::Version) => {
            println!("{}", version());
            0
        }
        Ok(Command::Verify(options)) => verify(&options),
        Err(e) => usage_error(e),
    };
    ExitCode::from(code)
}

/// `--version`: what this build checks against, for CI logs.
fn version() -> String {
    format!(
        "gatehouse-verify {} (plugin interface {INTERFACE}; loads plugins built against {})",
        env!("CARGO_PKG_VERSION"),
        supported()
    )
}

fn supported() -> String {
    SUPPORTED_INTERFACES
        .iter()
        .map(|v| format!("{v}.x"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// clap's errors: help is not an error; anything else is a usage error.
fn usage_error(error: clap::Error) -> u8 {
    use clap::error::ErrorKind;
    let _ = error.print();
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        return 0;
    }
    // clap's message without its usage block and hints, on one line.
    let text = error.to_string();
    let message = text.split("\n\nUsage:").next().unwrap_or_default();
    let message = message
        .trim_start_matches("error: ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Log::new(false).error("usage error", vec![("error", json!(message))]);
    USAGE
}

/// Runs the verification and returns the exit code.
fn verify(options: &Options) -> u8 {
    if let Some((chain, sink)) = child::from_env() {
        return verify_child(options, chain, sink);
    }
    let log = Log::new(options.debug);
    log.debug(
        "verify starting",
        vec![
            ("version", json!(env!("CARGO_PKG_VERSION"))),
            ("interface", json!(INTERFACE)),
            ("supports", json!(SUPPORTED_INTERFACES)),
            ("pluginDir", json!(options.plugin_dir.display().to_string())),
            ("manifest", json!(options.manifest.display().to_string())),
        ],
    );
    let plan = match prepare(options) {
        Ok(plan) => plan,
        Err(e) => {
            let text = format!("{e:#}");
            log.error("usage error", vec![("error", json!(text))]);
            eprintln!("{}", usage_summary(&text));
            return USAGE;
        }
    };
    log.debug(
        "manifest read",
        vec![
            ("form", json!(plan.form)),
            ("steps", json!(plan.step_count())),
            ("cases", json!(plan.case_count())),
        ],
    );

    // Plugin code runs in child processes: a plugin that kills its process
    // is reported, not fatal.
    let report = child::verify_all(&plan, log);
    let code = report.exit_code();
    if code == 0 {
        log.info(
            "Successfully verified that the plugins load into this Gatehouse host",
            report.fields(),
        );
    } else {
        log.error("verification failed", report.fields());
    }
    eprintln!("{}", report.summary(INTERFACE));
    code
}

/// In a child process: verifies chain `index` of the manifest, reporting to
/// the parent through `sink`. Its exit code is not used.
fn verify_child(options: &Options, index: usize, sink: child::Sink) -> u8 {
    let log = Log::new(options.debug);
    if options.debug {
        host_events::forward(log);
    }
    let internal = |text: String| {
        log.error("internal error", vec![("error", json!(text))]);
        INTERNAL
    };
    let plan = match prepare(options) {
        Ok(plan) => plan,
        Err(e) => return internal(format!("the manifest changed while verifying: {e:#}")),
    };
    let Some(chain) = plan.chains.get(index) else {
        return internal(format!(
            "the manifest changed while verifying: no chain {index}"
        ));
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return internal(format!("cannot start the async runtime: {e}")),
    };
    let loader = Loader::new(&options.plugin_dir);
    let mut report = Report::forwarding(sink);
    runtime.block_on(run::verify_chain(
        chain,
        &loader,
        options.limits,
        log,
        &mut report,
    ));
    report.finish();
    // A plugin's start that never returned still holds a blocking thread.
    runtime.shutdown_background();
    0
}

/// Checks the plugin directory and reads the manifest.
fn prepare(options: &Options) -> anyhow::Result<Plan> {
    let dir = &options.plugin_dir;
    let meta = std::fs::metadata(dir)
        .with_context(|| format!("plugin directory {} is not usable", dir.display()))?;
    ensure!(
        meta.is_dir(),
        "plugin directory {} is not a directory",
        dir.display()
    );
    manifest::load(&options.manifest)
}
