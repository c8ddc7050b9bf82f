//! Shared by the `http_*` tests: a global subscriber exporting to memory, a test server (axum behind
//! `TraceLayer`, calling itself through `ClientTraceLayer`) on a loopback port, and a traced hyper client.
//!
//! Tests of one binary run in parallel against the same exporter, so each finds its own spans by trace id.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{
    SpanId, SpanKind, Status, TraceContextExt, TraceId, TracerProvider as _,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tower::{Service, ServiceExt};
use tower_layer::Layer;
use traced_runtime::http::{ClientTraceLayer, ClientTraceService, TraceLayer};
use traced_runtime::propagation::Propagator;
use traced_test_support::span::{find, text};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer as _;

/// The exporter every span of this test binary ends in; installs the subscriber and propagator once.
pub fn exporter() -> InMemorySpanExporter {
    install(false)
}

/// Installs the subscriber once per test binary (the first call decides), exporting to memory; with
/// `hide_http_spans` the spans of `traced::http` are filtered out, as `RUST_LOG=traced::http=off` would.
pub fn install(hide_http_spans: bool) -> InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER
        .get_or_init(|| {
            let exporter = InMemorySpanExporter::default();
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            let layer = tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("http-tests"))
                .with_filter(filter_fn(move |meta| {
                    !(hide_http_spans && meta.target() == traced_runtime::http::TARGET)
                }));
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
                .expect("one subscriber per test binary");
            opentelemetry::global::set_text_map_propagator(Propagator::default());
            exporter
        })
        .clone()
}

/// A root span carrying baggage (`tenant=acme`), for the client calls of one test.
pub fn root(name: &'static str) -> tracing::Span {
    exporter();
    let span = tracing::info_span!("root", otel.name = name);
    span.set_parent(
        opentelemetry::Context::new()
            .with_baggage([opentelemetry::KeyValue::new("tenant", "acme")]),
    )
    .unwrap();
    span
}

/// Waits (bounded) until `count` finished spans of `trace_id` were exported, then returns all of them.
pub fn spans_of(trace_id: TraceId, count: usize) -> Vec<SpanData> {
    let exporter = exporter();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans: Vec<SpanData> = exporter
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|s| s.span_context.trace_id() == trace_id)
            .collect();
        if spans.len() >= count || Instant::now() > deadline {
            assert!(
                spans.len() >= count,
                "expected {count} spans of trace {trace_id}, got {:#?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            return spans;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The server span of a request, found by one of its attributes (`url.path` is unique per test).
pub fn server_span_with_path(path: &str) -> SpanData {
    let exporter = exporter();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = exporter
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .find(|s| {
                s.span_kind == opentelemetry::trace::SpanKind::Server
                    && text(s, "url.path").as_deref() == Some(path)
            });
        if let Some(span) = found {
            return span;
        }
        assert!(Instant::now() < deadline, "no server span for {path}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A hyper-util client behind `ClientTraceLayer`.
pub type TracedClient = ClientTraceService<Client<HttpConnector, Empty<Bytes>>>;

pub fn client() -> TracedClient {
    ClientTraceLayer::new().layer(Client::builder(TokioExecutor::new()).build_http())
}

/// A plain hyper-util client, for requests whose headers the test writes itself.
pub fn plain_client() -> Client<HttpConnector, Empty<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Status, headers and body of a response.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

pub async fn read(response: http::Response<Incoming>) -> Reply {
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// GET `url` with extra headers, untraced.
pub async fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = http::Request::get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        plain_client().request(request.body(Empty::new()).unwrap()),
    )
    .await
    .expect("response within 10 s")
    .expect("response");
    read(response).await
}

/// GET `url` through the traced client.
pub async fn traced_get(client: &mut TracedClient, url: &str) -> Result<Reply, String> {
    let request = http::Request::get(url).body(Empty::new()).unwrap();
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        client
            .ready()
            .await
            .map_err(|e| e.to_string())?
            .call(request),
    )
    .await
    .expect("response within 10 s")
    .map_err(|e| e.to_string())?;
    Ok(read(response).await)
}

/// Checks a call to `/headers` at `url`, made through a traced client under the root span `root_name` of trace
/// `trace_id`, whose reply body is `body`: the client span is the root's child and the server span's parent, the
/// server got a `traceparent` naming the client span and the root's baggage, and the client span carries the
/// HTTP client conventions.
pub fn assert_client_call(root_name: &str, trace_id: TraceId, body: &str, url: &str) {
    let spans = spans_of(trace_id, 3);
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    let root = find(&spans, root_name);
    assert_eq!(client.parent_span_id, root.span_context.span_id());
    assert_eq!(server.parent_span_id, client.span_context.span_id());

    // The downstream got a traceparent naming the client span, and the baggage.
    let seen: serde_json::Value = serde_json::from_str(body).unwrap();
    let (received_trace, received_parent) =
        parse_traceparent(seen["traceparent"].as_str().unwrap());
    assert_eq!(received_trace, trace_id);
    assert_eq!(received_parent, client.span_context.span_id());
    assert_eq!(seen["baggage_header"], "tenant=acme");

    let uri: http::Uri = url.parse().unwrap();
    let port = uri.port_u16().unwrap().to_string();
    assert_eq!(client.name, "GET");
    assert_eq!(client.status, Status::Unset);
    for (key, value) in [
        ("http.request.method", "GET"),
        ("url.full", url),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("http.response.status_code", "200"),
    ] {
        assert_eq!(text(client, key).as_deref(), Some(value), "{key}");
    }
    assert!(text(client, "duration_ms").is_some());
}

/// The ids a `traceparent` header names.
pub fn parse_traceparent(value: &str) -> (TraceId, SpanId) {
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "traceparent {value}");
    (
        TraceId::from_hex(parts[1]).unwrap(),
        SpanId::from_hex(parts[2]).unwrap(),
    )
}

#[derive(Clone)]
struct App {
    base: String,
    client: TracedClient,
}

/// Starts the test server on a loopback port and returns its base URL (`http://127.0.0.1:PORT`).
///
/// Routes: `/ok`, `/fail` (500), `/items/{id}`, `/headers` (echoes the `traceparent` and `baggage` it got, and
/// the baggage its span sees), `/call/{path}` (GETs `/{path}` of this server through the traced client and
/// returns that body), `/slow` (answers after 30 s). Anything else is axum's 404.
pub async fn server() -> String {
    exporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let state = App {
        base: base.clone(),
        client: client(),
    };
    let app = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route("/items/{id}", get(item))
        .route("/headers", get(headers))
        .route("/call/{path}", get(call))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .with_state(state)
        .layer(TraceLayer::new());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    base
}

#[traced_runtime::traced(crate = traced_runtime)]
async fn item(id: Path<u64>) -> String {
    format!("item {}", id.0)
}

/// What the handler received and what its span sees, as JSON.
async fn headers(headers: HeaderMap) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let cx = tracing::Span::current().context();
    let baggage: serde_json::Map<String, serde_json::Value> = cx
        .baggage()
        .iter()
        .map(|(k, (v, _))| (k.to_string(), serde_json::Value::from(v.to_string())))
        .collect();
    serde_json::json!({
        "traceparent": header("traceparent"),
        "baggage_header": header("baggage"),
        "baggage": baggage,
        "trace_id": cx.span().span_context().trace_id().to_string(),
        "span_id": cx.span().span_context().span_id().to_string(),
    })
    .to_string()
}

#[traced_runtime::traced(crate = traced_runtime)]
async fn call(app: State<App>, path: Path<String>) -> Result<String, Infallible> {
    let (mut client, path) = (app.client.clone(), path.0);
    let reply = traced_get(&mut client, &format!("{}/{path}", app.base))
        .await
        .unwrap_or_else(|e| panic!("downstream call failed: {e}"));
    Ok(reply.body)
}
