//! The host library's own tracing events (library loaded, step denied or
//! failed, …), written as verify's JSON lines under the logger
//! `verify.<target>` when `--debug` is on. Fields of the spans an event is in
//! (e.g. the chain's `step`) come first.

use std::fmt::Debug;

use serde_json::Value;
use tracing::{
    field::{Field, Visit},
    span::{Attributes, Id, Record},
    Event, Subscriber,
};
use tracing_subscriber::{
    filter::LevelFilter,
    layer::{Context, SubscriberExt},
    registry::LookupSpan,
    util::SubscriberInitExt,
    Layer,
};

use crate::log::{Level, Log, LOGGER};

/// Routes every host event at debug level and above into `log`.
pub(crate) fn forward(log: Log) {
    // Fails only if a subscriber is already set; then that one keeps the events.
    let _ = tracing_subscriber::registry()
        .with(Forward(log).with_filter(LevelFilter::DEBUG))
        .try_init();
}

/// A tracing layer that writes events as JSON lines.
struct Forward(Log);

impl<S> Layer<S> for Forward
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Collect::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Collect>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Collect::default();
        for span in ctx
            .event_scope(event)
            .into_iter()
            .flat_map(|s| s.from_root())
        {
            if let Some(span_fields) = span.extensions().get::<Collect>() {
                fields.fields.extend(span_fields.fields.iter().cloned());
            }
        }
        event.record(&mut fields);
        let meta = event.metadata();
        let level = match *meta.level() {
            tracing::Level::ERROR => Level::Error,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::INFO => Level::Info,
            _ => Level::Debug,
        };
        let logger = format!("{LOGGER}.{}", meta.target());
        self.0.emit(level, &logger, &fields.message, &fields.fields);
    }
}

/// An event's message and fields as JSON values.
#[derive(Default)]
struct Collect {
    message: String,
    fields: Vec<(&'static str, Value)>,
}

impl Collect {
    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
        } else if let Some(slot) = self.fields.iter_mut().find(|(k, _)| *k == field.name()) {
            // A span field recorded later (e.g. `decision`) replaces its placeholder.
            slot.1 = value;
        } else {
            self.fields.push((field.name(), value));
        }
    }
}

impl Visit for Collect {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.push(field, Value::from(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::from(value));
    }
}
