//! Logging from a plugin (interface 1.3): use `tracing` as anywhere else
//! (`tracing::info!(kid, "key rotated")`, or the macros in [`crate::prelude`]),
//! and the SDK forwards each event to the host, which writes it through its own
//! subscriber with the plugin, the step and the request id: `RUST_LOG` filters
//! it (target `gatehouse::plugin`) and `--log-format json` formats it.
//!
//! The SDK knows which step and request an event belongs to while it runs the
//! plugin's code: `new`, `start`, every poll of `authorize`, and tasks started
//! with [`crate::runtime::spawn`] (they keep the scope they were spawned in).
//! Events from threads the plugin starts itself go to the library's most
//! recently created instance. Spans are not forwarded (their events are).
//!
//! In unit tests (no host) events go nowhere unless the test installs a
//! subscriber of its own; the SDK installs its forwarder only when a host
//! loads the library.

use std::{
    fmt::Write as _,
    sync::{Arc, OnceLock, RwLock},
};

use gatehouse_plugin_api::{abi_stable::std_types::RStr, LogHandle, LogLevel};
use tracing::{
    field::{Field, Visit},
    span, Event, Level, Metadata, Subscriber,
};

/// The sink of the library's most recently created instance.
static FALLBACK: RwLock<Option<LogHandle>> = RwLock::new(None);

/// Installs the forwarder (once per library) and remembers `sink` as the
/// fallback for events outside any scope.
pub(crate) fn attach(sink: &LogHandle) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Fails only if the plugin installed a subscriber of its own: keep it.
        let _ = tracing::subscriber::set_global_default(Forwarder);
    });
    *FALLBACK.write().unwrap_or_else(|e| e.into_inner()) = Some(sink.clone());
}

fn level(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        _ => LogLevel::Trace,
    }
}

/// The sink an event goes to now, with its request id.
fn target_sink() -> Option<(LogHandle, Option<Arc<str>>)> {
    if let Some(scope) = crate::scope::current() {
        if let Some(sink) = scope.sink {
            return Some((sink, scope.request_id));
        }
    }
    let fallback = FALLBACK.read().unwrap_or_else(|e| e.into_inner());
    fallback.clone().map(|sink| (sink, None))
}

/// The plugin library's `tracing` subscriber: hands events to the host.
struct Forwarder;

impl Subscriber for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        if metadata.is_span() {
            return false;
        }
        target_sink().is_some_and(|(sink, _)| sink.enabled(level(metadata.level())))
    }

    fn register_callsite(
        &self,
        _metadata: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        // The host's filter may change and differs by scope: ask every time.
        tracing::subscriber::Interest::sometimes()
    }

    fn new_span(&self, _span: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _span: &span::Id, _values: &span::Record<'_>) {}

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let Some((sink, request_id)) = target_sink() else {
            return;
        };
        let mut text = Text::default();
        event.record(&mut text);
        let metadata = event.metadata();
        sink.log(
            level(metadata.level()),
            RStr::from(metadata.target()),
            RStr::from(request_id.as_deref().unwrap_or("")),
            RStr::from(text.finish().as_str()),
        );
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

/// An event as one line: the message, then `name=value` for each field.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Text {
    fn finish(self) -> String {
        match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => format!("{} {}", self.message, self.fields),
        }
    }
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
            return;
        }
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let _ = write!(self.fields, "{}={value:?}", field.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_its_message_then_its_fields() {
        let mut text = Text::default();
        text.message.push_str("key rotated");
        text.fields.push_str("kid=\"k2\" keys=3");
        assert_eq!(text.finish(), "key rotated kid=\"k2\" keys=3");
        assert_eq!(Text::default().finish(), "");
    }

    #[test]
    fn outside_a_host_events_go_nowhere() {
        assert!(crate::scope::current().is_none());
        // No sink: the forwarder is not installed and nothing panics.
        tracing::info!("nobody listens");
    }
}
