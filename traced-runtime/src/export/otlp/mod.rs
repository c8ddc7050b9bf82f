//! OTLP over gRPC (tonic), HTTP protobuf and HTTP JSON (reqwest): our own thin clients.
//!
//! Ours rather than `opentelemetry-otlp`'s because retrying well needs what only the transport sees: the HTTP
//! status and `Retry-After`, the gRPC code and `RetryInfo`. `opentelemetry-otlp` 0.33 does retry, but its
//! budget is the exporter timeout rather than the batch's, its jitter is additive (100 ms at most, so clients
//! that failed together retry together), and it reports neither how often it retried nor why it gave up. Here
//! each transport makes one attempt and classifies its failure; [`retry::with_backoff`] decides the rest and
//! counts the retries in the exporter's [`Stats`](crate::Stats).
//!
//! The layers, signal-agnostic from the bottom up: [`grpc`] and [`http`] make one attempt of one request;
//! [`client`] picks the transport, compresses and retries, and is told by its [`Signal`](client::Signal)
//! where requests go; [`split`] keeps every request under `TRACED_MAX_EXPORT_BYTES`. Only [`spans`] (and
//! [`encode`], its protobuf encoder) know about spans, only [`logs`] about log records; metrics add an exporter
//! of their own beside them.

use super::log_record::LogRecord;
use super::DynExporter;
use crate::config::OtlpConfig;
use crate::Error;

mod client;
mod encode;
#[cfg(feature = "otlp-grpc")]
mod grpc;
#[cfg(feature = "otlp-http")]
mod http;
mod logs;
pub(crate) mod metrics;
mod spans;
mod split;
mod transport;

use super::retry;

/// The OTLP span exporter for the configured protocol, its requests at most `max_bytes` long. Must run inside a
/// tokio runtime (tonic needs a reactor to create its channel, even a lazy one).
pub(super) fn build(config: &OtlpConfig, max_bytes: usize) -> Result<Box<dyn DynExporter>, Error> {
    Ok(Box::new(spans::OtlpSpanExporter {
        client: client::Client::new(config, transport::TRACES)?,
        max_bytes,
        resource: Default::default(),
        encoded_resource: Default::default(),
    }))
}

/// The OTLP logs exporter, its requests at most `max_bytes` long. Must run inside a tokio runtime.
pub(super) fn build_logs(
    config: &OtlpConfig,
    max_bytes: usize,
) -> Result<Box<dyn DynExporter<LogRecord>>, Error> {
    Ok(Box::new(logs::OtlpLogs {
        client: client::Client::new(config, transport::LOGS)?,
        max_bytes,
        resource: Default::default(),
        encoded_resource: Default::default(),
    }))
}
