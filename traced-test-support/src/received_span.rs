//! A span as a receiver got it, with its resource and scope, decoded from the OTLP request it came in.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::Status;

/// One span as it arrived. Attributes keep their OTLP types; [`attr`](Self::attr) and
/// [`resource_attr`](Self::resource_attr) read string values.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedSpan {
    /// Its name.
    pub name: String,
    /// Its trace id, 16 bytes.
    pub trace_id: Vec<u8>,
    /// Its span id, 8 bytes.
    pub span_id: Vec<u8>,
    /// Its parent's span id; empty for a root.
    pub parent_span_id: Vec<u8>,
    /// Its kind.
    pub kind: SpanKind,
    /// Its attributes, as sent.
    pub attributes: Vec<KeyValue>,
    /// Its events, as sent.
    pub events: Vec<Event>,
    /// Its status, if it was sent one.
    pub status: Option<Status>,
    /// The attributes of its resource.
    pub resource: Vec<KeyValue>,
    /// Its instrumentation scope.
    pub scope: Option<InstrumentationScope>,
}

impl ReceivedSpan {
    /// The spans of a traces request, in the order they were sent.
    pub fn all_in(request: &ExportTraceServiceRequest) -> impl Iterator<Item = ReceivedSpan> + '_ {
        request.resource_spans.iter().flat_map(|resource_spans| {
            let resource = resource_spans
                .resource
                .as_ref()
                .map(|r| r.attributes.clone())
                .unwrap_or_default();
            resource_spans
                .scope_spans
                .iter()
                .flat_map(move |scope_spans| {
                    let resource = resource.clone();
                    scope_spans.spans.iter().map(move |span| ReceivedSpan {
                        name: span.name.clone(),
                        trace_id: span.trace_id.clone(),
                        span_id: span.span_id.clone(),
                        parent_span_id: span.parent_span_id.clone(),
                        kind: span.kind(),
                        attributes: span.attributes.clone(),
                        events: span.events.clone(),
                        status: span.status.clone(),
                        resource: resource.clone(),
                        scope: scope_spans.scope.clone(),
                    })
                })
        })
    }

    /// The value of attribute `key`.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        value_of(&self.attributes, key)
    }

    /// The value of attribute `key` if it is a string.
    pub fn attr(&self, key: &str) -> Option<&str> {
        string(self.attribute(key))
    }

    /// The value of resource attribute `key`.
    pub fn resource_attribute(&self, key: &str) -> Option<&Value> {
        value_of(&self.resource, key)
    }

    /// The value of resource attribute `key` if it is a string.
    pub fn resource_attr(&self, key: &str) -> Option<&str> {
        string(self.resource_attribute(key))
    }

    /// The attributes of every event, in order.
    pub fn event_attributes(&self) -> impl Iterator<Item = (&str, Option<&Value>)> {
        self.events.iter().flat_map(|e| &e.attributes).map(|kv| {
            (
                kv.key.as_str(),
                kv.value.as_ref().and_then(|v| v.value.as_ref()),
            )
        })
    }
}

fn value_of<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn string(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}
