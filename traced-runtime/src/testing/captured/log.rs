//! The log records of a capture: every `tracing` event the captured code emitted, as the logs signal exports it.

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{KeyValue, Value};

use super::{Captured, CapturedSpan};
use crate::export::log_record::LogRecord;

/// One captured log record; see [`Captured::logs`](super::Captured::logs).
#[derive(Clone, Copy)]
pub struct CapturedLog<'a> {
    pub(super) captured: &'a Captured,
    pub(super) record: &'a LogRecord,
}

impl<'a> CapturedLog<'a> {
    /// The event's message.
    pub fn body(&self) -> Option<&'a str> {
        self.record.body.as_deref()
    }

    /// The event's level.
    pub fn level(&self) -> tracing::Level {
        self.record.level
    }

    /// The OpenTelemetry severity number: TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17.
    pub fn severity_number(&self) -> i32 {
        self.record.severity_number()
    }

    /// The value of the attribute `key` (an event field, `code.*`, `log.target`, a copied span attribute).
    pub fn attr(&self, key: &str) -> Option<&'a Value> {
        self.record.attribute(key)
    }

    /// Every attribute, as exported.
    pub fn attributes(&self) -> &'a [KeyValue] {
        &self.record.attributes
    }

    /// The trace id of the span the event belongs to (invalid outside any trace).
    pub fn trace_id(&self) -> TraceId {
        self.record.trace_id
    }

    /// The id of that span (invalid outside any span).
    pub fn span_id(&self) -> SpanId {
        self.record.span_id
    }

    /// The captured span the event belongs to, if it was captured.
    pub fn span(&self) -> Option<CapturedSpan<'a>> {
        self.captured
            .span_with_ids(self.record.trace_id, self.record.span_id)
    }
}

impl std::fmt::Debug for CapturedLog<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapturedLog")
            .field("level", &self.level())
            .field("body", &self.body())
            .field("attributes", &self.attributes())
            .field("trace_id", &self.trace_id())
            .field("span_id", &self.span_id())
            .finish()
    }
}
