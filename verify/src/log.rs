//! JSON log lines on stdout, shaped like Gloo's `verify-plugins` output:
//! `{"level":"info","ts":"2019-08-21T17:02:22.803Z","logger":"verify","msg":"…",…fields}`.
//! Keys come in that order, then the fields in the order given.

use std::{
    io::Write,
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

/// The logger name of verify's own lines.
pub(crate) const LOGGER: &str = "verify";

/// A line's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// Stages and details, shown with `--debug`.
    Debug,
    /// Progress and results.
    Info,
    /// Something did not run (e.g. a case skipped because its plugin failed).
    Warn,
    /// A failure.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// A line's fields, in order.
pub(crate) type Fields = Vec<(&'static str, Value)>;

/// Writes log lines to stdout; debug lines only with `--debug`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Log {
    debug: bool,
}

impl Log {
    /// A log that shows debug lines when `debug` is set.
    pub(crate) fn new(debug: bool) -> Self {
        Self { debug }
    }

    /// Logs a debug line (shown with `--debug`).
    pub(crate) fn debug(&self, msg: &str, fields: Fields) {
        self.emit(Level::Debug, LOGGER, msg, &fields);
    }

    /// Logs an info line.
    pub(crate) fn info(&self, msg: &str, fields: Fields) {
        self.emit(Level::Info, LOGGER, msg, &fields);
    }

    /// Logs a warning.
    pub(crate) fn warn(&self, msg: &str, fields: Fields) {
        self.emit(Level::Warn, LOGGER, msg, &fields);
    }

    /// Logs a failure.
    pub(crate) fn error(&self, msg: &str, fields: Fields) {
        self.emit(Level::Error, LOGGER, msg, &fields);
    }

    /// Writes one line unless it is a debug line and debug is off. A closed
    /// stdout is not an error worth failing verification for: the exit code
    /// and the stderr summary still tell the result.
    pub(crate) fn emit(&self, level: Level, logger: &str, msg: &str, fields: &[(&str, Value)]) {
        if level == Level::Debug && !self.debug {
            return;
        }
        let text = line(level, &rfc3339(SystemTime::now()), logger, msg, fields);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    }
}

/// One JSON object, without the newline.
fn line(level: Level, ts: &str, logger: &str, msg: &str, fields: &[(&str, Value)]) -> String {
    let mut text = format!(
        "{{\"level\":{},\"ts\":{},\"logger\":{},\"msg\":{}",
        Value::from(level.as_str()),
        Value::from(ts),
        Value::from(logger),
        Value::from(msg)
    );
    for (key, value) in fields {
        // Display of a serde_json Value is its JSON text.
        text.push_str(&format!(",{}:{value}", Value::from(*key)));
    }
    text.push('}');
    text
}

/// `t` as RFC 3339 in UTC with milliseconds, e.g. `2019-08-21T17:02:22.803Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        let at = |millis: u64| rfc3339(UNIX_EPOCH + Duration::from_millis(millis));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        // The timestamp of Gloo's sample output.
        assert_eq!(at(1_566_406_942_803), "2019-08-21T17:02:22.803Z");
        assert_eq!(at(951_868_799_000), "2000-02-29T23:59:59.000Z");
        assert_eq!(at(951_868_800_000), "2000-03-01T00:00:00.000Z");
    }

    #[test]
    fn lines_put_gloos_keys_first_then_fields_in_order() {
        let text = line(
            Level::Error,
            "2019-08-21T17:02:22.803Z",
            LOGGER,
            "plugin could not be loaded",
            &[
                ("plugin", json!("RequiredHeader")),
                ("exports", json!(["A", "B"])),
                ("error", json!("a \"quoted\"\nreason")),
            ],
        );
        assert_eq!(
            text,
            r#"{"level":"error","ts":"2019-08-21T17:02:22.803Z","logger":"verify","msg":"plugin could not be loaded","plugin":"RequiredHeader","exports":["A","B"],"error":"a \"quoted\"\nreason"}"#
        );
        let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed["exports"][1], "B");
    }
}
