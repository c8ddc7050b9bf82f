//! `TraceLayer`'s server span under each pipeline of the behaviour tests (`TRACED_TEST_LAYER`): its attributes,
//! in their order, are the same for the first request of the process (this crate's layer visits the span's
//! fields) and for every later one (the layer is given them as attributes, the fields skipped).
#![cfg(all(not(feature = "off"), feature = "http"))]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::BodyExt;
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use tower::{Layer, ServiceExt};
use traced::http::{Route, TraceLayer};

/// The attributes of a server span the request of [`serve`] makes, in their order, those whose value differs per
/// span aside (`duration_ms`, tracing-opentelemetry's `busy_ns` and `idle_ns`), and the layer's own `thread.*`
/// and `target`, which are not the server span's business.
fn attributes(span: &SpanData) -> Vec<(String, Value)> {
    span.attributes
        .iter()
        .filter(|kv| {
            !matches!(
                kv.key.as_str(),
                "duration_ms" | "busy_ns" | "idle_ns" | "thread.id" | "thread.name" | "target"
            )
        })
        .map(|kv| (kv.key.to_string(), kv.value.clone()))
        .collect()
}

/// The caller's trace and span of the request from the peer on `port`.
fn caller(port: u16) -> (TraceId, SpanId) {
    (
        TraceId::from(0x4bf9_0000 + u128::from(port)),
        SpanId::from(0x00f0_0000 + u64::from(port)),
    )
}

/// One request through `TraceLayer` to a handler that answers 200, from peer `peer`, in the trace of
/// [`caller`].
async fn serve(peer: SocketAddr) {
    let (trace_id, span_id) = caller(peer.port());
    let service =
        TraceLayer::new().layer(tower::service_fn(|_request: http::Request<String>| async {
            Ok::<_, Infallible>(http::Response::new(String::from("ok")))
        }));
    let mut request = http::Request::get("/orders/17?page=2")
        .header(http::header::HOST, "shop.example:8080")
        .header(http::header::USER_AGENT, "probe/2.0")
        .header("traceparent", format!("00-{trace_id}-{span_id}-01"))
        .body(String::new())
        .expect("request");
    request.extensions_mut().insert(Route::from("/orders/{id}"));
    request.extensions_mut().insert(peer);
    let response = service.oneshot(request).await.expect("response");
    assert_eq!(response.status(), 200);
    // Read to the end: a body dropped before marks the span `cancelled`.
    let body = response.into_body().collect().await.expect("body");
    assert_eq!(body.to_bytes(), "ok");
}

#[test]
fn every_server_span_has_the_attributes_of_the_first() {
    let peers: Vec<SocketAddr> = ["10.1.2.3:40001", "10.1.2.3:40002", "192.168.0.77:40003"]
        .iter()
        .map(|peer| peer.parse().expect("address"))
        .collect();
    // The stock layout installs no propagator of its own.
    opentelemetry::global::set_text_map_propagator(traced::propagation::Propagator::default());
    let ((), spans) = common::capture(|| {
        let runtime = common::runtime();
        for peer in &peers {
            runtime.block_on(serve(*peer));
        }
    });
    let servers: Vec<&SpanData> = spans
        .0
        .iter()
        .filter(|span| span.span_kind == SpanKind::Server)
        .collect();
    assert_eq!(servers.len(), peers.len(), "{spans:?}");
    for peer in &peers {
        let port = i64::from(peer.port());
        let span = servers
            .iter()
            .find(|span| {
                span.attributes.iter().any(|kv| {
                    kv.key.as_str() == "network.peer.port" && kv.value == Value::I64(port)
                })
            })
            .unwrap_or_else(|| panic!("no server span from {peer}: {servers:?}"));
        assert_eq!(span.name, "GET /orders/{id}");
        // The caller's trace continues, whether the parent was set on the span made or given with its values.
        let (trace_id, span_id) = caller(peer.port());
        assert_eq!(
            (
                span.span_context.trace_id(),
                span.parent_span_id,
                span.parent_span_is_remote
            ),
            (trace_id, span_id, true),
            "the span from {peer}"
        );
        let address = peer.ip().to_string();
        let expected: Vec<(String, Value)> = [
            ("http.request.method", Value::from("GET")),
            ("http.route", Value::from("/orders/{id}")),
            ("url.path", Value::from("/orders/17")),
            ("url.query", Value::from("page=2")),
            ("url.scheme", Value::from("http")),
            ("server.address", Value::from("shop.example")),
            ("server.port", Value::I64(8080)),
            ("client.address", Value::from(address.clone())),
            ("network.peer.address", Value::from(address)),
            ("network.peer.port", Value::I64(port)),
            ("network.protocol.version", Value::from("1.1")),
            ("user_agent.original", Value::from("probe/2.0")),
            ("http.response.status_code", Value::I64(200)),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        assert_eq!(attributes(span), expected, "the span from {peer}");
        // Timed once, whether by the layer (every span after the first, under this crate's layer) or by
        // `TraceLayer` itself.
        let durations: Vec<&Value> = span
            .attributes
            .iter()
            .filter(|kv| kv.key.as_str() == "duration_ms")
            .map(|kv| &kv.value)
            .collect();
        assert!(
            matches!(durations[..], [Value::F64(ms)] if *ms >= 0.0),
            "the span from {peer}: {durations:?}"
        );
    }
}
