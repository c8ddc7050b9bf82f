//! What the two transports share: where a signal's requests go, how a failed attempt is told, and how a bad
//! setting is reported without its secret.

use std::time::Duration;

use super::retry::{Attempt, Retry};
pub(super) use crate::export::endpoint::printable;
use crate::Error;

/// Where one signal's requests go over gRPC: `/{service}/{method}` of its collector service.
#[derive(Clone, Copy, Debug)]
// The HTTP URL comes with the signal's configuration: only gRPC reads it.
#[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
pub(crate) struct Signal {
    /// `/opentelemetry.proto.collector.trace.v1.TraceService/Export`.
    pub(crate) path: &'static str,
}

/// The trace signal (`opentelemetry/proto/collector/trace/v1/trace_service.proto`).
pub(crate) const TRACES: Signal = Signal {
    path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
};

/// The logs signal (`opentelemetry/proto/collector/logs/v1/logs_service.proto`).
pub(crate) const LOGS: Signal = Signal {
    path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};

/// The metrics signal (`opentelemetry/proto/collector/metrics/v1/metrics_service.proto`).
pub(crate) const METRICS: Signal = Signal {
    path: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
};

/// `request` gzipped, for either transport.
pub(super) fn gzip(request: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(request.len() / 4),
        flate2::Compression::default(),
    );
    encoder
        .write_all(request)
        .and_then(|()| encoder.finish())
        .map_err(|e| format!("cannot gzip the request: {e}"))
}

/// An attempt that found nobody there (connection refused, no route, unknown name): transient, but not worth
/// retrying at shutdown.
pub(super) fn unreachable(endpoint: &str, error: impl std::fmt::Display) -> Attempt {
    Attempt {
        message: format!("cannot reach {endpoint}: {error}"),
        retry: Retry::Unreachable,
    }
}

/// An attempt without an answer in time: transient.
pub(super) fn no_answer(endpoint: &str, timeout: Duration) -> Attempt {
    Attempt {
        message: format!("no answer from {endpoint} within {timeout:?}"),
        retry: Retry::Backoff,
    }
}

/// What the collector's refusal of a request for its size means for the user.
pub(super) const TOO_LARGE: &str =
    "the request is larger than the collector accepts: lower TRACED_MAX_EXPORT_BYTES";

/// An invalid header of `OTEL_EXPORTER_OTLP_HEADERS`, named by its key alone: a header value is often a secret.
pub(super) fn bad_header(key: &str, reason: String) -> Error {
    Error::invalid(
        "OTEL_EXPORTER_OTLP_HEADERS",
        format!("{key}={}", crate::redact::REDACTED),
        reason,
    )
}

/// An invalid endpoint, printed without its credentials.
pub(super) fn bad_endpoint(endpoint: &str, reason: impl std::fmt::Display) -> Error {
    Error::invalid(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        printable(endpoint),
        reason.to_string(),
    )
}
