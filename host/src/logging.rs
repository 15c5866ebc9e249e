//! Log output: `tracing` events to stderr, as text or JSON lines.

use std::{fmt::Write as _, io::IsTerminal};

use tracing::{
    field::{Field, Visit},
    Level,
};
use tracing_subscriber::{
    field::{RecordFields, VisitOutput},
    filter::Targets,
    fmt::{
        format::{DefaultFields, DefaultVisitor, Writer},
        FormatFields,
    },
    layer::SubscriberExt,
    util::SubscriberInitExt,
    EnvFilter, Layer, Registry,
};

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text (coloured only at a terminal).
    Text,
    /// One JSON object per line, with the current span's fields (request_id, config_id).
    Json,
}

/// Installs the global subscriber: level from `RUST_LOG` (default `info`).
/// A `RUST_LOG` that does not parse is reported on the first line and
/// replaced by `info`.
pub fn init(format: LogFormat) {
    let spec = std::env::var("RUST_LOG").ok();
    let (filter, problem) = Filter::parse(spec.as_deref());
    match filter {
        Filter::Targets(targets) => install(format, targets),
        Filter::Env(env) => install(format, env),
    }
    if let Some(problem) = problem {
        tracing::warn!("RUST_LOG ignored, logging at info: {problem}");
    }
}

/// Sets the global subscriber: `filter`, then lines in `format` to stderr.
fn install<F>(format: LogFormat, filter: F)
where
    F: Layer<Registry> + Send + Sync + 'static,
{
    // Colours only for a person at a terminal: in a file or a container log they
    // are noise, and formatting them costs time on every span.
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry.with(layer.fmt_fields(PlainFields)).init(),
        LogFormat::Json => registry
            .with(
                layer
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .init(),
    }
}

/// The filter `RUST_LOG` asks for.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one, made at start-up
enum Filter {
    /// Targets and levels only (`info,gatehouse::plugin=debug`): decided once
    /// per call site, so a request's span costs no filter bookkeeping when it
    /// is made, entered, left and closed.
    Targets(Targets),
    /// Directives on spans or field values (`[check]=debug`): `EnvFilter`
    /// tracks every span to apply them.
    Env(EnvFilter),
}

impl Filter {
    /// The filter for `spec` (none: `info`), and why `spec` was not used when
    /// it does not parse.
    fn parse(spec: Option<&str>) -> (Filter, Option<String>) {
        let spec = spec.map(str::trim).filter(|s| !s.is_empty());
        let Some(spec) = spec else {
            return (
                Filter::Targets(Targets::new().with_default(Level::INFO)),
                None,
            );
        };
        // `Targets` reads `target[{field}]=level` too, but not a span name in
        // brackets or a field's value: those go to `EnvFilter`.
        let dynamic = spec.contains(['[', ']', '{', '}', '"']);
        if !dynamic {
            if let Ok(targets) = spec.parse::<Targets>() {
                return (Filter::Targets(targets), None);
            }
        }
        match EnvFilter::try_new(spec) {
            Ok(env) => (Filter::Env(env), None),
            Err(error) => (
                Filter::Targets(Targets::new().with_default(Level::INFO)),
                Some(format!("{spec:?}: {error}")),
            ),
        }
    }
}

/// A value a client chose (a request id, a path), for a log field written with
/// `%`: control characters (newlines, ESC, C1 codes) are escaped (`\n`,
/// `\u{1b}`), so nobody can forge log lines or terminal sequences through it.
/// Text mode writes `%` fields as they are (JSON mode escapes on its own).
///
/// ```
/// use gatehouse::logging::LogText;
/// assert_eq!(LogText("id\n2026 INFO forged").to_string(), "id\\n2026 INFO forged");
/// ```
pub struct LogText<'a>(pub &'a str);

impl std::fmt::Display for LogText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return f.write_str(self.0);
        }
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Text-mode fields, written exactly as `tracing_subscriber`'s `DefaultFields`
/// writes them without colours (`name=value`, space-separated), but without its
/// styled-name formatting for plain fields: every request's span formats its
/// `request_id` and `config_id` when it is made. Messages, errors and anything
/// with colours on go through `DefaultFields`' own visitor (ANSI sanitising).
pub struct PlainFields;

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> std::fmt::Result {
        if writer.has_ansi_escapes() {
            return DefaultFields::new().format_fields(writer, fields);
        }
        let mut visitor = PlainVisitor {
            writer,
            pending: [0; PENDING],
            len: 0,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result.and_then(|()| visitor.flush())
    }
}

/// Bytes of plain fields [`PlainVisitor`] collects before writing them on.
const PENDING: usize = 256;

/// Writes fields for [`PlainFields`]. Plain fields are collected on the stack
/// and written on at once: a span's fields then cost its `String` one
/// allocation, not one per doubling.
struct PlainVisitor<'w> {
    writer: Writer<'w>,
    pending: [u8; PENDING],
    len: usize,
    is_empty: bool,
    result: std::fmt::Result,
}

impl std::fmt::Write for PlainVisitor<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if self.len + text.len() > PENDING {
            self.flush()?;
            if text.len() > PENDING {
                return self.writer.write_str(text);
            }
        }
        self.pending[self.len..self.len + text.len()].copy_from_slice(text.as_bytes());
        self.len += text.len();
        Ok(())
    }
}

impl PlainVisitor<'_> {
    /// Whether `field` is written by this visitor: not a message, not a raw
    /// identifier. (Log metadata, `log.*`, is skipped as `DefaultVisitor` does.)
    fn plain(&self, field: &Field) -> bool {
        let name = field.name();
        name != "message" && !name.starts_with("r#")
    }

    /// Writes the collected fields on (whole `&str`s were collected: UTF-8).
    fn flush(&mut self) -> std::fmt::Result {
        let text = std::str::from_utf8(&self.pending[..self.len]).map_err(|_| std::fmt::Error)?;
        self.writer.write_str(text)?;
        self.len = 0;
        Ok(())
    }

    /// Lets `DefaultVisitor` write one field (it pads as this visitor does).
    fn delegate(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_err() {
            return;
        }
        if let Err(error) = self.flush() {
            self.result = Err(error);
            return;
        }
        let mut inner = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut inner);
        self.result = inner.finish();
        self.is_empty = false;
    }

    /// `name=` with the separating space before it.
    fn name(&mut self, field: &Field) -> std::fmt::Result {
        if !std::mem::take(&mut self.is_empty) {
            self.write_char(' ')?;
        }
        self.write_str(field.name())?;
        self.write_char('=')
    }
}

/// Whether `value` is written by `{:?}` as itself between quotes.
fn debug_is_quoted_verbatim(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name().starts_with("log.") {
            return;
        }
        if !self.plain(field) || !debug_is_quoted_verbatim(value) {
            return self.delegate(|v| v.record_str(field, value));
        }
        if self.result.is_err() {
            return;
        }
        self.result = self.name(field).and_then(|()| {
            self.write_char('"')?;
            self.write_str(value)?;
            self.write_char('"')
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name().starts_with("log.") {
            return;
        }
        self.delegate(|v| v.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name().starts_with("log.") {
            return;
        }
        if !self.plain(field) {
            return self.delegate(|v| v.record_debug(field, value));
        }
        if self.result.is_err() {
            return;
        }
        self.result = self.name(field).and_then(|()| write!(self, "{value:?}"));
    }
}

/// A log-line budget for events a client can cause at will (unknown auth
/// configs, refused requests, undecodable frames): at most `per_second` lines a
/// second, the rest counted and reported on the next line that gets through.
/// Metrics still count every event; the log cannot be flooded.
///
/// ```
/// static REFUSED: gatehouse::logging::Throttle = gatehouse::logging::Throttle::new(10);
/// if let Some(suppressed) = REFUSED.admit() {
///     tracing::warn!(suppressed, "request refused");
/// }
/// ```
pub struct Throttle {
    per_second: u32,
    /// The second (since the process's first use) the window belongs to.
    window: std::sync::atomic::AtomicU64,
    /// Lines admitted in the current window.
    admitted: std::sync::atomic::AtomicU32,
    /// Lines suppressed since the last one admitted.
    suppressed: std::sync::atomic::AtomicU64,
}

impl Throttle {
    /// A budget of `per_second` lines a second.
    pub const fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window: std::sync::atomic::AtomicU64::new(0),
            admitted: std::sync::atomic::AtomicU32::new(0),
            suppressed: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// `Some(n)` when this line may be logged (`n` lines were suppressed since
    /// the last one), `None` when it is over the budget.
    pub fn admit(&self) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let now = START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs()
            + 1;
        if self.window.swap(now, Relaxed) != now {
            self.admitted.store(0, Relaxed);
        }
        if self.admitted.fetch_add(1, Relaxed) < self.per_second {
            Some(self.suppressed.swap(0, Relaxed))
        } else {
            self.suppressed.fetch_add(1, Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::{format::DefaultFields, FormatFields, MakeWriter};

    use tracing_subscriber::{layer::SubscriberExt, Layer, Registry};

    use super::{Filter, LogText, PlainFields, Throttle};

    /// Log lines written into memory.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    /// What the host's text subscriber writes for a few spans and events, with `fields`.
    fn text<N>(fields: N) -> String
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_writer(buffer.clone())
            .fmt_fields(fields)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let error = std::io::Error::other("disk \"full\"");
            let id = String::from("req-1");
            let span = tracing::info_span!("check", request_id = %id, config_id = "demo");
            let _in = span.enter();
            tracing::info!(
                step = "a b",
                count = 3,
                ok = true,
                r#type = "x",
                "done: {}",
                "yes"
            );
            tracing::warn!(quoted = "say \"hi\"", tab = "a\tb", uni = "ü", %error, "odd");
            tracing::info!(empty = "", debug = ?vec![1, 2], "\x1b[31mred");
            let inner = tracing::info_span!("inner", n = 1_u64, late = tracing::field::Empty);
            inner.record("late", "set");
            let _inner = inner.enter();
            tracing::error!("nested");
            // Longer than what the visitor collects before writing on.
            let (long, longer) = ("l".repeat(200), "m".repeat(300));
            tracing::info!(a = %long, b = long.as_str(), c = longer.as_str(), "long");
        });
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn plain_fields_write_what_default_fields_write() {
        let plain = text(PlainFields);
        assert_eq!(plain, text(DefaultFields::new()));
        for needle in [
            r#"check{request_id=req-1 config_id="demo"}"#,
            r#"inner{n=1 late="set"}"#,
            r#"step="a b" count=3 ok=true type="x""#,
            r#"odd quoted="say \"hi\"" tab="a\tb" uni="ü" error=disk "full""#,
            "\\x1b[31mred", // messages stay sanitised
        ] {
            assert!(plain.contains(needle), "no {needle} in {plain}");
        }
    }

    #[test]
    fn client_chosen_text_cannot_forge_lines_or_terminal_sequences() {
        let shown = LogText("r-1\n2026-12-01T00:00:00Z  INFO forged\x1b[2J\u{9b}\r\tü").to_string();
        assert_eq!(
            shown,
            "r-1\\n2026-12-01T00:00:00Z  INFO forged\\u{1b}[2J\\u{9b}\\r\\tü"
        );
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(LogText("0f8e-41c2").to_string(), "0f8e-41c2");
    }

    /// What `RUST_LOG=spec` lets through of a few events, and the filter kind.
    fn filtered(spec: &str) -> (String, &'static str) {
        fn logged<F: Layer<Registry> + Send + Sync + 'static>(filter: F, buffer: &Buffer) {
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .without_time()
                .with_writer(buffer.clone());
            let subscriber = tracing_subscriber::registry().with(filter).with(layer);
            tracing::subscriber::with_default(subscriber, || {
                tracing::info!(target: "gatehouse::chain", "chain-info");
                tracing::debug!(target: "gatehouse::frontend::http", "http-debug");
                tracing::debug!(target: "gatehouse::chain", "chain-debug");
                let span = tracing::info_span!(target: "gatehouse::chain", "check");
                let _in = span.enter();
                tracing::debug!(target: "gatehouse::loader", "in-check-debug");
            });
        }
        let buffer = Buffer::default();
        let (filter, problem) = Filter::parse(Some(spec));
        assert!(problem.is_none(), "{spec}: {problem:?}");
        let kind = match filter {
            Filter::Targets(targets) => {
                logged(targets, &buffer);
                "targets"
            }
            Filter::Env(env) => {
                logged(env, &buffer);
                "env"
            }
        };
        let bytes = buffer.0.lock().unwrap().clone();
        (String::from_utf8(bytes).expect("utf-8"), kind)
    }

    #[test]
    fn rust_log_of_targets_filters_by_target_without_span_bookkeeping() {
        let (lines, kind) = filtered("info,gatehouse::frontend::http=debug");
        assert_eq!(kind, "targets");
        assert!(
            lines.contains("chain-info") && lines.contains("http-debug"),
            "{lines}"
        );
        assert!(!lines.contains("chain-debug") && !lines.contains("in-check-debug"));
        let (lines, _) = filtered("warn");
        assert!(!lines.contains("chain-info"), "{lines}");
    }

    #[test]
    fn rust_log_naming_a_span_still_filters_inside_that_span() {
        let (lines, kind) = filtered("info,[check]=debug");
        assert_eq!(kind, "env");
        assert!(lines.contains("in-check-debug"), "{lines}");
        assert!(!lines.contains("chain-debug") && !lines.contains("http-debug"));
    }

    #[test]
    fn rust_log_that_does_not_parse_is_named_and_replaced_by_info() {
        let (filter, problem) = Filter::parse(Some("gatehouse=loud"));
        let problem = problem.expect("a problem");
        assert!(problem.contains("gatehouse=loud"), "{problem}");
        let Filter::Targets(targets) = filter else {
            panic!("info is a plain level: {filter:?}");
        };
        assert_eq!(
            targets.default_level(),
            Some(tracing::level_filters::LevelFilter::INFO)
        );
        let (default, none) = Filter::parse(Some("  "));
        assert!(none.is_none() && matches!(default, Filter::Targets(_)));
    }

    #[test]
    fn a_flood_is_cut_to_the_budget_and_the_rest_counted() {
        let throttle = Throttle::new(3);
        let admitted: Vec<_> = (0..1000).filter_map(|_| throttle.admit()).collect();
        // All 1000 calls fall in at most two one-second windows.
        assert!(
            (3..=6).contains(&admitted.len()),
            "admitted {}",
            admitted.len()
        );
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let reported = throttle.admit().expect("a new second has a new budget");
        assert!(reported >= 994, "suppressed lines are reported: {reported}");
    }
}
