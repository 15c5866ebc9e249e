//! Where a plugin's log events go (interface 1.3): each instance gets a sink
//! naming its plugin and step, which writes through the host's own `tracing`
//! subscriber, so `RUST_LOG` filters plugin events (target `gatehouse::plugin`)
//! and `--log-format json` formats them like every other line.
//!
//! A plugin is not trusted to be quiet: a request may make it log at will, so
//! every sink has a line budget (the rest is counted and reported) and long
//! messages are cut.

use tracing::Level;

use crate::logging::Throttle;

/// The target of every plugin event (for `RUST_LOG=gatehouse::plugin=debug`).
pub(super) const TARGET: &str = "gatehouse::plugin";

/// Lines one instance may write per second.
const LINES_PER_SECOND: u32 = 50;

/// Longest message written, in bytes; the rest is replaced by `…`.
const MAX_MESSAGE: usize = 4096;

/// The sink of one plugin instance.
pub(super) struct PluginLog {
    plugin: String,
    step: String,
    budget: Throttle,
}

impl PluginLog {
    /// The sink of plugin `plugin` in step `step`.
    pub(super) fn new(plugin: &str, step: &str) -> Self {
        Self {
            plugin: plugin.to_string(),
            step: step.to_string(),
            budget: Throttle::new(LINES_PER_SECOND),
        }
    }

    /// True if the host's filter lets plugin events of `level` through.
    pub(super) fn enabled(&self, level: Level) -> bool {
        match level {
            Level::ERROR => tracing::enabled!(target: TARGET, Level::ERROR),
            Level::WARN => tracing::enabled!(target: TARGET, Level::WARN),
            Level::INFO => tracing::enabled!(target: TARGET, Level::INFO),
            Level::DEBUG => tracing::enabled!(target: TARGET, Level::DEBUG),
            _ => tracing::enabled!(target: TARGET, Level::TRACE),
        }
    }

    /// Writes one event of the plugin's (`target`: its module path;
    /// `request_id`: empty when it concerns no request).
    pub(super) fn write(&self, level: Level, target: &str, request_id: &str, message: &str) {
        if !self.enabled(level) {
            return;
        }
        let Some(suppressed) = self.budget.admit() else {
            return;
        };
        let message = shorten(message, MAX_MESSAGE);
        let target = shorten(target, 256);
        let request_id = shorten(request_id, 256);
        macro_rules! emit {
            ($level:expr) => {
                match (request_id.is_empty(), suppressed) {
                    (true, 0) => tracing::event!(target: TARGET, $level, plugin = %self.plugin, step = %self.step, plugin_target = %target, "{message}"),
                    (true, n) => tracing::event!(target: TARGET, $level, plugin = %self.plugin, step = %self.step, plugin_target = %target, suppressed = n, "{message}"),
                    (false, 0) => tracing::event!(target: TARGET, $level, plugin = %self.plugin, step = %self.step, plugin_target = %target, request_id = %request_id, "{message}"),
                    (false, n) => tracing::event!(target: TARGET, $level, plugin = %self.plugin, step = %self.step, plugin_target = %target, request_id = %request_id, suppressed = n, "{message}"),
                }
            };
        }
        match level {
            Level::ERROR => emit!(Level::ERROR),
            Level::WARN => emit!(Level::WARN),
            Level::INFO => emit!(Level::INFO),
            Level::DEBUG => emit!(Level::DEBUG),
            _ => emit!(Level::TRACE),
        }
    }
}

/// `text` cut to at most `max` bytes at a character boundary, marked with `…`.
fn shorten(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("ééé", 3), "é…");
        assert_eq!(
            shorten(&"x".repeat(5000), 4096).len(),
            4096 + '…'.len_utf8()
        );
    }
}
