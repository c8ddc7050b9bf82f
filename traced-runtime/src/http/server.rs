//! [`TraceLayer`]: one `server` span per request.

use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::header::{HOST, USER_AGENT};
use http::{Extensions, Request, Response};
use opentelemetry::Context;
use tower_layer::Layer;
use tower_service::Service;
use tracing::field::Empty;
use tracing::Span;

use super::future::{ResponseFuture, Side};
use super::{method_attribute, protocol_version, split_host_port, TARGET};
use crate::propagation::HeaderExtractor;

/// The route template that matched a request (`/orders/{id}`), as a request extension.
///
/// axum's `MatchedPath` is read directly with feature `axum`; other servers insert a `Route` before
/// [`TraceLayer`] runs, so the span is named `GET /orders/{id}` rather than `GET`.
///
/// ```
/// use traced_runtime::http::Route;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(Route::from("/orders/{id}"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route(pub Arc<str>);

impl From<&str> for Route {
    fn from(route: &str) -> Self {
        Route(route.into())
    }
}

/// A tower [`Layer`] that traces an HTTP server: one span of kind `server` per request.
///
/// The span continues the trace of the request's headers (read with the global propagator, before the span is
/// first entered), is named `{method} {route}` when the route is known and `{method}` otherwise, and carries
/// the HTTP semantic conventions: `http.request.method`, `url.path`, `url.query`, `url.scheme`, `http.route`,
/// `http.response.status_code`, `server.address`, `server.port`, `client.address`, `network.peer.address`,
/// `network.peer.port`, `user_agent.original`, `network.protocol.version`, plus `duration_ms`. Its status is
/// ERROR for a 5xx response or an error of the inner service, never for a 4xx (the client's fault). The
/// response carries the server span's context (`traceparent`, and the other headers of the global propagator).
/// A response future dropped before it completes marks the span `cancelled = true`.
///
/// The span ends when the response head is ready; streaming the body is not part of it.
///
/// With axum, add it with `Router::layer` so axum's matched route is known (feature `axum`):
///
/// ```
/// # #[cfg(feature = "axum")]
/// # fn main() {
/// use axum::{routing::get, Router};
/// use traced_runtime::http::TraceLayer;
///
/// let app: Router = Router::new()
///     .route("/orders/{id}", get(|| async { "ok" }))
///     .layer(TraceLayer::new());
/// # let _ = app;
/// # }
/// # #[cfg(not(feature = "axum"))]
/// # fn main() {}
/// ```
///
/// With hyper, wrap the service given to the connection, inserting the peer address if wanted:
///
/// ```
/// use std::convert::Infallible;
/// use tower_layer::Layer;
/// use traced_runtime::http::TraceLayer;
///
/// let service = TraceLayer::new().layer(tower::service_fn(|_request: http::Request<String>| async {
///     Ok::<_, Infallible>(http::Response::new(String::from("ok")))
/// }));
/// # let _ = service;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceLayer {
    _private: (),
}

impl TraceLayer {
    /// The layer.
    pub fn new() -> Self {
        TraceLayer::default()
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService { inner }
    }
}

/// The service [`TraceLayer`] wraps around a server.
#[derive(Clone, Debug)]
pub struct TraceService<S> {
    inner: S,
}

impl<S> TraceService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for TraceService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Error: Display,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let span = server_span(&request);
        // The span is filtered out (`RUST_LOG=traced::http=off`): the caller's trace must still reach the
        // handler's own spans, through the current context.
        let parent = span.is_disabled().then(|| extract_parent(&request));
        // The handler may do work before its first poll (axum builds extractors here): inside the span too.
        let future = {
            let _entered = span.enter();
            let _attached = parent.as_ref().map(|parent| parent.clone().attach());
            self.inner.call(request)
        };
        ResponseFuture::new(future, span, parent, Side::Server)
    }
}

/// The span of one request, its parent already set from the headers.
fn server_span<B>(request: &Request<B>) -> Span {
    let span = tracing::info_span!(
        target: TARGET,
        "HTTP request",
        otel.name = Empty,
        otel.kind = "server",
        otel.status_code = Empty,
        otel.status_description = Empty,
        http.request.method = Empty,
        http.request.method_original = Empty,
        http.route = Empty,
        http.response.status_code = Empty,
        url.path = request.uri().path(),
        url.query = Empty,
        url.scheme = Empty,
        server.address = Empty,
        server.port = Empty,
        client.address = Empty,
        network.peer.address = Empty,
        network.peer.port = Empty,
        network.protocol.version = Empty,
        user_agent.original = Empty,
        error.type = Empty,
        duration_ms = Empty,
        cancelled = Empty,
    );
    if span.is_disabled() {
        return span;
    }

    // Fails only when the OpenTelemetry layer is missing; then there is no trace to continue anyway.
    crate::SpanExt::set_parent(&span, extract_parent(request));

    let method = method_attribute(request.method());
    let route = route(request.extensions());
    let name = match (method, route) {
        (Some(method), Some(route)) => format!("{method} {route}"),
        (Some(method), None) => method.to_owned(),
        (None, Some(route)) => format!("HTTP {route}"),
        (None, None) => "HTTP".to_owned(),
    };
    span.record("otel.name", name);
    match method {
        Some(method) => span.record("http.request.method", method),
        None => span
            .record("http.request.method", "_OTHER")
            .record("http.request.method_original", request.method().as_str()),
    };
    if let Some(route) = route {
        span.record("http.route", route);
    }
    if let Some(query) = request.uri().query() {
        span.record("url.query", query);
    }
    span.record("url.scheme", scheme(request));
    // HTTP/2 carries the authority in the URI, HTTP/1.1 in `Host`.
    let authority = request.uri().authority().map(|a| a.as_str()).or_else(|| {
        request
            .headers()
            .get(HOST)
            .and_then(|host| host.to_str().ok())
    });
    if let Some(authority) = authority {
        let (host, port) = split_host_port(authority);
        span.record("server.address", host);
        if let Some(port) = port {
            span.record("server.port", i64::from(port));
        }
    }
    let peer = peer(request.extensions());
    if let Some(peer) = peer {
        span.record("network.peer.address", peer.ip().to_string());
        span.record("network.peer.port", i64::from(peer.port()));
    }
    // The original client as proxies report it, else the peer itself.
    match forwarded_for(request) {
        Some(client) => span.record("client.address", client),
        None => span.record("client.address", peer.map(|peer| peer.ip().to_string())),
    };
    if let Some(agent) = request
        .headers()
        .get(USER_AGENT)
        .and_then(|a| a.to_str().ok())
    {
        span.record("user_agent.original", agent);
    }
    span.record(
        "network.protocol.version",
        protocol_version(request.version()),
    );
    span
}

/// The caller's context. A server continues the trace on the wire, never whatever context happens to be current
/// on this task: a request without (valid) trace headers starts a new trace.
fn extract_parent<B>(request: &Request<B>) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), &HeaderExtractor(request.headers()))
    })
}

/// The route template of the request, when the router told.
fn route(extensions: &Extensions) -> Option<&str> {
    #[cfg(feature = "axum")]
    if let Some(path) = extensions.get::<axum::extract::MatchedPath>() {
        return Some(path.as_str());
    }
    extensions.get::<Route>().map(|route| &*route.0)
}

/// The address of the peer of the connection, when the server told.
fn peer(extensions: &Extensions) -> Option<SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0);
    }
    extensions.get::<SocketAddr>().copied()
}

/// `url.scheme`: from an absolute URI, else from a proxy's `X-Forwarded-Proto`, else plain `http` (a tower
/// service does not know whether its connection is TLS).
fn scheme<B>(request: &Request<B>) -> &str {
    if let Some(scheme) = request.uri().scheme_str() {
        return scheme;
    }
    match request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|p| p.to_str().ok())
        .map(str::trim)
    {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

/// The first address of `X-Forwarded-For`: the original client, as the first proxy saw it.
fn forwarded_for<B>(request: &Request<B>) -> Option<&str> {
    let value = request.headers().get("x-forwarded-for")?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}
