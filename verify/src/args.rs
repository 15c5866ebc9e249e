//! The command line: canonical flags, Gloo's spellings of them, and `--version`.
//!
//! Gloo's `verify-plugins` used Go's flag package (`-pluginDir DIR`,
//! `-manifest FILE`, `-debug`, also written `--pluginDir` or `-pluginDir=DIR`).
//! clap has no single-dash long flags, so [`gloo_compatible`] rewrites those
//! spellings to the canonical ones before clap sees them.

use std::{ffi::OsString, path::PathBuf, time::Duration};

use clap::Parser;
use gatehouse::chain::Limits;

use crate::report::EXIT_CODES_HELP;

/// What to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// Print the verify version and the interface versions it checks against.
    Version,
    /// Verify the plugins named in a manifest.
    Verify(Options),
}

/// What to verify, and how.
#[derive(Debug)]
pub(crate) struct Options {
    /// Directory holding the plugin libraries.
    pub(crate) plugin_dir: PathBuf,
    /// The manifest naming the plugins (and request cases).
    pub(crate) manifest: PathBuf,
    /// Log every stage, and the host's own events.
    pub(crate) debug: bool,
    /// The chain limits for request cases, as the host's flags set them.
    pub(crate) limits: Limits,
}

/// Proves that plugin libraries load into this Gatehouse host, and says why not.
///
/// Every plugin in the manifest goes through the host's own loader: the file is
/// resolved inside the plugin directory and opened, its interface version and
/// type layouts are checked, the exported plugin is looked up, built from its
/// config, started and stopped. Request cases in the manifest then run through
/// the host's chain. Output: one JSON object per line on stdout, a one-line
/// summary on stderr.
#[derive(Parser, Debug)]
#[command(
    name = "gatehouse-verify",
    disable_version_flag = true,
    after_help = EXIT_CODES_HELP,
)]
struct Cli {
    /// Directory holding the plugin .so files (Gloo: -pluginDir).
    #[arg(long, value_name = "DIR", required_unless_present = "version")]
    plugin_dir: Option<PathBuf>,
    /// Manifest: a Gloo plugin entry, a YAML list of them, or AuthConfig
    /// documents (Gloo: -manifest).
    #[arg(long, value_name = "FILE", required_unless_present = "version")]
    manifest: Option<PathBuf>,
    /// Log every stage, and the host's own events (Gloo: -debug).
    #[arg(long)]
    debug: bool,
    /// Request cases: how long one step may take, in milliseconds (the host's
    /// flag and variable).
    #[arg(long, value_name = "MS", env = "GATEHOUSE_STEP_TIMEOUT_MS",
          default_value_t = Limits::default().step_timeout.as_millis() as u64)]
    step_timeout_ms: u64,
    /// Request cases: how long a whole chain may take, in milliseconds (the
    /// host's flag and variable).
    #[arg(long, value_name = "MS", env = "GATEHOUSE_CHAIN_DEADLINE_MS",
          default_value_t = Limits::default().chain_deadline.as_millis() as u64)]
    chain_deadline_ms: u64,
    /// Request cases: HTTP status of a denial caused by a plugin error, panic or
    /// timeout (the host's flag and variable).
    #[arg(long, value_name = "STATUS", env = "GATEHOUSE_ERROR_STATUS",
          default_value_t = Limits::default().error_status)]
    error_status: u16,
    /// Print the verify version and the plugin interface versions it checks.
    #[arg(long, short = 'V')]
    version: bool,
}

/// Parses the command line (`args` includes the program name).
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, clap::Error> {
    let cli = Cli::try_parse_from(gloo_compatible(args))?;
    if cli.version {
        return Ok(Command::Version);
    }
    match (cli.plugin_dir, cli.manifest) {
        (Some(plugin_dir), Some(manifest)) => Ok(Command::Verify(Options {
            plugin_dir,
            manifest,
            debug: cli.debug,
            limits: Limits {
                step_timeout: Duration::from_millis(cli.step_timeout_ms),
                chain_deadline: Duration::from_millis(cli.chain_deadline_ms),
                error_status: cli.error_status,
                ..Limits::default()
            },
        })),
        // clap enforces both unless --version; keep the message if that changes.
        _ => Err(clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            "--plugin-dir and --manifest are required\n",
        )),
    }
}

/// Rewrites Gloo's flag spellings to the canonical ones; everything else (and
/// everything after `--`) passes through unchanged.
pub(crate) fn gloo_compatible(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut args = args.into_iter();
    out.extend(args.next()); // the program name
    let mut value_next = false;
    let mut rest = false;
    for arg in args {
        if rest || value_next {
            value_next = false;
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            rest = true;
            out.push(arg);
            continue;
        }
        let Some(body) = text
            .strip_prefix("--")
            .or_else(|| text.strip_prefix('-'))
            .filter(|b| !b.is_empty())
        else {
            out.push(arg);
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let canonical = match name {
            "pluginDir" | "plugin-dir" => "--plugin-dir",
            "manifest" => "--manifest",
            "debug" => "--debug",
            "version" => "--version",
            "help" => "--help",
            _ => {
                out.push(arg);
                continue;
            }
        };
        match (canonical, value) {
            // Go booleans: -debug, -debug=true, -debug=false.
            ("--debug", Some(v)) => match v {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => out.push("--debug".into()),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => {}
                _ => out.push(format!("--debug={v}").into()),
            },
            (flag, Some(v)) => out.push(format!("{flag}={v}").into()),
            (flag, None) => {
                value_next = matches!(flag, "--plugin-dir" | "--manifest");
                out.push(flag.into());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(args: &[&str]) -> Vec<String> {
        gloo_compatible(
            std::iter::once("verify")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
        .into_iter()
        .skip(1)
        .map(|a| a.into_string().expect("utf8"))
        .collect()
    }

    fn verify(args: &[&str]) -> Options {
        match parse(
            std::iter::once("verify")
                .chain(args.iter().copied())
                .map(OsString::from),
        ) {
            Ok(Command::Verify(options)) => options,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn gloo_spellings_become_canonical() {
        assert_eq!(
            rewrite(&["-pluginDir", "plugins", "-manifest", "m.yaml", "-debug"]),
            ["--plugin-dir", "plugins", "--manifest", "m.yaml", "--debug"]
        );
        assert_eq!(
            rewrite(&["--pluginDir=plugins", "-manifest=m.yaml", "-debug=false"]),
            ["--plugin-dir=plugins", "--manifest=m.yaml"]
        );
        assert_eq!(
            rewrite(&["-debug=true", "-version"]),
            ["--debug", "--version"]
        );
    }

    #[test]
    fn values_and_other_arguments_pass_through() {
        // A value that looks like a flag is still the value.
        assert_eq!(
            rewrite(&["-manifest", "-debug", "-h", "--", "-pluginDir"]),
            ["--manifest", "-debug", "-h", "--", "-pluginDir"]
        );
        assert_eq!(rewrite(&["-debug=maybe"]), ["--debug=maybe"]);
    }

    #[test]
    fn both_spellings_parse_to_the_same_options() {
        let gloo = verify(&["-pluginDir", "p", "-manifest", "m.yaml", "-debug"]);
        let ours = verify(&["--plugin-dir", "p", "--manifest", "m.yaml", "--debug"]);
        assert_eq!(format!("{gloo:?}"), format!("{ours:?}"));
        assert!(gloo.debug);
        let defaults = Limits::default();
        assert_eq!(gloo.limits.step_timeout, defaults.step_timeout);
        assert_eq!(gloo.limits.chain_deadline, defaults.chain_deadline);
        let custom = verify(&[
            "--plugin-dir",
            "p",
            "--manifest",
            "m",
            "--step-timeout-ms",
            "50",
        ]);
        assert_eq!(custom.limits.step_timeout, Duration::from_millis(50));
    }

    #[test]
    fn version_needs_nothing_else_and_missing_flags_are_usage_errors() {
        let version = parse(["verify", "--version"].map(OsString::from));
        assert!(matches!(version, Ok(Command::Version)), "{version:?}");
        let err = parse(["verify", "--plugin-dir", "p"].map(OsString::from)).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert!(err.to_string().contains("--manifest"), "{err}");
    }
}
