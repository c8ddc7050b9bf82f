//! HTTP servers and clients: tower layers that trace every request with the OpenTelemetry HTTP semantic
//! conventions and carry the trace context over the wire (feature `http`).
//!
//! - [`TraceLayer`] wraps a server (axum, hyper, any tower service of `http::Request` → `http::Response`): one
//!   `server` span per request, continuing the trace of the caller's headers, with the server span's context
//!   written back into the response headers.
//! - [`ClientTraceLayer`] wraps a client (hyper-util's legacy client, reqwest through `tower::service_fn`): one
//!   `client` span per request, whose context goes into the outgoing headers.
//! - `ReqwestMiddleware` (feature `reqwest`) gives a `reqwest_middleware` client the same client spans.
//! - [`inject_headers`] writes the current context into an [`http::HeaderMap`], for a client without tower.
//!
//! Headers are read and written with the global propagator
//! ([`opentelemetry::global::set_text_map_propagator`], which [`init`](crate::init) installs from
//! `OTEL_PROPAGATORS`).
//!
//! With feature `axum`, the server span reads the route template (`/orders/{id}`) from axum's `MatchedPath` and the
//! peer address from axum's `ConnectInfo<SocketAddr>`. axum inserts `MatchedPath` only once the router matched
//! the request, so add the layer with `Router::layer`, not around the router. Without axum, a server can insert
//! [`Route`] and the peer's [`std::net::SocketAddr`] as request extensions before the layer runs.
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # fn main() {
//! use axum::{routing::get, Router};
//! use traced::http::TraceLayer;
//!
//! let app: Router = Router::new()
//!     .route("/orders/{id}", get(|| async { "ok" }))
//!     .layer(TraceLayer::new());
//! # let _ = app;
//! # }
//! # #[cfg(not(feature = "axum"))]
//! # fn main() {}
//! ```

mod body;
mod client;
mod future;
#[cfg(feature = "reqwest")]
mod reqwest_client;
mod route_names;
mod server;

use std::fmt::Display;
use std::time::Instant;

use http::Version;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use traced_conventions::error::ERROR_TYPE;
use traced_conventions::http::HTTP_RESPONSE_STATUS_CODE;
use traced_conventions::otel;
use traced_conventions::span::{CANCELLED, DURATION_MS};
use tracing::Span;

/// The `http` types the layers take and give, at the version they are built with.
pub use ::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
pub use body::ResponseBody;
pub use client::{ClientTraceLayer, ClientTraceService};
pub use future::{ResponseFuture, ServerResponseFuture};
#[cfg(feature = "reqwest")]
pub use reqwest_client::ReqwestMiddleware;
#[cfg(feature = "grpc")]
pub(crate) use server::extract_parent;
pub use server::{Route, TraceLayer, TraceService};
/// The tower traits the layers implement: `ClientTraceLayer::new().layer(client)` without a `tower` dependency.
pub use tower_layer::Layer;
/// See [`Layer`].
pub use tower_service::Service;

use crate::propagation::HeaderInjector;

/// Target of the spans the layers create, so filters can name them (`RUST_LOG=traced::http=off`).
pub const TARGET: &str = "traced::http";

/// Writes the context of the current span (trace context and baggage, per the global propagator) into `headers`,
/// for a client that does not go through [`ClientTraceLayer`], such as a plain `reqwest` call.
///
/// The current span should be the client span of the call, so the server's span becomes its child.
///
/// ```
/// use traced::http::inject_headers;
/// use traced::propagation::Propagator;
///
/// opentelemetry::global::set_text_map_propagator(Propagator::default());
/// let mut headers = http::HeaderMap::new();
/// // Outside any span there is nothing to propagate; inside a `#[traced(kind = client)]` fn,
/// // `traceparent` names that fn's span.
/// inject_headers(&mut headers);
/// assert!(headers.get("traceparent").is_none());
/// ```
pub fn inject_headers(headers: &mut HeaderMap) {
    let cx = context_of(&Span::current());
    crate::propagation::inject(&cx, &mut HeaderInjector(headers));
}

/// The OpenTelemetry context of `span`, or the current context when `span` is not seen by the OpenTelemetry
/// layer (disabled, filtered out, or in a trace the sampler dropped, which is then propagated as not sampled),
/// so propagation still works through spans that are not exported.
pub(crate) fn context_of(span: &Span) -> Context {
    let cx = crate::SpanExt::context(span);
    if cx.has_active_span() {
        cx
    } else {
        crate::traces::sampling::current_context()
    }
}

/// `http.request.method`: the well-known methods as they are, anything else `_OTHER` (with the original in
/// `http.request.method_original`), so a client sending random methods cannot explode the cardinality.
fn method_attribute(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return None,
    })
}

/// `network.protocol.version` as the semantic conventions spell it.
fn protocol_version(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// Splits `host[:port]` (IPv6 in brackets) into host and port; an unparsable port is left out.
pub(crate) fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => (authority, None),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    (host, port.and_then(|p| p.parse().ok()))
}

/// Records the end of a request on its span: status code, error status and duration.
///
/// `error_from` is the lowest status code that is an error for this side: 500 for servers (a 4xx is the
/// client's fault), 400 for clients, as the HTTP semantic conventions say.
fn record_status(span: &Span, status: u16, error_from: u16) {
    span.record(HTTP_RESPONSE_STATUS_CODE, i64::from(status));
    if status >= error_from {
        // No description: the status code says it all (semantic conventions).
        span.record(ERROR_TYPE, status.to_string());
        span.record(otel::STATUS_CODE, "ERROR");
    }
}

/// Marks a span whose request (or response body) went away before it was done.
fn cancelled(span: &Span, start: Option<Instant>) {
    span.record(CANCELLED, true);
    record_duration(span, start);
}

/// Records how long the request took, when its span records anything (`start` is `None` otherwise).
fn record_duration(span: &Span, start: Option<Instant>) {
    if let Some(start) = start {
        span.record(DURATION_MS, start.elapsed().as_secs_f64() * 1e3);
    }
}

/// Records a failed request (the service returned an error rather than a response).
fn record_error(span: &Span, error: &dyn Display, error_type: &str) {
    span.record(ERROR_TYPE, error_type);
    span.record(otel::STATUS_CODE, "ERROR");
    span.record(otel::STATUS_DESCRIPTION, error.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port() {
        assert_eq!(split_host_port("example.com"), ("example.com", None));
        assert_eq!(
            split_host_port("example.com:8080"),
            ("example.com", Some(8080))
        );
        assert_eq!(split_host_port("[::1]:443"), ("::1", Some(443)));
        assert_eq!(split_host_port("[::1]"), ("::1", None));
        assert_eq!(split_host_port("host:notaport"), ("host", None));
    }

    #[test]
    fn methods_outside_the_standard_set_are_other() {
        assert_eq!(method_attribute(&Method::GET), Some("GET"));
        assert_eq!(
            method_attribute(&Method::from_bytes(b"PURGE").unwrap()),
            None
        );
    }
}
