//! Results: what passed and failed, the exit code, and the one-line summary.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::{child::Sink, log::Fields};

/// Exit code: verify itself failed.
pub(crate) const INTERNAL: u8 = 1;
/// Exit code: bad arguments, unusable plugin directory, unreadable or malformed manifest.
pub(crate) const USAGE: u8 = 2;

/// The exit codes, for `--help` (docs/verify.md has the same table).
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  every plugin loaded, was configured, started and stopped; every request case passed
  1  verify itself failed (internal error)
  2  usage: bad arguments, an unusable plugin directory, or a manifest that cannot be
     read or parsed
  3  a plugin could not be loaded: file missing, not a shared library, built for another
     architecture, built with panic = \"abort\", incompatible interface version, type
     layout mismatch, or no plugin exported under that name
  4  a plugin refused its config, or failed to build or start with it
  5  a request case failed
When failures of several kinds occur, the lowest code wins (the most fundamental).
A plugin that kills its process (abort, segfault) fails the step or case it was running.

Gloo's flag spellings work too: -pluginDir DIR, -manifest FILE, -debug.";

/// A kind of failure, most fundamental first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Failure {
    /// The plugin could not be loaded (file, library, interface, layout, export).
    Load,
    /// The plugin refused its config, or failed to build or start.
    Config,
    /// A request case did not give the expected result.
    Case,
}

impl Failure {
    /// The process exit code for this failure.
    pub(crate) fn code(self) -> u8 {
        match self {
            Failure::Load => 3,
            Failure::Config => 4,
            Failure::Case => 5,
        }
    }

    /// The name in a child's report events.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Failure::Load => "load",
            Failure::Config => "config",
            Failure::Case => "case",
        }
    }

    /// The failure named `name` in a child's report event.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        [Failure::Load, Failure::Config, Failure::Case]
            .into_iter()
            .find(|f| f.name() == name)
    }

    fn meaning(self) -> &'static str {
        match self {
            Failure::Load => "a plugin could not be loaded",
            Failure::Config => "a plugin refused its config or failed to start",
            Failure::Case => "a request case failed",
        }
    }
}

/// Tally of one verification run.
#[derive(Debug, Default)]
pub(crate) struct Report {
    steps: usize,
    steps_failed: usize,
    cases: usize,
    cases_failed: usize,
    cases_skipped: usize,
    /// The first failure of each kind, in words.
    first: BTreeMap<Failure, String>,
    /// In a child process: every tally event also goes to the parent.
    sink: Option<Sink>,
    /// Verify itself failed.
    internal: Option<String>,
}

impl Report {
    /// A tally that also sends every event to the parent process.
    pub(crate) fn forwarding(sink: Sink) -> Self {
        Self {
            sink: Some(sink),
            ..Self::default()
        }
    }

    fn send(&self, event: Value) {
        if let Some(sink) = &self.sink {
            sink.send(&event);
        }
    }

    /// What is about to run (plugin code may kill the process during it).
    pub(crate) fn stage(&self, stage: Failure, doing: &str) {
        self.send(json!({"event": "stage", "failure": stage.name(), "doing": doing}));
    }

    /// A plugin step loaded, was configured and started.
    pub(crate) fn step_passed(&mut self) {
        self.send(json!({"event": "step_passed"}));
        self.steps += 1;
    }

    /// A plugin step failed; `what` says where and why.
    pub(crate) fn step_failed(&mut self, failure: Failure, what: String) {
        self.send(json!({"event": "step_failed", "failure": failure.name(), "what": what}));
        self.steps += 1;
        self.steps_failed += 1;
        self.failed(failure, what);
    }

    /// A request case passed.
    pub(crate) fn case_passed(&mut self) {
        self.send(json!({"event": "case_passed"}));
        self.cases += 1;
    }

    /// A request case failed; `what` names it.
    pub(crate) fn case_failed(&mut self, what: String) {
        self.send(json!({"event": "case_failed", "what": what}));
        self.cases += 1;
        self.cases_failed += 1;
        self.failed(Failure::Case, what);
    }

    /// A request case could not run because its chain did not build or start
    /// (that failure is already counted).
    pub(crate) fn case_skipped(&mut self) {
        self.send(json!({"event": "case_skipped"}));
        self.cases += 1;
        self.cases_skipped += 1;
    }

    /// In a child: everything is reported (anything after is not plugin trouble).
    pub(crate) fn finish(&self) {
        self.send(json!({"event": "done"}));
    }

    /// Verify itself failed (a child could not be run).
    pub(crate) fn internal(&mut self, what: String) {
        self.internal.get_or_insert(what);
    }

    /// A failure outside any step or case count (a child died after its last).
    pub(crate) fn record(&mut self, failure: Failure, what: String) {
        self.failed(failure, what);
    }

    fn failed(&mut self, failure: Failure, what: String) {
        self.first.entry(failure).or_insert(what);
    }

    /// The most fundamental failure, and the first of its kind in words.
    fn worst(&self) -> Option<(Failure, &str)> {
        self.first
            .first_key_value()
            .map(|(failure, what)| (*failure, what.as_str()))
    }

    /// 0, or the code of the most fundamental failure.
    pub(crate) fn exit_code(&self) -> u8 {
        if self.internal.is_some() {
            return INTERNAL;
        }
        self.worst().map_or(0, |(failure, _)| failure.code())
    }

    /// The counts, for the final log line.
    pub(crate) fn fields(&self) -> Fields {
        vec![
            ("exitCode", json!(self.exit_code())),
            ("steps", json!(self.steps)),
            ("stepsFailed", json!(self.steps_failed)),
            ("cases", json!(self.cases)),
            ("casesFailed", json!(self.cases_failed)),
            ("casesSkipped", json!(self.cases_skipped)),
        ]
    }

    /// The one-line human summary for stderr.
    pub(crate) fn summary(&self, interface: &str) -> String {
        if let Some(what) = &self.internal {
            return format!("gatehouse-verify: FAILED (exit {INTERNAL}: internal error): {what}");
        }
        let steps = count(self.steps, "plugin step");
        let Some((worst, first)) = self.worst() else {
            let cases = match self.cases {
                0 => "no request cases".to_string(),
                n => format!("{} passed", count(n, "request case")),
            };
            return format!(
                "gatehouse-verify: OK: {steps} loaded, configured, started and stopped; \
                 {cases} (plugin interface {interface})"
            );
        };
        let cases = match (self.cases, self.cases_skipped) {
            (0, _) => String::new(),
            (n, 0) => format!(
                "; {} of {} failed",
                self.cases_failed,
                count(n, "request case")
            ),
            (n, skipped) => format!(
                "; {} of {} failed, {skipped} skipped",
                self.cases_failed,
                count(n, "request case")
            ),
        };
        format!(
            "gatehouse-verify: FAILED (exit {}: {}): {} of {steps} failed{cases}; first failure: {first}",
            worst.code(),
            worst.meaning(),
            self.steps_failed,
        )
    }
}

/// The summary for a usage error.
pub(crate) fn usage_summary(error: &str) -> String {
    format!("gatehouse-verify: FAILED (exit {USAGE}: usage): {error}")
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_passed_is_zero() {
        let mut r = Report::default();
        r.step_passed();
        r.case_passed();
        r.case_passed();
        assert_eq!(r.exit_code(), 0);
        assert_eq!(
            r.summary("1.1.0"),
            "gatehouse-verify: OK: 1 plugin step loaded, configured, started and stopped; 2 request cases passed (plugin interface 1.1.0)"
        );
    }

    #[test]
    fn no_cases_are_not_counted_as_zero_passed() {
        let mut r = Report::default();
        r.step_passed();
        assert!(
            r.summary("1.1.0")
                .ends_with("stopped; no request cases (plugin interface 1.1.0)"),
            "{}",
            r.summary("1.1.0")
        );
        r.step_failed(Failure::Load, "x: gone".into());
        assert_eq!(
            r.summary("1.1.0"),
            "gatehouse-verify: FAILED (exit 3: a plugin could not be loaded): 1 of 2 plugin steps failed; first failure: x: gone"
        );
    }

    #[test]
    fn the_most_fundamental_failure_sets_the_code() {
        let mut r = Report::default();
        r.case_failed("case 'x'".into());
        assert_eq!(r.exit_code(), 5);
        r.step_failed(Failure::Config, "b: invalid config".into());
        assert_eq!(r.exit_code(), 4);
        r.step_failed(Failure::Load, "a: missing".into());
        r.case_skipped();
        assert_eq!(r.exit_code(), 3);
        assert_eq!(
            r.summary("1.1.0"),
            "gatehouse-verify: FAILED (exit 3: a plugin could not be loaded): 2 of 2 plugin steps failed; 1 of 2 request cases failed, 1 skipped; first failure: a: missing"
        );
    }
}
