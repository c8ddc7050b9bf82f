//! A log record as the pipeline carries it from the `tracing` layer to the exporters: one per event.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry::KeyValue;
use traced_conventions::error::EXCEPTION_TYPE;
use tracing::Level;

/// The target of the one error line `#[traced]` logs per error.
pub(crate) const ERROR_LINE_TARGET: &str = "traced";

/// True for the error line of `#[traced]`: a span layer records its error on the span directly, not the line.
pub(crate) fn is_error_line(meta: &tracing::Metadata<'_>) -> bool {
    meta.target() == ERROR_LINE_TARGET && meta.fields().field(EXCEPTION_TYPE).is_some()
}

/// One `tracing` event, as an OpenTelemetry log record.
#[derive(Clone, Debug)]
pub(crate) struct LogRecord {
    /// When the event happened, which is also when it was observed: a `tracing` event has no time of its own.
    pub(crate) time: SystemTime,
    pub(crate) level: Level,
    /// The event's message.
    pub(crate) body: Option<String>,
    /// The event's fields with their types, the location and the target, then the copied span attributes.
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) dropped_attributes: u32,
    /// Of the span the event belongs to (invalid outside any trace).
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) flags: TraceFlags,
    /// The instrumentation scope: the crate of the target (the OTLP encoding's).
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) scope: Cow<'static, str>,
}

impl LogRecord {
    /// The OpenTelemetry severity number of the level: TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) fn severity_number(&self) -> i32 {
        match self.level {
            Level::TRACE => 1,
            Level::DEBUG => 5,
            Level::INFO => 9,
            Level::WARN => 13,
            Level::ERROR => 17,
        }
    }

    /// The severity text: the level's name.
    pub(crate) fn severity_text(&self) -> &'static str {
        self.level.as_str()
    }

    /// True for the error line of `#[traced]`.
    pub(crate) fn is_error_line(&self) -> bool {
        self.attribute(EXCEPTION_TYPE).is_some()
            && self
                .attribute("log.target")
                .is_some_and(|target| target.as_str() == ERROR_LINE_TARGET)
    }

    /// The value of attribute `key`, if the record has it.
    pub(crate) fn attribute(&self, key: &str) -> Option<&opentelemetry::Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }
}
