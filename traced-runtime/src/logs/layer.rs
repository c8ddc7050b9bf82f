//! The log layer: each `tracing` event that reaches it is captured as a [`QueuedRecord`] and queued for export;
//! the export thread makes the [`LogRecord`](crate::export::log_record::LogRecord) of it.
//!
//! No SDK logger on the way: the SDK's `Logger` would build an `SdkLogRecord` behind its own processor, and the
//! appender-tracing bridge visits fields into it one by one; here the caller only captures what it must (the
//! time, the span context, the message and the fields as typed values, in reused buffers: see
//! [`queued`](super::queued)), with the span context read from the span layer's state in the registry (or the
//! ids of a trace the sampler dropped, kept on the thread).

use std::ops::Range;
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use traced_conventions::layer::MESSAGE;
use traced_conventions::span::{CODE_FILE_PATH, CODE_LINE_NUMBER};

use super::buffers::Buffers;
use super::buffers::FieldValue;
use super::queued::{write_caught, LogOrigin, Origin, QueuedRecord, LOG_TARGET};
use super::sink::LogSink;
use crate::config::LogSpanAttributes;
use crate::traces::sampling::unsampled_ids;
use crate::traces::span_layer::{visiting, with_state_or_above, SpanState};
use crate::traces::span_subscriber::{EventCapture, SpanScope};
use traced_conventions::value::{DEBUG_PANICKED, DISPLAY_PANICKED};

/// The layer; see the module documentation.
#[derive(Debug)]
pub(crate) struct LogLayer {
    sink: LogSink,
    span_attributes: LogSpanAttributes,
}

impl LogLayer {
    /// The sending end this layer feeds.
    pub(crate) fn sink(&self) -> LogSink {
        self.sink.clone()
    }

    pub(crate) fn new(sink: LogSink, span_attributes: LogSpanAttributes) -> Self {
        LogLayer {
            sink,
            span_attributes,
        }
    }
}

/// A span of the registry and the spans around it.
struct RegistryScope<'a, S: for<'l> LookupSpan<'l>>(SpanRef<'a, S>);

impl<S: for<'l> LookupSpan<'l>> SpanScope for RegistryScope<'_, S> {
    fn states(&self, f: &mut dyn FnMut(&SpanState) -> bool) {
        for span in self.0.scope() {
            if let Some(state) = span.extensions().get::<SpanState>() {
                if !f(state) {
                    return;
                }
            }
        }
    }
}

impl EventCapture for LogLayer {
    /// Captures `event` for export: its time, origin and fields, and the span context and attributes of the
    /// spans in `scope` (the span it belongs to first).
    fn capture(&self, event: &Event<'_>, scope: Option<&dyn SpanScope>) {
        // An event made by field-formatting code while the span layer holds a span's state: reading that
        // state now would deadlock.
        if visiting() {
            return;
        }
        let time = SystemTime::now();
        let (origin, level) = match event.normalized_metadata() {
            Some(meta) => (
                Origin::Log(Box::new(LogOrigin {
                    target: meta.target().to_owned(),
                    file: meta.file().map(str::to_owned),
                    line: meta.line(),
                })),
                *meta.level(),
            ),
            None => (Origin::Event(event.metadata()), *event.metadata().level()),
        };
        let mut buffers = Buffers::take();
        event.record(&mut buffers);

        let mut ids = None;
        if let Some(scope) = scope {
            // The innermost span with a state is the event's; the attributes come from it and those around it.
            scope.states(&mut |state| {
                if ids.is_none() {
                    ids = Some(
                        state
                            .started_span_context()
                            .map(|cx| (cx.trace_id(), cx.span_id(), cx.trace_flags())),
                    );
                }
                !self.span_attributes.is_empty()
                    && copy_span_attributes(state, &self.span_attributes, &mut buffers)
            });
        }
        let (trace_id, span_id, flags) = match unsampled_ids().filter(|_| event.parent().is_none())
        {
            // Inside a trace the sampler dropped no span exists: its ids, not sampled.
            Some((trace_id, span_id)) => (trace_id, span_id, TraceFlags::default()),
            None => {
                ids.flatten()
                    .unwrap_or((TraceId::INVALID, SpanId::INVALID, TraceFlags::default()))
            }
        };
        self.sink.send(QueuedRecord {
            time,
            level,
            origin,
            trace_id,
            span_id,
            flags,
            buffers,
        });
    }
}

impl<S> Layer<S> for LogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        match ctx.event_span(event).and_then(with_state_or_above) {
            Some(span) => self.capture(event, Some(&RegistryScope(span))),
            None => self.capture(event, None),
        }
    }
}

/// Adds the attributes of one span's `state` that `wanted` names, unless the record has the key already (the
/// event's own fields, its location and its target, or a span inside this one, win). False once every key
/// wanted is there.
fn copy_span_attributes(
    state: &SpanState,
    wanted: &LogSpanAttributes,
    buffers: &mut Buffers,
) -> bool {
    for kv in state.attributes() {
        let key = kv.key.as_str();
        let named = match wanted {
            LogSpanAttributes::All => true,
            LogSpanAttributes::Named(keys) => keys.iter().any(|k| k == key),
        };
        if named && !buffers.has_key(key) {
            buffers.span_attributes.push(kv.into_owned());
        }
    }
    match wanted {
        LogSpanAttributes::Named(keys) => buffers.span_attributes.len() < keys.len(),
        LogSpanAttributes::All => true,
    }
}

/// The event's fields: `message` is the body, the others attributes with their types.
impl Buffers {
    fn push(&mut self, field: &Field, value: FieldValue) {
        match field.name() {
            // Fields tracing-log adds for a log record: already in the location and target.
            name if name.starts_with("log.") => {}
            name => self.fields.push((name, value)),
        }
    }

    /// Text just written for `field`: the body if it is the message.
    fn push_text(&mut self, field: &Field, range: Range<usize>) {
        if field.name() == MESSAGE {
            self.body = Some(range);
        } else {
            self.push(field, FieldValue::Text(range));
        }
    }

    /// True when the record has attribute `key` already.
    fn has_key(&self, key: &str) -> bool {
        [CODE_FILE_PATH, CODE_LINE_NUMBER, LOG_TARGET].contains(&key)
            || self.fields.iter().any(|(have, _)| *have == key)
            || self
                .span_attributes
                .iter()
                .any(|have| have.key.as_str() == key)
    }
}

impl Visit for Buffers {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        // OTLP has no unsigned integer: a value that does not fit an `i64` is kept as text, not wrapped.
        match i64::try_from(value) {
            Ok(value) => self.push(field, FieldValue::I64(value)),
            Err(_) => {
                let range = write_caught(&mut self.text, format_args!("{value}"), "");
                self.push(field, FieldValue::Text(range));
            }
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        self.push_text(field, start..self.text.len());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let range = write_caught(&mut self.text, format_args!("{value}"), DISPLAY_PANICKED);
        self.push(field, FieldValue::Text(range));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let range = write_caught(&mut self.text, format_args!("{value:?}"), DEBUG_PANICKED);
        self.push_text(field, range);
    }
}
