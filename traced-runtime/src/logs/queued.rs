//! A log record as the layer queues it: what the calling thread has to capture (the time, the level, the span
//! context, the fields with their types and the message as text), in buffers it reuses, and nothing it could
//! leave to the export thread, which builds the [`LogRecord`] the exporters get
//! ([`QueuedRecord::into_record`]).
//!
//! Why: building the `LogRecord` on the caller cost two allocations per event (the attributes' `Vec`, the
//! message's `String`) and a reference count per shared string, freed on the export thread: with the system
//! allocator, memory freed on another thread never comes back to the caller's cache, so every event paid the slow
//! path of `malloc`. The buffers here ([`Buffers`]) go back to the callers once the export thread has read them.

use std::fmt::Write as _;
use std::ops::Range;
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry::{Key, KeyValue, StringValue, Value};
use tracing::{Level, Metadata};

use traced_conventions::span::{CODE_FILE_PATH, CODE_LINE_NUMBER};

use super::buffers::{Buffers, FieldValue};
use crate::export::log_record::LogRecord;

/// The target of every record, as the OpenTelemetry log bridges name it.
pub(super) const LOG_TARGET: &str = "log.target";

/// One event, queued for export.
#[derive(Debug)]
pub(crate) struct QueuedRecord {
    pub(super) time: SystemTime,
    pub(super) level: Level,
    pub(super) origin: Origin,
    pub(super) trace_id: TraceId,
    pub(super) span_id: SpanId,
    pub(super) flags: TraceFlags,
    /// The message and the fields.
    pub(super) buffers: Buffers,
}

/// Where the event comes from: its location and target.
#[derive(Debug)]
pub(super) enum Origin {
    /// A `tracing` event: its callsite's metadata, all of it `'static`.
    Event(&'static Metadata<'static>),
    /// A `log` crate record through tracing-log: its location is in the record, not `'static`.
    Log(Box<LogOrigin>),
}

#[derive(Debug)]
pub(super) struct LogOrigin {
    pub(super) target: String,
    pub(super) file: Option<String>,
    pub(super) line: Option<u32>,
}

impl QueuedRecord {
    /// The record the exporters get, and the buffers to give back to the callers. Runs on the export thread.
    pub(super) fn into_record(self) -> (LogRecord, Buffers) {
        let QueuedRecord {
            time,
            level,
            origin,
            trace_id,
            span_id,
            flags,
            buffers,
        } = self;
        let text = buffers.text.as_str();
        let mut attributes =
            Vec::with_capacity(buffers.fields.len() + buffers.span_attributes.len() + 3);
        let (file, line, target): (Option<StringValue>, _, StringValue) = match &origin {
            Origin::Event(meta) => (
                meta.file().map(StringValue::from),
                meta.line(),
                meta.target().into(),
            ),
            Origin::Log(log) => (
                log.file.clone().map(StringValue::from),
                log.line,
                log.target.clone().into(),
            ),
        };
        // The location and the target come first, so the attribute count limit keeps them and drops the last
        // fields.
        if let Some(file) = file {
            attributes.push(KeyValue::new(CODE_FILE_PATH, Value::String(file)));
        }
        if let Some(line) = line {
            attributes.push(KeyValue::new(CODE_LINE_NUMBER, i64::from(line)));
        }
        let scope = match origin {
            // A static target's crate is a static string too.
            Origin::Event(meta) => crate_of(meta.target()).into(),
            Origin::Log(_) => crate_of(target.as_str()).to_owned().into(),
        };
        attributes.push(KeyValue::new(LOG_TARGET, Value::String(target)));
        attributes.extend(buffers.fields.iter().map(|(key, value)| {
            let value = match value {
                FieldValue::Bool(v) => Value::Bool(*v),
                FieldValue::I64(v) => Value::I64(*v),
                FieldValue::F64(v) => Value::F64(*v),
                FieldValue::Text(range) => Value::String(text[range.clone()].to_owned().into()),
            };
            KeyValue::new(Key::from_static_str(key), value)
        }));
        let mut buffers = buffers;
        attributes.append(&mut buffers.span_attributes);
        let record = LogRecord {
            time,
            level,
            body: buffers
                .body
                .clone()
                .map(|range| buffers.text[range].to_owned()),
            attributes,
            dropped_attributes: 0,
            trace_id,
            span_id,
            flags,
            scope,
        };
        (record, buffers)
    }
}

impl From<QueuedRecord> for LogRecord {
    fn from(queued: QueuedRecord) -> LogRecord {
        queued.into_record().0
    }
}

/// The crate of a target: its first path segment.
fn crate_of(target: &str) -> &str {
    target.split("::").next().unwrap_or(target)
}

/// Writes `value` at the end of `text` and returns its range; `Display` or `Debug` code that panics half-way
/// leaves `fallback` instead. The application's code is caught as the span layer catches it: a panic here would
/// take the caller down for a log record.
pub(crate) fn write_caught(
    text: &mut String,
    value: std::fmt::Arguments<'_>,
    fallback: &str,
) -> Range<usize> {
    let start = text.len();
    let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = text.write_fmt(value);
    }));
    if written.is_err() {
        text.truncate(start);
        text.push_str(fallback);
    }
    start..text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_buffers_carry_only_their_record() {
        let mut buffers = Buffers::default();
        // What an earlier record left, as if given back without being emptied: only the ranges count.
        buffers.text.push_str("stale");
        let body = write_caught(&mut buffers.text, format_args!("item {}", 7), "");
        buffers.body = Some(body);
        let user = write_caught(&mut buffers.text, format_args!("ann"), "");
        buffers.fields.push(("user", FieldValue::Text(user)));
        buffers.fields.push(("i", FieldValue::I64(3)));
        buffers.fields.push(("ok", FieldValue::Bool(true)));
        buffers
            .span_attributes
            .push(KeyValue::new("tenant", "acme"));
        let queued = QueuedRecord {
            time: SystemTime::UNIX_EPOCH,
            level: Level::WARN,
            origin: Origin::Log(Box::new(LogOrigin {
                target: "app::db".to_owned(),
                file: Some("src/db.rs".to_owned()),
                line: Some(12),
            })),
            trace_id: TraceId::INVALID,
            span_id: SpanId::INVALID,
            flags: TraceFlags::default(),
            buffers,
        };
        let (record, buffers) = queued.into_record();
        assert_eq!(record.body.as_deref(), Some("item 7"));
        assert_eq!(record.scope, "app");
        let attributes: Vec<(&str, String)> = record
            .attributes
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str().into_owned()))
            .collect();
        assert_eq!(
            attributes,
            [
                (CODE_FILE_PATH, "src/db.rs".to_owned()),
                (CODE_LINE_NUMBER, "12".to_owned()),
                (LOG_TARGET, "app::db".to_owned()),
                ("user", "ann".to_owned()),
                ("i", "3".to_owned()),
                ("ok", "true".to_owned()),
                ("tenant", "acme".to_owned()),
            ]
        );
        assert!(matches!(record.attributes[4].value, Value::I64(3)));
        assert!(matches!(record.attributes[5].value, Value::Bool(true)));
        assert!(buffers.span_attributes.is_empty());
    }

    #[test]
    fn a_panicking_debug_leaves_the_fallback_only() {
        struct Panics;
        impl std::fmt::Debug for Panics {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("half")?;
                panic!("in Debug")
            }
        }
        let mut text = String::from("before ");
        let range = write_caught(&mut text, format_args!("{:?}", Panics), "<Debug panicked>");
        assert_eq!(&text[range], "<Debug panicked>");
        assert!(text.starts_with("before <Debug"));
    }
}
