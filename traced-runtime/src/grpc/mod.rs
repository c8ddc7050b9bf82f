//! gRPC servers and clients: tower layers that trace every call with the OpenTelemetry RPC semantic conventions
//! and carry the trace context in the call's metadata (feature `grpc`, for tonic 0.14 or any gRPC stack built on
//! `http` and `http-body`).
//!
//! - [`TraceLayer`] wraps a server (`tonic::transport::Server::builder().layer(..)`): one `server` span per call,
//!   continuing the trace of the caller's metadata.
//! - [`ClientTraceLayer`] wraps a client channel (`tower::ServiceBuilder::new().layer(..).service(channel)`): one
//!   `client` span per call, whose context (and the current baggage) goes into the call's metadata.
//!
//! Each span is named after the method, `package.Service/Method`, and carries `rpc.system = "grpc"`,
//! `rpc.service`, `rpc.method`, `rpc.grpc.status_code` (from the `grpc-status` header of a trailers-only response,
//! or from the trailers at the end of a streamed one: the span covers the whole response stream), and
//! `duration_ms`; a client span also `server.address` and `server.port` when the request's URI names them
//! (tonic's channel adds them only after the layers). The status is ERROR, with the
//! `grpc-message` as description and the code's name as `error.type`, for the codes the conventions name: on a
//! server UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS (the others are the
//! caller's business), on a client every code but OK. A call that fails in the transport is an error with the
//! transport's message; one dropped before it completes is `cancelled = true`.
//!
//! ```
//! # async fn run(routes: tonic::service::Routes) -> Result<(), Box<dyn std::error::Error>> {
//! use traced::grpc::{ClientTraceLayer, TraceLayer};
//!
//! // Server: every call gets a server span.
//! let server = tonic::transport::Server::builder()
//!     .layer(TraceLayer::new())
//!     .add_routes(routes)
//!     .serve("127.0.0.1:50051".parse()?);
//! # drop(server);
//!
//! // Client: every call through this channel gets a client span.
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let channel = tower::ServiceBuilder::new().layer(ClientTraceLayer::new()).service(channel);
//! # drop(channel);
//! # Ok(())
//! # }
//! ```

mod body;
mod client;
mod server;

use std::fmt::Display;
use std::time::Instant;

use http::{HeaderMap, Uri};
use traced_conventions::error::ERROR_TYPE;
use traced_conventions::http::{SERVER_ADDRESS, SERVER_PORT};
use traced_conventions::otel;
use traced_conventions::rpc::{RPC_GRPC_STATUS_CODE, RPC_METHOD, RPC_SERVICE, RPC_SYSTEM};
use traced_conventions::span::{CANCELLED, DURATION_MS};
use tracing::field::Empty;
use tracing::Span;

pub use body::{ResponseBody, ResponseFuture};
pub use client::{ClientTraceLayer, ClientTraceService};
pub use server::{TraceLayer, TraceService};

/// Target of the spans the layers create, so filters can name them (`RUST_LOG=traced::grpc=off`).
pub const TARGET: &str = "traced::grpc";

/// The header, or trailer, that carries the status code of a call.
const GRPC_STATUS: &str = "grpc-status";
/// The header, or trailer, that carries the status message, percent-encoded.
const GRPC_MESSAGE: &str = "grpc-message";

/// The status codes by number, as the gRPC specification names them.
const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];
const UNKNOWN: u32 = 2;

/// Which end of the call the span stands for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Side {
    Server,
    Client,
}

impl Side {
    /// The RPC semantic conventions: a server fails on the codes that say it failed, a client on every code
    /// but OK.
    fn is_error(self, code: u32) -> bool {
        match self {
            // UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
            Side::Server => matches!(code, 2 | 4 | 12 | 13 | 14 | 15),
            Side::Client => code != 0,
        }
    }
}

/// The span of one call to `uri` (whose path is `/package.Service/Method`).
fn rpc_span(side: Side, uri: &Uri) -> Span {
    let span = tracing::info_span!(
        target: TARGET,
        "gRPC call",
        { otel::NAME } = Empty,
        { otel::KIND } = match side {
            Side::Server => "server",
            Side::Client => "client",
        },
        { otel::STATUS_CODE } = Empty,
        { otel::STATUS_DESCRIPTION } = Empty,
        { RPC_SYSTEM } = "grpc",
        { RPC_SERVICE } = Empty,
        { RPC_METHOD } = Empty,
        { RPC_GRPC_STATUS_CODE } = Empty,
        { SERVER_ADDRESS } = Empty,
        { SERVER_PORT } = Empty,
        { ERROR_TYPE } = Empty,
        { DURATION_MS } = Empty,
        { CANCELLED } = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    let path = uri.path();
    match split_path(path) {
        Some((service, method)) => span
            .record(otel::NAME, &path[1..])
            .record(RPC_SERVICE, service)
            .record(RPC_METHOD, method),
        None => span.record(otel::NAME, path),
    };
    // tonic's channel adds the origin to the URI after the layers ran; a stack that puts it there first gets
    // `server.address` and `server.port` on the client span.
    if let (Side::Client, Some(authority)) = (side, uri.authority()) {
        let (host, port) = crate::http::split_host_port(authority.as_str());
        span.record(SERVER_ADDRESS, host);
        if let Some(port) = port {
            span.record(SERVER_PORT, i64::from(port));
        }
    }
    span
}

/// The name of a status code (`error.type` of a failed call).
fn code_name(code: u32) -> &'static str {
    CODES.get(code as usize).copied().unwrap_or("UNKNOWN_CODE")
}

/// The duration metric of a call to `uri` on `side`, when metrics are on and the path names a method.
fn rpc_metric(side: Side, uri: &Uri) -> Option<crate::metrics::http::Request> {
    let (service, method) = split_path(uri.path())?;
    crate::metrics::http::Request::rpc(matches!(side, Side::Server), service, method)
}

/// `/package.Service/Method` into `package.Service` and `Method`.
fn split_path(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    (!service.is_empty() && !method.is_empty() && !method.contains('/'))
        .then_some((service, method))
}

/// The status code and message in `headers` (a trailers-only response's headers, or the trailers), if any.
fn status_in(headers: &HeaderMap) -> Option<(u32, Option<String>)> {
    let code = headers
        .get(GRPC_STATUS)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let message = headers
        .get(GRPC_MESSAGE)
        .and_then(|message| message.to_str().ok())
        .map(crate::propagation::baggage::decode);
    Some((code, message))
}

/// How a call ended.
enum End<'a> {
    /// With this status code and message.
    Status(u32, Option<String>),
    /// In the transport (or a panic), before any status; with its low-cardinality type.
    Error(&'a dyn Display, &'a str),
    /// Not at all: the response (or its stream) was dropped first.
    Cancelled,
}

/// Closes the span of a call with how it ended, then its duration: the one place a gRPC call ends, on either
/// side.
fn record_end(
    span: &Span,
    side: Side,
    end: End<'_>,
    start: Option<Instant>,
    metric: Option<crate::metrics::http::Request>,
) {
    if let Some(metric) = metric {
        match &end {
            End::Status(code, _) => {
                let error = side.is_error(*code).then(|| code_name(*code));
                metric.finish_rpc(Some(*code), error, span);
            }
            End::Error(_, error_type) => metric.finish_rpc(None, Some(error_type), span),
            // A call given up on has no duration to report, as an HTTP request dropped before its response.
            End::Cancelled => {}
        }
    }
    if span.is_disabled() {
        return;
    }
    match end {
        End::Status(code, message) => {
            span.record(RPC_GRPC_STATUS_CODE, i64::from(code));
            if side.is_error(code) {
                span.record(ERROR_TYPE, code_name(code));
                span.record(otel::STATUS_CODE, "ERROR");
                if let Some(message) = message.filter(|m| !m.is_empty()) {
                    span.record(otel::STATUS_DESCRIPTION, message);
                }
            }
        }
        End::Error(error, error_type) => {
            span.record(ERROR_TYPE, error_type);
            span.record(otel::STATUS_CODE, "ERROR");
            span.record(otel::STATUS_DESCRIPTION, error.to_string());
        }
        End::Cancelled => {
            span.record(CANCELLED, true);
        }
    }
    if let Some(start) = start {
        span.record(DURATION_MS, start.elapsed().as_secs_f64() * 1e3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/shop.Inventory/Reserve"),
            Some(("shop.Inventory", "Reserve"))
        );
        assert_eq!(split_path("/Reserve"), None);
        assert_eq!(split_path("//Reserve"), None);
        assert_eq!(split_path("/a/b/c"), None);
    }

    #[test]
    fn error_codes_follow_the_conventions_of_each_side() {
        let server: Vec<&str> = (0..17)
            .filter(|&code| Side::Server.is_error(code))
            .map(|code| CODES[code as usize])
            .collect();
        assert_eq!(
            server,
            [
                "UNKNOWN",
                "DEADLINE_EXCEEDED",
                "UNIMPLEMENTED",
                "INTERNAL",
                "UNAVAILABLE",
                "DATA_LOSS"
            ]
        );
        assert!((1..17).all(|code| Side::Client.is_error(code)));
        assert!(!Side::Client.is_error(0));
    }

    #[test]
    fn status_and_message_from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(status_in(&headers), None);
        headers.insert(GRPC_STATUS, "5".parse().unwrap());
        headers.insert(GRPC_MESSAGE, "no%20such%20item".parse().unwrap());
        assert_eq!(
            status_in(&headers),
            Some((5, Some("no such item".to_owned())))
        );
    }
}
