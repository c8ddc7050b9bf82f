//! Zipkin v2 JSON over HTTP (feature `zipkin`), after the OpenTelemetry → Zipkin mapping of the specification.
//!
//! Our own, because `opentelemetry-zipkin` 0.33 is deprecated and never fills `localEndpoint.serviceName`
//! (it ignores the resource), which makes every span "unknown" in a Zipkin UI.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use serde_json::{json, Map};

use super::endpoint::printable;
use super::{DynExporter, Named};
use crate::Error;

/// The Zipkin exporter posting to `endpoint`; the service name comes from the resource.
pub(super) fn build(endpoint: &str) -> Result<Box<dyn DynExporter>, Error> {
    let invalid = |reason: String| {
        Error::invalid("OTEL_EXPORTER_ZIPKIN_ENDPOINT", printable(endpoint), reason)
    };
    let url = reqwest::Url::parse(endpoint).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https".into()));
    }
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| Error::Exporter {
            exporter: "zipkin",
            reason: e.to_string(),
        })?;
    Ok(Named::boxed(
        "zipkin",
        ZipkinExporter {
            client,
            url,
            service_name: String::new(),
        },
    ))
}

#[derive(Debug)]
struct ZipkinExporter {
    client: reqwest::Client,
    url: reqwest::Url,
    service_name: String,
}

impl SpanExporter for ZipkinExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans: Vec<serde_json::Value> = batch
            .iter()
            .map(|s| to_zipkin(s, &self.service_name))
            .collect();
        let body =
            serde_json::to_vec(&spans).map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?;
        let response = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            // reqwest's message names the URL, credentials included.
            .map_err(|e| OTelSdkError::InternalFailure(e.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(OTelSdkError::InternalFailure(format!(
                "the collector answered {}",
                response.status()
            )))
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.service_name = resource
            .get(&opentelemetry::Key::from_static_str("service.name"))
            .map(|v| v.to_string())
            .unwrap_or_default();
    }
}

fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
        .try_into()
        .unwrap_or(u64::MAX)
}

/// A tag value: strings as they are, arrays as JSON arrays (the spec's rule for non-string values).
fn tag_value(value: &Value) -> String {
    match value {
        Value::Array(Array::String(items)) => {
            json!(items.iter().map(|s| s.as_str()).collect::<Vec<_>>()).to_string()
        }
        Value::Array(Array::Bool(items)) => json!(items).to_string(),
        Value::Array(Array::I64(items)) => json!(items).to_string(),
        Value::Array(Array::F64(items)) => json!(items).to_string(),
        other => other.to_string(),
    }
}

fn to_zipkin(span: &SpanData, service_name: &str) -> serde_json::Value {
    let mut tags: Map<String, serde_json::Value> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.to_string(), tag_value(&kv.value).into()))
        .collect();
    tags.insert(
        "otel.scope.name".into(),
        span.instrumentation_scope.name().into(),
    );
    if let Some(version) = span.instrumentation_scope.version() {
        tags.insert("otel.scope.version".into(), version.into());
    }
    match &span.status {
        Status::Unset => {}
        Status::Ok => {
            tags.insert("otel.status_code".into(), "OK".into());
        }
        Status::Error { description } => {
            tags.insert("otel.status_code".into(), "ERROR".into());
            tags.insert("error".into(), description.to_string().into());
        }
    }
    let annotations: Vec<serde_json::Value> = span
        .events
        .iter()
        .map(|event| {
            // `"name"` alone, or `"name": {attributes}` when the event has attributes.
            let value = if event.attributes.is_empty() {
                event.name.to_string()
            } else {
                let attrs: Map<String, serde_json::Value> = event
                    .attributes
                    .iter()
                    .map(|KeyValue { key, value, .. }| (key.to_string(), tag_value(value).into()))
                    .collect();
                format!(
                    "{}: {}",
                    json!(event.name),
                    serde_json::Value::Object(attrs)
                )
            };
            json!({ "timestamp": micros(event.timestamp), "value": value })
        })
        .collect();
    let start = micros(span.start_time);
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or(Duration::ZERO)
        .as_micros()
        .max(1);
    let mut out = json!({
        "traceId": span.span_context.trace_id().to_string(),
        "id": span.span_context.span_id().to_string(),
        "name": span.name,
        "timestamp": start,
        "duration": u64::try_from(duration).unwrap_or(u64::MAX),
        "localEndpoint": { "serviceName": service_name },
        "tags": tags,
    });
    if span.parent_span_id != SpanId::INVALID {
        out["parentId"] = span.parent_span_id.to_string().into();
    }
    let kind = match span.span_kind {
        SpanKind::Client => Some("CLIENT"),
        SpanKind::Server => Some("SERVER"),
        SpanKind::Producer => Some("PRODUCER"),
        SpanKind::Consumer => Some("CONSUMER"),
        SpanKind::Internal => None,
    };
    if let Some(kind) = kind {
        out["kind"] = kind.into();
    }
    if !annotations.is_empty() {
        out["annotations"] = annotations.into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Event, SpanContext, TraceFlags, TraceId, TraceState};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    #[test]
    fn maps_a_span_after_the_spec() {
        let start = UNIX_EPOCH + Duration::from_micros(1_000_000);
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            "retry",
            start,
            vec![KeyValue::new("attempt", 2)],
            0,
        ));
        let span = SpanData {
            span_context: SpanContext::new(
                TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
                SpanId::from_hex("b7ad6b7169203331").unwrap(),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            parent_span_is_remote: false,
            span_kind: SpanKind::Client,
            name: "GET /orders".into(),
            start_time: start,
            end_time: start + Duration::from_micros(250),
            attributes: vec![
                KeyValue::new("http.status_code", 503),
                KeyValue::new(
                    "tags",
                    Value::Array(Array::String(vec!["a".into(), "b".into()])),
                ),
            ],
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status: Status::error("upstream down"),
            instrumentation_scope: InstrumentationScope::builder("traced").build(),
        };
        let z = to_zipkin(&span, "checkout");
        assert_eq!(z["traceId"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(z["id"], "b7ad6b7169203331");
        assert_eq!(z["parentId"], "00f067aa0ba902b7");
        assert_eq!(z["kind"], "CLIENT");
        assert_eq!(z["timestamp"], 1_000_000);
        assert_eq!(z["duration"], 250);
        assert_eq!(z["localEndpoint"]["serviceName"], "checkout");
        assert_eq!(z["tags"]["http.status_code"], "503");
        assert_eq!(z["tags"]["tags"], r#"["a","b"]"#);
        assert_eq!(z["tags"]["otel.status_code"], "ERROR");
        assert_eq!(z["tags"]["error"], "upstream down");
        assert_eq!(z["annotations"][0]["value"], r#""retry": {"attempt":"2"}"#);
    }
}
