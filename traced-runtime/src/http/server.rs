//! [`TraceLayer`]: one `server` span per request.

use std::fmt::Display;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};

use http::header::{HeaderName, HOST, USER_AGENT};
use http::{Extensions, Request, Response};
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};
use tower_layer::Layer;
use tower_service::Service;
use traced_conventions::error::ERROR_TYPE;
use traced_conventions::http::{
    CLIENT_ADDRESS, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE, NETWORK_PEER_ADDRESS, NETWORK_PEER_PORT, NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS,
    SERVER_PORT, URL_PATH, URL_QUERY, URL_SCHEME, USER_AGENT_ORIGINAL,
};
use traced_conventions::otel;
use traced_conventions::span::{CANCELLED, DURATION_MS};
use tracing::field::Empty;
use tracing::{Metadata, Span};

use super::body::ResponseBody;
use super::future::ServerResponseFuture;
use super::route_names::route_name;
use super::{method_attribute, protocol_version, split_host_port, TARGET};
use crate::propagation::HeaderExtractor;
use crate::traces::span_layer::{giving, named, shared};

/// The route template that matched a request (`/orders/{id}`), as a request extension.
///
/// axum's `MatchedPath` is read directly with feature `axum`; other servers insert a `Route` before
/// [`TraceLayer`] runs, so the span is named `GET /orders/{id}` rather than `GET`.
///
/// ```
/// use traced::http::Route;
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
/// The span covers the whole request, a streamed response body included: the body is wrapped in a
/// [`ResponseBody`], which ends the span once the last frame is sent (or marks it `cancelled = true` when the
/// body is dropped before, the client having gone away). The status comes from the response head.
///
/// With axum, add it with `Router::layer` so axum's matched route is known (feature `axum`):
///
/// ```
/// # #[cfg(feature = "axum")]
/// # fn main() {
/// use axum::{routing::get, Router};
/// use traced::http::TraceLayer;
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
/// use traced::http::TraceLayer;
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
    ResBody: http_body::Body,
    ResBody::Error: Display,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ServerResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let metric = crate::metrics::http::Request::server(
            method_attribute(request.method()).unwrap_or("_OTHER"),
            route(request.extensions()),
            scheme(&request),
            protocol_version(request.version()),
        );
        let ServerSpan {
            span,
            timed_by_layer,
            parent,
        } = server_span(&request);
        // The handler may do work before its first poll (axum builds extractors here): inside the span too.
        let future = {
            let _entered = span.enter();
            let _attached = parent.as_ref().map(|parent| parent.clone().attach());
            self.inner.call(request)
        };
        ServerResponseFuture::new(future, span, parent, metric, timed_by_layer)
    }
}

/// The server span's callsite, known once a span of it was made.
static CALLSITE: OnceLock<Callsite> = OnceLock::new();

struct Callsite {
    meta: &'static Metadata<'static>,
    /// The index of `otel.name`: the fields before it are [`Values::attributes`] and `otel.kind`.
    name_at: usize,
}

/// What [`server_span`] makes of one request.
struct ServerSpan {
    /// The span, its parent already set from the headers.
    span: Span,
    /// This crate's layer took the values given (see [`giving`]) and times the span: no clock is read for its
    /// `duration_ms` here.
    timed_by_layer: bool,
    /// The caller's context when the span is disabled (filtered out, `RUST_LOG=traced::http=off`): the caller's
    /// trace must still reach the handler's own spans, through the current context.
    parent: Option<Context>,
}

/// The span of one request (see [`ServerSpan`]).
///
/// Every value is known before the span is: they are given at its creation, one visit of its fields by each
/// layer, rather than as `Empty` fields filled by a dispatch each (11 `record` calls per request cost about 750
/// instructions apiece, `benches/service`). This crate's layer is given them as attributes besides
/// ([`giving`]), made here without a visit of each field.
fn server_span<B>(request: &Request<B>) -> ServerSpan {
    // Nothing below is worth computing when no INFO span can be enabled.
    if !tracing::level_enabled!(tracing::Level::INFO) {
        return continuing(Span::none(), extract_parent(request));
    }
    let method = method_attribute(request.method());
    let route = route(request.extensions());
    let prefix = method.unwrap_or("HTTP");
    // Made once per route and handed to the layer as is (see `route_names`).
    let known = match route {
        Some(route) => route_name(prefix, route),
        None => Some(prefix),
    };
    let joined;
    let name = match known {
        Some(name) => name,
        None => {
            joined = format!("{prefix} {}", route.unwrap_or_default());
            joined.as_str()
        }
    };
    // HTTP/2 carries the authority in the URI, HTTP/1.1 in `Host`.
    let authority = request.uri().authority().map(|a| a.as_str()).or_else(|| {
        request
            .headers()
            .get(HOST)
            .and_then(|host| host.to_str().ok())
    });
    let (server_address, server_port) = match authority.map(split_host_port) {
        Some((host, port)) => (Some(host), port.map(i64::from)),
        None => (None, None),
    };
    let peer = peer(request.extensions());
    let peer_text = peer.map(|peer| IpText::new(peer.ip()));
    let peer_address = peer_text.as_ref().map(IpText::as_str);
    let values = Values {
        method: method.unwrap_or("_OTHER"),
        method_original: method.is_none().then(|| request.method().as_str()),
        route,
        path: request.uri().path(),
        query: request.uri().query(),
        scheme: scheme(request),
        server_address,
        server_port,
        // The original client as proxies report it, else the peer itself.
        client_address: forwarded_for(request).or(peer_address),
        peer_address,
        peer_port: peer.map(|peer| i64::from(peer.port())),
        protocol_version: protocol_version(request.version()),
        user_agent: request
            .headers()
            .get(USER_AGENT)
            .and_then(|a| a.to_str().ok()),
    };
    // The fields with a value first, in the order of `Values::attributes`, then `otel.kind` and `otel.name`: the
    // layer is given those.
    let build = || {
        tracing::info_span!(
            target: TARGET,
            "HTTP request",
            { HTTP_REQUEST_METHOD } = values.method,
            { HTTP_REQUEST_METHOD_ORIGINAL } = values.method_original,
            { HTTP_ROUTE } = values.route,
            { URL_PATH } = values.path,
            { URL_QUERY } = values.query,
            { URL_SCHEME } = values.scheme,
            { SERVER_ADDRESS } = values.server_address,
            { SERVER_PORT } = values.server_port,
            { CLIENT_ADDRESS } = values.client_address,
            { NETWORK_PEER_ADDRESS } = values.peer_address,
            { NETWORK_PEER_PORT } = values.peer_port,
            { NETWORK_PROTOCOL_VERSION } = values.protocol_version,
            { USER_AGENT_ORIGINAL } = values.user_agent,
            { otel::KIND } = "server",
            { otel::NAME } = name,
            { otel::STATUS_CODE } = Empty,
            { otel::STATUS_DESCRIPTION } = Empty,
            { HTTP_RESPONSE_STATUS_CODE } = Empty,
            { ERROR_TYPE } = Empty,
            { DURATION_MS } = Empty,
            { CANCELLED } = Empty,
        )
    };
    let build_named = || match known {
        Some(name) => named(name, build),
        None => build(),
    };
    match CALLSITE.get() {
        Some(callsite) => {
            // A name `named` hands over is given too; one made here is visited as `otel.name`.
            let fields = match known {
                Some(_) => callsite.meta.fields().len(),
                None => callsite.name_at,
            };
            let attributes = |into: &mut Vec<KeyValue>| values.attributes(into);
            let (span, left) = giving(
                callsite.meta,
                fields,
                SpanKind::Server,
                extract_parent(request),
                attributes,
                build_named,
            );
            match left {
                Ok(()) => ServerSpan {
                    span,
                    timed_by_layer: true,
                    parent: None,
                },
                Err(parent) => continuing(span, parent),
            }
        }
        None => {
            // The first span: the callsite is known from it.
            let span = build_named();
            if let Some(meta) = span.metadata() {
                let name_at = meta
                    .fields()
                    .field(otel::NAME)
                    .map_or(0, |name| name.index());
                let _ = CALLSITE.set(Callsite { meta, name_at });
            }
            continuing(span, extract_parent(request))
        }
    }
}

/// `span`, made without the caller's trace (and not timed by this crate's layer), continuing it: as its parent,
/// or around the handler when the span is disabled.
fn continuing(span: Span, parent: Context) -> ServerSpan {
    let parent = if span.is_disabled() {
        Some(parent)
    } else {
        // Fails only when the OpenTelemetry layer is missing; then there is no trace to continue anyway.
        crate::SpanExt::set_parent(&span, parent);
        None
    };
    ServerSpan {
        span,
        timed_by_layer: false,
        parent,
    }
}

/// The server span's values known at its creation.
struct Values<'a> {
    method: &'static str,
    method_original: Option<&'a str>,
    route: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    scheme: &'a str,
    server_address: Option<&'a str>,
    server_port: Option<i64>,
    client_address: Option<&'a str>,
    peer_address: Option<&'a str>,
    peer_port: Option<i64>,
    protocol_version: Option<&'static str>,
    user_agent: Option<&'a str>,
}

impl Values<'_> {
    /// The values as the attributes the span's fields make, in the fields' order (see [`server_span`]).
    fn attributes(&self, into: &mut Vec<KeyValue>) {
        // `'static` texts as they are, without the string cache.
        into.push(KeyValue::new(HTTP_REQUEST_METHOD, self.method));
        push_text(into, HTTP_REQUEST_METHOD_ORIGINAL, self.method_original);
        push_text(into, HTTP_ROUTE, self.route);
        push_text(into, URL_PATH, Some(self.path));
        push_text(into, URL_QUERY, self.query);
        push_text(into, URL_SCHEME, Some(self.scheme));
        push_text(into, SERVER_ADDRESS, self.server_address);
        push_number(into, SERVER_PORT, self.server_port);
        push_text(into, CLIENT_ADDRESS, self.client_address);
        push_text(into, NETWORK_PEER_ADDRESS, self.peer_address);
        push_number(into, NETWORK_PEER_PORT, self.peer_port);
        if let Some(version) = self.protocol_version {
            into.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
        }
        push_text(into, USER_AGENT_ORIGINAL, self.user_agent);
    }
}

#[inline]
fn push_text(into: &mut Vec<KeyValue>, key: &'static str, value: Option<&str>) {
    if let Some(value) = value {
        into.push(KeyValue::new(key, shared(value)));
    }
}

#[inline]
fn push_number(into: &mut Vec<KeyValue>, key: &'static str, value: Option<i64>) {
    if let Some(value) = value {
        into.push(KeyValue::new(key, value));
    }
}

/// The caller's context. A server continues the trace on the wire, never whatever context happens to be current
/// on this task: a request without (valid) trace headers starts a new trace.
pub(crate) fn extract_parent<B>(request: &Request<B>) -> Context {
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

/// An IP address as text, an IPv4 one written on the stack: `Ipv4Addr`'s `Display` goes through the formatting
/// machinery (four padded integers into a `String`), about 1,800 instructions a request in the service bench.
enum IpText {
    V4 { text: [u8; 15], len: usize },
    Other(String),
}

impl IpText {
    fn new(ip: IpAddr) -> IpText {
        let IpAddr::V4(ip) = ip else {
            return IpText::Other(ip.to_string());
        };
        let mut text = [0; 15];
        let mut len = 0;
        for (i, octet) in ip.octets().into_iter().enumerate() {
            if i > 0 {
                text[len] = b'.';
                len += 1;
            }
            if octet >= 100 {
                text[len] = b'0' + octet / 100;
                len += 1;
            }
            if octet >= 10 {
                text[len] = b'0' + octet / 10 % 10;
                len += 1;
            }
            text[len] = b'0' + octet % 10;
            len += 1;
        }
        IpText::V4 { text, len }
    }

    fn as_str(&self) -> &str {
        match self {
            // Digits and dots only.
            IpText::V4 { text, len } => std::str::from_utf8(&text[..*len]).unwrap_or_default(),
            IpText::Other(text) => text,
        }
    }
}

/// The proxies' headers, as names: looked up by text, a name is parsed at every request.
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// `url.scheme`: from an absolute URI, else from a proxy's `X-Forwarded-Proto`, else plain `http` (a tower
/// service does not know whether its connection is TLS).
fn scheme<B>(request: &Request<B>) -> &str {
    if let Some(scheme) = request.uri().scheme_str() {
        return scheme;
    }
    match request
        .headers()
        .get(&X_FORWARDED_PROTO)
        .and_then(|p| p.to_str().ok())
        .map(str::trim)
    {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

/// The first address of `X-Forwarded-For`: the original client, as the first proxy saw it.
fn forwarded_for<B>(request: &Request<B>) -> Option<&str> {
    let value = request.headers().get(&X_FORWARDED_FOR)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_address_reads_as_its_display() {
        for ip in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.100.9",
            "1.22.3.44",
            "192.168.10.200",
            "::1",
            "::ffff:1.2.3.4",
            "2001:db8::8a2e:370:7334",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
        for octet in 0..=255u8 {
            let ip = IpAddr::from([octet, 255 - octet, octet / 3, 7]);
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
    }
}
