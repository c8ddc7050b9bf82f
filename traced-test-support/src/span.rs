//! Accessors for assertions on the spans an exporter got from the SDK (`opentelemetry_sdk::trace::SpanData`).

use std::time::Duration;

use opentelemetry::trace::{Event, SpanId, TraceId};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// Exported spans, in the order they ended.
#[derive(Debug)]
pub struct Spans(pub Vec<SpanData>);

impl Spans {
    /// The only span with this name; fails if there is none or more than one.
    pub fn one(&self, name: &str) -> &SpanData {
        let found = self.all(name);
        assert_eq!(
            found.len(),
            1,
            "expected exactly one span named {name:?}, exported: {:?}",
            self.names()
        );
        found[0]
    }

    /// Every span with this name.
    pub fn all(&self, name: &str) -> Vec<&SpanData> {
        self.0.iter().filter(|s| s.name == name).collect()
    }

    /// The names of the spans.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|s| s.name.as_ref()).collect()
    }

    /// The number of spans.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no span.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The first span named `name`; fails with the names there are if there is none.
pub fn find<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

/// The value of an attribute, if the span has it; fails if it was recorded more than once.
pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    let mut found = span.attributes.iter().filter(|kv| kv.key.as_str() == key);
    let first = found.next();
    assert!(
        found.next().is_none(),
        "{key} recorded more than once on {}: {:?}",
        span.name,
        span.attributes
    );
    first.map(|kv| &kv.value)
}

/// The value of an attribute; fails with the span's attributes if it is missing.
pub fn get<'a>(span: &'a SpanData, key: &str) -> &'a Value {
    attr(span, key).unwrap_or_else(|| {
        panic!(
            "span {:?} has no attribute {key:?}; attributes: {:?}",
            span.name, span.attributes
        )
    })
}

/// A string attribute; fails if it is missing or not a string.
pub fn string(span: &SpanData, key: &str) -> String {
    match get(span, key) {
        Value::String(s) => s.as_str().to_owned(),
        other => panic!(
            "attribute {key:?} of {:?} is not a string: {other:?}",
            span.name
        ),
    }
}

/// An attribute as text, whatever its type (a string as it is, other values as they display), if the span
/// has it.
pub fn text(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(Value::to_string)
}

/// An attribute of an event, by key.
pub fn event_attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// The `exception` events of a span.
pub fn exceptions(span: &SpanData) -> Vec<&Event> {
    span.events
        .events
        .iter()
        .filter(|e| e.name == "exception")
        .collect()
}

/// The span's wall-clock duration from its start and end timestamps.
pub fn elapsed(span: &SpanData) -> Duration {
    span.end_time
        .duration_since(span.start_time)
        .expect("end after start")
}

/// The trace id of a span.
pub fn trace_id(span: &SpanData) -> TraceId {
    span.span_context.trace_id()
}

/// The span id of a span.
pub fn span_id(span: &SpanData) -> SpanId {
    span.span_context.span_id()
}

/// Whether `child` is a direct child of `parent` (same trace, parent span id).
pub fn is_child_of(child: &SpanData, parent: &SpanData) -> bool {
    child.span_context.trace_id() == parent.span_context.trace_id()
        && child.parent_span_id == parent.span_context.span_id()
}
