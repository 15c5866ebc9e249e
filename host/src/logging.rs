//! Log output: `tracing` events to stderr, as text or JSON lines.

use std::io::IsTerminal;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text (coloured only at a terminal).
    Text,
    /// One JSON object per line, with the current span's fields (request_id, config_id).
    Json,
}

/// Installs the global subscriber: level from `RUST_LOG` (default `info`).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: in a file or a container log they
    // are noise, and formatting them costs time on every span.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
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
    use super::Throttle;

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
