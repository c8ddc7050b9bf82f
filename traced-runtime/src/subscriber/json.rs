//! The JSON stderr line (`TRACED_LOG_FORMAT=json`): one object per event, with the `trace_id` and `span_id` of
//! its span so that logs and traces can be joined.

use std::fmt::{self, Write};

use opentelemetry::trace::SpanContext;
use tracing::field::{Field, Visit};
use tracing::Event;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};

use crate::traces::span_subscriber::LineScope;

/// Writes the line of `event`, inside the spans of `scope`, to `line`.
pub(super) fn line(
    line: &mut String,
    event: &Event<'_>,
    scope: Option<&dyn LineScope>,
) -> fmt::Result {
    let mut object = serde_json::Map::new();
    let mut timestamp = String::new();
    SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
    object.insert("timestamp".into(), timestamp.into());
    object.insert("level".into(), event.metadata().level().as_str().into());
    object.insert("target".into(), event.metadata().target().into());
    let mut fields = serde_json::Map::new();
    event.record(&mut JsonVisitor(&mut fields));
    if let Some(message) = fields.remove("message") {
        object.insert("message".into(), message);
    }
    if !fields.is_empty() {
        object.insert("fields".into(), fields.into());
    }
    if let Some(scope) = scope {
        scope.spans(&mut |meta, _| {
            object.insert("span".into(), meta.name().into());
            false
        });
        if let Some(span_context) = scope.span_context().filter(SpanContext::is_valid) {
            object.insert(
                "trace_id".into(),
                span_context.trace_id().to_string().into(),
            );
            object.insert("span_id".into(), span_context.span_id().to_string().into());
        }
    }
    writeln!(line, "{}", serde_json::Value::Object(object))
}

/// Fields as JSON values.
pub(super) struct JsonVisitor<'a>(pub(super) &'a mut serde_json::Map<String, serde_json::Value>);

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}
