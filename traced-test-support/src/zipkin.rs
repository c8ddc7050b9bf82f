//! Zipkin v2 JSON spans read as an OTLP traces request, so that one store and one span view serve both.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde_json::Value;

/// Each Zipkin span (name, ids, kind, times, string tags) as a span of its own resource, whose `service.name`
/// is the span's `localEndpoint.serviceName`.
pub(crate) fn to_otlp(spans: &[Value]) -> ExportTraceServiceRequest {
    let resource_spans = spans
        .iter()
        .map(|span| {
            let text = |key: &str| span[key].as_str().unwrap_or_default();
            let micros = |key: &str| span[key].as_u64().unwrap_or_default();
            let start = micros("timestamp") * 1_000;
            let tags = span["tags"].as_object().into_iter().flatten();
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![string(
                        "service.name",
                        span["localEndpoint"]["serviceName"]
                            .as_str()
                            .unwrap_or_default(),
                    )],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        name: text("name").to_owned(),
                        trace_id: hex(text("traceId")),
                        span_id: hex(text("id")),
                        parent_span_id: hex(text("parentId")),
                        kind: kind(text("kind")) as i32,
                        start_time_unix_nano: start,
                        end_time_unix_nano: start + micros("duration") * 1_000,
                        attributes: tags
                            .map(|(k, v)| string(k, v.as_str().unwrap_or_default()))
                            .collect(),
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

fn kind(zipkin: &str) -> SpanKind {
    match zipkin {
        "CLIENT" => SpanKind::Client,
        "SERVER" => SpanKind::Server,
        "PRODUCER" => SpanKind::Producer,
        "CONSUMER" => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// Lowercase hex as bytes; what is not hex is left out.
fn hex(text: &str) -> Vec<u8> {
    text.as_bytes()
        .chunks(2)
        .filter_map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}
