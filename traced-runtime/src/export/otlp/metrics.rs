//! The OTLP metrics exporter: an `ExportMetricsServiceRequest` encoded as protobuf (gRPC, `http/protobuf`) or
//! JSON (`http/json`) and sent to `MetricsService/Export` or the metrics URL by the OTLP client every signal
//! shares (its retries, compression and budget).

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;

use super::client::{Client, Encoding};
use super::transport;
use crate::config::OtlpConfig;
use crate::export::budget::Budget;
use crate::Error;

/// An OTLP client for the metrics endpoint: the client every signal shares, told to post to the metrics service.
#[derive(Debug)]
pub(crate) struct MetricsClient(Client);

impl MetricsClient {
    /// A client for `config` (the metrics OTLP settings). Must run inside a tokio runtime.
    pub(crate) fn new(config: &OtlpConfig) -> Result<Self, Error> {
        Client::new(config, transport::METRICS).map(MetricsClient)
    }

    /// Sends `request`, retried within `budget`.
    pub(crate) async fn send(
        &self,
        request: &ExportMetricsServiceRequest,
        budget: &Budget,
    ) -> Result<(), String> {
        let body = encode(request, self.0.encoding() == Encoding::Json)?;
        self.0.send(body, budget).await
    }
}

/// The request's bytes: protobuf, or OTLP/JSON (ids in hex, as the serde of opentelemetry-proto writes them).
///
/// OTLP/JSON lets a 64-bit integer be a string or a number, and a receiver must take both; rotel drops the data of
/// a metric whose histogram counts, integer values or exemplar times are strings, and refuses `null`: those are
/// written as numbers, and unset optional fields are left out.
pub(crate) fn encode(request: &ExportMetricsServiceRequest, json: bool) -> Result<Vec<u8>, String> {
    #[cfg(feature = "otlp-http")]
    if json {
        let error = |e: serde_json::Error| format!("cannot encode OTLP/JSON metrics: {e}");
        let mut value = serde_json::to_value(request).map_err(error)?;
        normalize(&mut value, false);
        return serde_json::to_vec(&value).map_err(error);
    }
    let _ = json;
    Ok(request.encode_to_vec())
}

/// Removes every `null` member, and writes histogram counts, integer values and exemplar times (`in_exemplar`)
/// as numbers.
#[cfg(feature = "otlp-http")]
fn normalize(value: &mut serde_json::Value, in_exemplar: bool) {
    use serde_json::Value;
    let number = |value: &mut Value| {
        if let Value::String(text) = value {
            if let Ok(n) = text.parse::<i64>() {
                *value = Value::from(n);
            } else if let Ok(n) = text.parse::<u64>() {
                *value = Value::from(n);
            }
        }
    };
    match value {
        Value::Object(members) => {
            members.retain(|_, member| !member.is_null());
            for (key, member) in members.iter_mut() {
                match key.as_str() {
                    "count" | "asInt" => number(member),
                    "bucketCounts" => {
                        if let Value::Array(counts) = member {
                            counts.iter_mut().for_each(number);
                        }
                    }
                    "timeUnixNano" if in_exemplar => number(member),
                    "exemplars" => normalize(member, true),
                    _ => normalize(member, in_exemplar),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| normalize(item, in_exemplar)),
        _ => {}
    }
}

#[cfg(all(test, feature = "otlp-http"))]
mod tests {
    use opentelemetry_proto::tonic::metrics::v1::{
        exemplar, metric, Exemplar, Histogram, HistogramDataPoint, Metric, ResourceMetrics,
        ScopeMetrics,
    };

    use super::*;

    #[test]
    fn json_writes_ids_in_hex_and_decodes_back() {
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "function.calls.duration".into(),
                        unit: "s".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                count: 1,
                                sum: Some(0.5),
                                bucket_counts: vec![0, 1],
                                explicit_bounds: vec![0.25],
                                exemplars: vec![Exemplar {
                                    trace_id: vec![0xab; 16],
                                    span_id: vec![0xcd; 8],
                                    value: Some(exemplar::Value::AsDouble(0.5)),
                                    ..Default::default()
                                }],
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let json = String::from_utf8(encode(&request, true).unwrap()).unwrap();
        assert!(json.contains(&"ab".repeat(16)), "{json}");
        assert!(!json.contains("null"), "{json}");
        assert!(
            json.contains("\"bucketCounts\":[0,1]") && json.contains("\"count\":1"),
            "{json}"
        );
        let back: ExportMetricsServiceRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, request);
        assert_eq!(
            ExportMetricsServiceRequest::decode(&*encode(&request, false).unwrap()).unwrap(),
            request
        );
    }
}
