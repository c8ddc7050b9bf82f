//! OTLP over gRPC (tonic), HTTP protobuf and HTTP JSON (reqwest): our own thin clients.
//!
//! Ours rather than `opentelemetry-otlp`'s because retrying well needs what only the transport sees: the HTTP
//! status and `Retry-After`, the gRPC code and `RetryInfo`. `opentelemetry-otlp` 0.33 does retry, but its
//! budget is the exporter timeout rather than the batch's, its jitter is additive (100 ms at most, so clients
//! that failed together retry together), and it reports neither how often it retried nor why it gave up. Here
//! each transport makes one attempt and classifies its failure; [`retry::with_backoff`] decides the rest and
//! counts the retries in the pipeline's [`Stats`](crate::Stats).

use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(feature = "otlp-grpc")]
use bytes::Bytes;

#[cfg(feature = "otlp-http")]
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
#[cfg(feature = "otlp-http")]
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

use super::retry::{self, Attempt};
use super::{DynExporter, ExportFuture};
use crate::config::{Compression, OtlpConfig, Protocol};
use crate::processor::SharedStats;
use crate::Error;

mod encode;
#[cfg(feature = "otlp-grpc")]
mod grpc;
#[cfg(feature = "otlp-http")]
mod http;

/// The OTLP exporter for the configured protocol. Must run inside a tokio runtime (tonic needs a reactor to
/// create its channel, even a lazy one).
pub(super) fn build(
    config: &OtlpConfig,
    stats: &Arc<SharedStats>,
) -> Result<Box<dyn DynExporter>, Error> {
    let gzip = match config.compression {
        None => false,
        Some(Compression::Gzip) => true,
        Some(Compression::Zstd) => {
            return Err(Error::InvalidValue {
                option: "OTEL_EXPORTER_OTLP_COMPRESSION".into(),
                value: "zstd".into(),
                reason: "this build supports gzip only".into(),
            })
        }
    };
    let transport = match config.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => Transport::Grpc(grpc::Grpc::new(config, gzip)?),
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            Transport::Http(http::Http::new(config, gzip)?)
        }
        #[allow(unreachable_patterns)]
        other => {
            return Err(Error::Exporter {
                exporter: "otlp",
                reason: format!(
                "protocol {other:?} is not enabled in this build (features otlp-grpc, otlp-http)"
            ),
            })
        }
    };
    Ok(Box::new(OtlpExporter {
        transport,
        timeout: config.timeout,
        resource: ResourceAttributesWithSchema::default(),
        encoded_resource: encode::EncodedResource::default(),
        stats: stats.clone(),
    }))
}

#[derive(Debug)]
enum Transport {
    #[cfg(feature = "otlp-grpc")]
    Grpc(grpc::Grpc),
    #[cfg(feature = "otlp-http")]
    Http(http::Http),
}

#[derive(Debug)]
struct OtlpExporter {
    transport: Transport,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`: the bound of one attempt.
    timeout: Duration,
    /// For OTLP/JSON, which goes through opentelemetry-proto's messages.
    resource: ResourceAttributesWithSchema,
    /// For protobuf, written straight from the spans.
    encoded_resource: encode::EncodedResource,
    stats: Arc<SharedStats>,
}

impl OtlpExporter {
    /// What one attempt may take: the OTLP timeout, or less when the batch's deadline is nearer.
    fn attempt_timeout(&self, deadline: Instant) -> Duration {
        self.timeout
            .min(deadline.saturating_duration_since(Instant::now()))
    }
}

impl DynExporter for OtlpExporter {
    fn name(&self) -> &'static str {
        "otlp"
    }

    fn export(&self, batch: Vec<SpanData>, deadline: Instant) -> ExportFuture<'_> {
        Box::pin(async move {
            let retries = &self.stats.retries;
            // Encoded (and compressed) once per batch, whatever the number of attempts; the spans are freed
            // before the first attempt waits for an answer.
            let result = match &self.transport {
                #[cfg(feature = "otlp-grpc")]
                Transport::Grpc(grpc) => {
                    let body = Bytes::from(encode::request(&batch, &self.encoded_resource));
                    drop(batch);
                    retry::with_backoff(deadline, retries, || {
                        grpc.send(body.clone(), self.attempt_timeout(deadline))
                    })
                    .await
                }
                #[cfg(feature = "otlp-http")]
                Transport::Http(http) => {
                    let encoded = if http.json() {
                        let request = ExportTraceServiceRequest {
                            resource_spans: group_spans_by_resource_and_scope(
                                batch,
                                &self.resource,
                            ),
                        };
                        serde_json::to_vec(&request)
                            .map_err(|e| format!("cannot encode OTLP/JSON: {e}"))
                    } else {
                        Ok(encode::request(&batch, &self.encoded_resource))
                    };
                    let body = encoded
                        .and_then(|encoded| http.compress(encoded))
                        .map_err(OTelSdkError::InternalFailure)?;
                    retry::with_backoff(deadline, retries, || {
                        http.send(body.clone(), self.attempt_timeout(deadline))
                    })
                    .await
                }
            };
            result.map_err(OTelSdkError::InternalFailure)
        })
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        // Nothing buffered here: the processor already exported what was queued.
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
        self.encoded_resource = (&self.resource).into();
    }
}

/// An attempt that found nobody, or no answer in time: transient.
fn unreachable(endpoint: &str, error: impl std::fmt::Display) -> Attempt {
    Attempt {
        message: format!("cannot reach {endpoint}: {error}"),
        retry: retry::Retry::Backoff,
    }
}
