//! Log records to an OTLP `ExportLogsServiceRequest` on the export thread (the application's threads never see
//! it): protobuf written straight from the records (`encode::write_logs_request`), JSON through
//! opentelemetry-proto's messages.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as ProtoRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::{Attributes, ResourceAttributesWithSchema};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::Resource;

use super::client::{Client, Encoding};
use super::encode::{write_logs_request, EncodedResource};
use crate::export::budget::Budget;
use crate::export::log_record::LogRecord;
use crate::export::{DeliveryFuture, DynExporter};

/// The OTLP logs exporter.
#[derive(Debug)]
pub(super) struct OtlpLogs {
    pub(super) client: Client,
    /// `TRACED_MAX_EXPORT_BYTES`: the bound of one request, before compression.
    pub(super) max_bytes: usize,
    pub(super) resource: ResourceAttributesWithSchema,
    /// `resource` as protobuf, once per resource.
    pub(super) encoded_resource: EncodedResource,
}

impl OtlpLogs {
    /// Writes the request for `records` to `out`, protobuf or JSON.
    fn encode(&self, records: &[LogRecord], out: &mut Vec<u8>) {
        match self.client.encoding() {
            Encoding::Protobuf => write_logs_request(out, records, &self.encoded_resource),
            Encoding::Json => json(&request(records.to_vec(), &self.resource), out),
        }
    }
}

#[cfg(feature = "otlp-http")]
fn json(request: &ExportLogsServiceRequest, out: &mut Vec<u8>) {
    // Serialising plain message structs to a vector cannot fail.
    let _ = serde_json::to_writer(out, request);
}

#[cfg(not(feature = "otlp-http"))]
fn json(_request: &ExportLogsServiceRequest, _out: &mut Vec<u8>) {
    unreachable!("OTLP/JSON needs the otlp-http feature, which the client checked")
}

impl DynExporter<LogRecord> for OtlpLogs {
    fn name(&self) -> &'static str {
        "otlp"
    }

    fn export(&self, batch: Vec<LogRecord>, budget: Budget) -> DeliveryFuture<'_> {
        Box::pin(async move {
            self.client
                .deliver(
                    batch,
                    "log record",
                    self.max_bytes,
                    &budget,
                    |records, out| self.encode(records, out),
                    drop,
                )
                .await
        })
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        // Nothing buffered here: the lane already exported what was queued.
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
        self.encoded_resource = (&self.resource).into();
    }
}

/// One `ResourceLogs` with a `ScopeLogs` per scope (the target's crate), in the order the scopes first appear.
pub(super) fn request(
    records: Vec<LogRecord>,
    resource: &ResourceAttributesWithSchema,
) -> ExportLogsServiceRequest {
    let mut scopes: Vec<ScopeLogs> = Vec::new();
    for record in records {
        let index = match scopes.iter().position(|s| {
            s.scope
                .as_ref()
                .is_some_and(|scope| scope.name == record.scope)
        }) {
            Some(index) => index,
            None => {
                scopes.push(ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: record.scope.clone().into_owned(),
                        version: String::new(),
                        attributes: Vec::new(),
                        dropped_attributes_count: 0,
                    }),
                    log_records: Vec::new(),
                    schema_url: String::new(),
                });
                scopes.len() - 1
            }
        };
        scopes[index].log_records.push(proto_record(record));
    }
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(ProtoResource {
                attributes: resource.attributes.0.clone(),
                dropped_attributes_count: 0,
                entity_refs: Vec::new(),
            }),
            scope_logs: scopes,
            schema_url: resource.schema_url.clone().unwrap_or_default(),
        }],
    }
}

fn proto_record(record: LogRecord) -> ProtoRecord {
    let time = nanos(record.time);
    ProtoRecord {
        time_unix_nano: time,
        observed_time_unix_nano: time,
        severity_number: record.severity_number(),
        severity_text: record.severity_text().to_owned(),
        body: record.body.map(|body| AnyValue {
            value: Some(ProtoValue::StringValue(body)),
        }),
        attributes: Attributes::from(record.attributes).0,
        dropped_attributes_count: record.dropped_attributes,
        flags: u32::from(record.flags.to_u8()),
        trace_id: if record.trace_id == TraceId::INVALID {
            Vec::new()
        } else {
            record.trace_id.to_bytes().to_vec()
        },
        span_id: if record.span_id == SpanId::INVALID {
            Vec::new()
        } else {
            record.span_id.to_bytes().to_vec()
        },
        event_name: String::new(),
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::Duration;

    use opentelemetry::trace::TraceFlags;
    use opentelemetry::{Array, KeyValue, Value};
    use prost::Message as _;

    use super::*;

    fn log_record(n: u64, scope: &'static str) -> LogRecord {
        let level = [
            tracing::Level::TRACE,
            tracing::Level::DEBUG,
            tracing::Level::INFO,
            tracing::Level::WARN,
            tracing::Level::ERROR,
        ][n as usize % 5];
        let sampled = n % 3 != 0;
        LogRecord {
            time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_000 + n),
            level,
            body: match n % 4 {
                0 => None,
                1 => Some(String::new()),
                2 => Some("é".repeat(100)),
                _ => Some(format!("handled item {n}")),
            },
            attributes: vec![
                KeyValue::new("i", n as i64),
                KeyValue::new("user", "ann"),
                KeyValue::new("ok", n % 2 == 0),
                KeyValue::new("ratio", 0.5),
                KeyValue::new("long", "x".repeat(200)),
                KeyValue::new("list", Value::Array(Array::I64(vec![1, -2, 300]))),
                KeyValue::new("code.line.number", 42_i64),
            ],
            dropped_attributes: (n % 2) as u32,
            trace_id: if sampled {
                TraceId::from(u128::MAX - u128::from(n))
            } else {
                TraceId::INVALID
            },
            span_id: if sampled {
                SpanId::from(n + 1)
            } else {
                SpanId::INVALID
            },
            flags: TraceFlags::new(u8::from(sampled)),
            scope: Cow::Borrowed(scope),
        }
    }

    #[test]
    fn log_records_decode_to_what_the_opentelemetry_proto_conversion_gives() {
        let resource = ResourceAttributesWithSchema::from(
            &Resource::builder()
                .with_service_name("checkout")
                .with_schema_url([], "https://opentelemetry.io/schemas/1.30.0")
                .build(),
        );
        let encoded = EncodedResource::from(&resource);
        let write = |records: &[LogRecord]| {
            let mut out = Vec::new();
            write_logs_request(&mut out, records, &encoded);
            out
        };
        // Three scopes, the second appearing after the first records (a scope index per record from there), an
        // empty scope name, and a record after another scope's returning to the first.
        let records: Vec<LogRecord> = (0..13)
            .map(|n| {
                log_record(
                    n,
                    ["app", "app", "sqlx", "", "app", "hyper"][n as usize % 6],
                )
            })
            .collect();
        let decoded = ExportLogsServiceRequest::decode(write(&records).as_slice()).unwrap();
        let expected = request(records.clone(), &resource);
        assert_eq!(decoded, expected);
        assert_eq!(
            decoded.resource_logs[0]
                .scope_logs
                .iter()
                .map(|scope| scope.log_records.len())
                .collect::<Vec<_>>(),
            [7, 2, 2, 2]
        );
        // Byte for byte, too: one scope, and records of every kind of body.
        let one: Vec<LogRecord> = (0..4).map(|n| log_record(n, "app")).collect();
        assert_eq!(write(&one), request(one.clone(), &resource).encode_to_vec());
        // No records: a `ResourceLogs` with the resource and no scope, as the conversion gives.
        assert_eq!(write(&[]), request(Vec::new(), &resource).encode_to_vec());
    }
}
