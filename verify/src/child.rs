//! Plugin code runs in child processes, so that a plugin that kills its process
//! (a panic under `panic = "abort"`, `std::process::abort`, a segfault) is
//! reported as a failure instead of killing verify.
//!
//! The parent re-executes this binary once per chain with the same arguments
//! and [`CHILD_ENV`] naming the chain and a pipe. The child verifies that one
//! chain, writing its log lines to the shared stdout as usual and its tally to
//! the pipe as JSON lines: a `stage` event before plugin code runs, and one
//! event per step or case result. The parent adds the events to its report; if
//! the child dies, the last `stage` says what killed it, and the rest of that
//! chain counts as failed (steps) or skipped (cases).

use std::{
    fs::File,
    io::{BufRead, BufReader, Write},
    os::{
        fd::{FromRawFd, RawFd},
        unix::process::ExitStatusExt,
    },
    process::{Child, Command, ExitStatus},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::{
    log::Log,
    manifest::{ChainPlan, Plan},
    report::{Failure, Report},
};

/// Set in a child: `<chain index>,<pipe fd>`.
pub(crate) const CHILD_ENV: &str = "GATEHOUSE_VERIFY_CHILD";

/// How long a child that reported everything may take to exit.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// The write end of the pipe to the parent.
#[derive(Debug)]
pub(crate) struct Sink(File);

impl Sink {
    /// Sends one event line (ignored if the parent is gone).
    pub(crate) fn send(&self, event: &Value) {
        let mut line = event.to_string();
        line.push('\n');
        let _ = (&self.0).write_all(line.as_bytes());
    }
}

/// In a child: the chain to verify and the pipe to report on, from [`CHILD_ENV`].
pub(crate) fn from_env() -> Option<(usize, Sink)> {
    let value = std::env::var(CHILD_ENV).ok()?;
    let (chain, fd) = value.split_once(',')?;
    let fd: RawFd = fd.parse().ok()?;
    // Plugins must not hand the pipe on to processes they spawn.
    // SAFETY: fcntl on a descriptor number; a bad one just fails.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return None;
    }
    // SAFETY: the parent opened this descriptor for us and nothing else uses it.
    let file = unsafe { File::from_raw_fd(fd) };
    Some((chain.parse().ok()?, Sink(file)))
}

/// In the parent: verifies every chain of `plan`, each in its own child.
pub(crate) fn verify_all(plan: &Plan, log: Log) -> Report {
    let mut report = Report::default();
    for (index, chain) in plan.chains.iter().enumerate() {
        if let Err(e) = verify_in_child(index, chain, &mut report, log) {
            let text = format!("cannot run the verification child process: {e}");
            log.error("internal error", vec![("error", json!(text))]);
            report.internal(text);
            break;
        }
    }
    report
}

/// What a child said before it ended.
#[derive(Default)]
struct Progress {
    steps: usize,
    cases: usize,
    /// The last stage: which failure a death in it is, and what ran.
    stage: Option<(Failure, String)>,
    done: bool,
}

fn verify_in_child(
    index: usize,
    chain: &ChainPlan,
    report: &mut Report,
    log: Log,
) -> std::io::Result<()> {
    let (reader, writer) = pipe()?;
    let mut child = spawn(index, &writer)?;
    drop(writer);
    let mut progress = Progress::default();
    for line in BufReader::new(reader).lines() {
        let Ok(event) = serde_json::from_str::<Value>(&line?) else {
            continue;
        };
        apply(&event, report, &mut progress);
        if progress.done {
            break;
        }
    }
    let status = wait(&mut child, progress.done)?;
    if !progress.done {
        died(chain, status, &progress, report, log);
    }
    Ok(())
}

/// Adds one event to the report.
fn apply(event: &Value, report: &mut Report, progress: &mut Progress) {
    let text = |key: &str| event[key].as_str().unwrap_or_default().to_string();
    let failure = Failure::from_name(event["failure"].as_str().unwrap_or_default());
    match event["event"].as_str() {
        Some("stage") => progress.stage = failure.map(|f| (f, text("doing"))),
        Some("step_passed") => {
            progress.steps += 1;
            report.step_passed();
        }
        Some("step_failed") => {
            progress.steps += 1;
            report.step_failed(failure.unwrap_or(Failure::Load), text("what"));
        }
        Some("case_passed") => {
            progress.cases += 1;
            report.case_passed();
        }
        Some("case_failed") => {
            progress.cases += 1;
            report.case_failed(text("what"));
        }
        Some("case_skipped") => {
            progress.cases += 1;
            report.case_skipped();
        }
        Some("done") => progress.done = true,
        _ => {}
    }
}

/// Reports a child that ended without finishing its chain.
fn died(chain: &ChainPlan, status: ExitStatus, progress: &Progress, report: &mut Report, log: Log) {
    let (failure, doing) = progress
        .stage
        .clone()
        .unwrap_or((Failure::Load, format!("verifying '{}'", chain.id())));
    let how = match status.signal() {
        Some(libc::SIGABRT) => "the process aborted (SIGABRT): a panic in a plugin built with \
             panic = \"abort\", or an abort() in plugin code"
            .to_string(),
        Some(signal) => format!(
            "the process was killed by signal {signal} ({})",
            signal_name(signal)
        ),
        None => format!(
            "the process exited with code {} in the middle of it",
            status.code().unwrap_or(-1)
        ),
    };
    let what = format!("{doing}: {how}; the host would die the same way");
    log.error(
        "plugin killed the process",
        vec![
            ("chain", json!(chain.id())),
            ("check", json!("crash")),
            ("error", json!(what)),
        ],
    );
    let steps_left = chain.steps().len().saturating_sub(progress.steps);
    let mut cases_left = chain.cases.len().saturating_sub(progress.cases);
    // Recorded even if every step and case was already counted (a death while stopping).
    report.record(failure, what.clone());
    for _ in 0..steps_left {
        report.step_failed(failure, what.clone());
    }
    if failure == Failure::Case && cases_left > 0 {
        report.case_failed(what);
        cases_left -= 1;
    }
    for _ in 0..cases_left {
        report.case_skipped();
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGTRAP => "SIGTRAP",
        _ => "see `kill -l`",
    }
}

/// A pipe: the read end close-on-exec, the write end inherited by children.
fn pipe() -> std::io::Result<(File, File)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills the two descriptors it creates.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are ours.
    let (reader, writer) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    // SAFETY: clearing FD_CLOEXEC on our own descriptor.
    if unsafe { libc::fcntl(fds[1], libc::F_SETFD, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((reader, writer))
}

/// Re-executes this binary with the same arguments, for chain `index`.
fn spawn(index: usize, writer: &File) -> std::io::Result<Child> {
    use std::os::fd::AsRawFd;
    Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env(CHILD_ENV, format!("{index},{}", writer.as_raw_fd()))
        .spawn()
}

/// Waits for the child; one that reported everything but does not exit (a
/// plugin thread holding it) is killed after [`EXIT_GRACE`].
fn wait(child: &mut Child, done: bool) -> std::io::Result<ExitStatus> {
    if !done {
        return child.wait();
    }
    let deadline = Instant::now() + EXIT_GRACE;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
