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
