//! The OTLP span exporter: a batch encoded into requests under the size bound, each sent through the
//! [`Client`], the outcome told span by span.

use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::Resource;

use super::client::{Client, Encoding};
use super::encode;
use crate::export::attribute_vecs;
use crate::export::budget::Budget;
use crate::export::span::ExportSpan;
use crate::export::{DeliveryFuture, DynExporter};

#[derive(Debug)]
pub(super) struct OtlpSpanExporter {
    pub(super) client: Client,
    /// `TRACED_MAX_EXPORT_BYTES`: the bound of one request, before compression.
    pub(super) max_bytes: usize,
    /// For OTLP/JSON, which goes through opentelemetry-proto's messages.
    pub(super) resource: ResourceAttributesWithSchema,
    /// For protobuf, written straight from the spans.
    pub(super) encoded_resource: encode::EncodedResource,
}

impl OtlpSpanExporter {
    /// Writes the request for `spans` to `out`.
    fn encode(&self, spans: &[ExportSpan], out: &mut Vec<u8>) {
        match self.client.encoding() {
            Encoding::Protobuf => encode::write_request(out, spans, &self.encoded_resource),
            Encoding::Json => self.json(spans, out),
        }
    }

    #[cfg(feature = "otlp-http")]
    fn json(&self, spans: &[ExportSpan], out: &mut Vec<u8>) {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;

        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                spans
                    .iter()
                    .cloned()
                    .map(ExportSpan::into_span_data)
                    .collect(),
                &self.resource,
            ),
        };
        // Serialising plain message structs to a vector cannot fail.
        let _ = serde_json::to_writer(out, &request);
    }

    #[cfg(not(feature = "otlp-http"))]
    fn json(&self, _spans: &[ExportSpan], _out: &mut Vec<u8>) {
        unreachable!("OTLP/JSON needs the otlp-http feature, which the client checked")
    }
}

impl DynExporter for OtlpSpanExporter {
    fn name(&self) -> &'static str {
        "otlp"
    }

    fn export(&self, batch: Vec<ExportSpan>, budget: Budget) -> DeliveryFuture<'_> {
        Box::pin(async move {
            self.client
                .deliver(
                    batch,
                    "span",
                    self.max_bytes,
                    &budget,
                    |spans, out| self.encode(spans, out),
                    // Encoded: the attribute vectors go back to the threads that make spans.
                    |spans| attribute_vecs::give_back(spans, |span| &mut span.data.attributes),
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
