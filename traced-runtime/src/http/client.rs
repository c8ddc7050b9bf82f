//! [`ClientTraceLayer`]: one `client` span per outgoing request, its context in the request's headers.

use std::fmt::Display;
use std::task::{Context as TaskContext, Poll};

use http::{HeaderMap, Method, Request, Response, Uri};
use tower_layer::Layer;
use tower_service::Service;
use traced_conventions::error::ERROR_TYPE;
use traced_conventions::http::{
    HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_RESPONSE_STATUS_CODE, SERVER_ADDRESS,
    SERVER_PORT, URL_FULL,
};
use traced_conventions::otel;
use traced_conventions::span::{CANCELLED, DURATION_MS};
use tracing::field::Empty;
use tracing::Span;

use super::future::ResponseFuture;
use super::{context_of, method_attribute, split_host_port, TARGET};
use crate::propagation::HeaderInjector;

/// A tower [`Layer`] that traces an HTTP client: one span of kind `client` per request, whose trace context
/// (and the current baggage) is written into the request's headers with the global propagator, so the server's
/// span becomes its child.
///
/// The span is named `{method}` and carries `http.request.method`, `url.full` (user and password redacted),
/// `server.address`, `server.port`, `http.response.status_code` and `duration_ms`. Its status is ERROR for a
/// 4xx or 5xx response (a client span fails when its request did, as the HTTP semantic conventions say) and for
/// an error of the inner service (connection refused, timeout).
///
/// With hyper-util's legacy client:
///
/// ```
/// use http_body_util::Empty;
/// use hyper::body::Bytes;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use tower::{Service, ServiceExt};
/// use traced::http::ClientTraceLayer;
/// use tower_layer::Layer;
///
/// # async fn call() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
/// let mut client = ClientTraceLayer::new().layer(client);
/// let request = http::Request::get("http://127.0.0.1:3000/inventory/7").body(Empty::new())?;
/// let response = client.ready().await?.call(request).await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
///
/// With reqwest, through `tower::service_fn` (or, with feature `reqwest`, `ReqwestMiddleware` on a
/// `reqwest-middleware` client; or see [`inject_headers`](super::inject_headers)):
///
/// ```
/// use tower::{Service, ServiceExt};
/// use tower_layer::Layer;
/// use traced::http::ClientTraceLayer;
///
/// # async fn call() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let reqwest = reqwest::Client::new();
/// let mut client = ClientTraceLayer::new().layer(tower::service_fn(move |request: http::Request<reqwest::Body>| {
///     let reqwest = reqwest.clone();
///     async move {
///         let response = reqwest.execute(request.try_into()?).await?;
///         Ok::<_, reqwest::Error>(http::Response::<reqwest::Body>::from(response))
///     }
/// }));
/// let request = http::Request::get("http://127.0.0.1:3000/").body(reqwest::Body::from(""))?;
/// let response = client.ready().await?.call(request).await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientTraceLayer {
    _private: (),
}

impl ClientTraceLayer {
    /// The layer.
    pub fn new() -> Self {
        ClientTraceLayer::default()
    }
}

impl<S> Layer<S> for ClientTraceLayer {
    type Service = ClientTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientTraceService { inner }
    }
}

/// The service [`ClientTraceLayer`] wraps around a client.
#[derive(Clone, Debug)]
pub struct ClientTraceService<S> {
    inner: S,
}

impl<S> ClientTraceService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for ClientTraceService<S>
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

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let metric = client_metric(&request);
        let span = client_span(request.method(), request.uri());
        inject_span(&span, request.headers_mut());
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ResponseFuture::new(future, span, metric)
    }
}

/// The `http.client.request.duration` of a request: its method, server address and port.
fn client_metric<B>(request: &Request<B>) -> Option<crate::metrics::http::Request> {
    let uri = request.uri();
    let (host, port) = uri.authority().map_or((None, None), |authority| {
        let host_port = authority
            .as_str()
            .rsplit_once('@')
            .map_or(authority.as_str(), |(_, host_port)| host_port);
        let (host, port) = split_host_port(host_port);
        (Some(host), port.or_else(|| default_port(uri)))
    });
    crate::metrics::http::Request::client(
        method_attribute(request.method()).unwrap_or("_OTHER"),
        host,
        port,
    )
}

fn default_port(uri: &Uri) -> Option<u16> {
    match uri.scheme_str() {
        Some("http") => Some(80),
        Some("https") => Some(443),
        _ => None,
    }
}

/// Writes the context of a request's client span into the request's `headers`. Even when the span is not
/// recorded, the current context still goes on, so the trace is not cut.
pub(super) fn inject_span(span: &Span, headers: &mut HeaderMap) {
    crate::propagation::inject(&context_of(span), &mut HeaderInjector(headers));
}

/// The client span of a request: shared by [`ClientTraceLayer`] and the reqwest middleware, so both give a
/// request the same span.
pub(super) fn client_span(method: &Method, uri: &Uri) -> Span {
    let span = tracing::info_span!(
        target: TARGET,
        "HTTP request",
        { otel::NAME } = Empty,
        { otel::KIND } = "client",
        { otel::STATUS_CODE } = Empty,
        { otel::STATUS_DESCRIPTION } = Empty,
        { HTTP_REQUEST_METHOD } = Empty,
        { HTTP_REQUEST_METHOD_ORIGINAL } = Empty,
        { HTTP_RESPONSE_STATUS_CODE } = Empty,
        { URL_FULL } = Empty,
        { SERVER_ADDRESS } = Empty,
        { SERVER_PORT } = Empty,
        { ERROR_TYPE } = Empty,
        { DURATION_MS } = Empty,
        { CANCELLED } = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    match method_attribute(method) {
        Some(known) => span
            .record(otel::NAME, known)
            .record(HTTP_REQUEST_METHOD, known),
        None => span
            .record(otel::NAME, "HTTP")
            .record(HTTP_REQUEST_METHOD, "_OTHER")
            .record(HTTP_REQUEST_METHOD_ORIGINAL, method.as_str()),
    };
    span.record(URL_FULL, full_url(uri));
    if let Some(authority) = uri.authority() {
        let host_port = authority
            .as_str()
            .rsplit_once('@')
            .map_or(authority.as_str(), |(_, host_port)| host_port);
        let (host, port) = split_host_port(host_port);
        span.record(SERVER_ADDRESS, host);
        let port = port.or_else(|| default_port(uri));
        if let Some(port) = port {
            span.record(SERVER_PORT, i64::from(port));
        }
    }
    span
}

/// `url.full` without credentials: the semantic conventions ask for `REDACTED` in place of user and password.
fn full_url(uri: &Uri) -> String {
    let full = uri.to_string();
    let Some(authority) = uri.authority() else {
        return full;
    };
    match authority.as_str().rsplit_once('@') {
        Some((_, host_port)) => full.replacen(
            authority.as_str(),
            &format!("REDACTED:REDACTED@{host_port}"),
            1,
        ),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        let uri: Uri = "https://user:secret@example.com:8443/a?b=c"
            .parse()
            .unwrap();
        assert_eq!(
            full_url(&uri),
            "https://REDACTED:REDACTED@example.com:8443/a?b=c"
        );
        let uri: Uri = "http://example.com/a".parse().unwrap();
        assert_eq!(full_url(&uri), "http://example.com/a");
    }
}
