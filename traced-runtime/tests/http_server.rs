//! `TraceLayer` over real HTTP on loopback: status mapping, attributes, parent extraction, response injection,
//! cancellation and service errors.
#![cfg(feature = "http")]

mod http_support;

use std::future::Future;
use std::pin::pin;
use std::task::Context;

use http_support::*;
use opentelemetry::trace::{SpanKind, Status, TraceId};
use tower::{Service, ServiceExt};
use tower_layer::Layer;
use traced_runtime::http::TraceLayer;

const PARENT_ID: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn status_5xx_is_an_error_4xx_and_2xx_are_not() {
    let base = server().await;
    assert_eq!(get_with(&format!("{base}/ok"), &[]).await.status, 200);
    assert_eq!(get_with(&format!("{base}/nowhere"), &[]).await.status, 404);
    assert_eq!(get_with(&format!("{base}/fail"), &[]).await.status, 500);

    let ok = server_span_with_path("/ok");
    assert_eq!(ok.status, Status::Unset);
    assert_eq!(
        attr(&ok, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(attr(&ok, "error.type"), None);

    let missing = server_span_with_path("/nowhere");
    assert_eq!(missing.status, Status::Unset, "a 4xx is the client's fault");
    assert_eq!(
        attr(&missing, "http.response.status_code").as_deref(),
        Some("404")
    );
    // No route matched: the name is the method alone.
    assert_eq!(missing.name, "GET");
    assert_eq!(attr(&missing, "http.route"), None);

    let failed = server_span_with_path("/fail");
    assert!(
        matches!(failed.status, Status::Error { .. }),
        "{:?}",
        failed.status
    );
    assert_eq!(
        attr(&failed, "http.response.status_code").as_deref(),
        Some("500")
    );
    assert_eq!(attr(&failed, "error.type").as_deref(), Some("500"));
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn route_and_request_attributes() {
    let base = server().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let reply = get_with(
        &format!("{base}/items/42?color=red"),
        &[
            ("user-agent", "http-tests/1.0"),
            ("x-forwarded-for", "203.0.113.7, 10.0.0.1"),
        ],
    )
    .await;
    assert_eq!(reply.body, "item 42");

    let span = server_span_with_path("/items/42");
    assert_eq!(span.name, "GET /items/{id}");
    assert_eq!(span.span_kind, SpanKind::Server);
    for (key, value) in [
        ("http.route", "/items/{id}"),
        ("http.request.method", "GET"),
        ("url.path", "/items/42"),
        ("url.query", "color=red"),
        ("url.scheme", "http"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("client.address", "203.0.113.7"),
        ("network.peer.address", "127.0.0.1"),
        ("user_agent.original", "http-tests/1.0"),
        ("network.protocol.version", "1.1"),
        ("http.response.status_code", "200"),
    ] {
        assert_eq!(attr(&span, key).as_deref(), Some(value), "{key}");
    }
    assert!(attr(&span, "duration_ms").is_some());
    assert_eq!(attr(&span, "cancelled"), None);

    // The handler's own span is a child of the server span.
    let spans = spans_of(span.span_context.trace_id(), 2);
    let handler = spans.iter().find(|s| s.name != span.name).unwrap();
    assert_eq!(handler.parent_span_id, span.span_context.span_id());
}

#[tokio::test]
async fn a_valid_traceparent_is_continued() {
    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    let base = server().await;
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let reply = get_with(
        &format!("{base}/headers"),
        &[("traceparent", &traceparent), ("baggage", "tenant=acme")],
    )
    .await;
    assert_eq!(reply.status, 200);

    let spans = spans_of(TraceId::from_hex(TRACE_ID).unwrap(), 1);
    let span = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(span.parent_span_id.to_string(), PARENT_ID);
    assert!(span.parent_span_is_remote);

    // The handler sees the caller's baggage through its span's context.
    let seen: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(seen["baggage"]["tenant"], "acme");
    assert_eq!(seen["trace_id"], TRACE_ID);
}

#[tokio::test]
async fn the_response_names_the_server_span() {
    const TRACE_ID: &str = "5bf92f3577b34da6a3ce929d0e0e4736";
    let base = server().await;
    let reply = get_with(
        &format!("{base}/headers"),
        &[
            ("traceparent", &format!("00-{TRACE_ID}-{PARENT_ID}-01")),
            ("baggage", "secret=1"),
        ],
    )
    .await;
    let header = reply
        .headers
        .get("traceparent")
        .expect("traceparent in the response");
    let (trace_id, span_id) = parse_traceparent(header.to_str().unwrap());

    let spans = spans_of(trace_id, 1);
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(server.span_context.trace_id(), trace_id);
    assert_eq!(server.span_context.span_id(), span_id);
    // Only the span context goes back: the caller's baggage is not echoed.
    assert!(reply.headers.get("baggage").is_none());
}

#[tokio::test]
async fn a_malformed_traceparent_starts_a_new_trace_and_is_not_forwarded() {
    const TRACE_ID: &str = "6bf92f3577b34da6a3ce929d0e0e4736";
    let base = server().await;
    // Uppercase hex is invalid in version 00.
    let malformed = format!("00-{}-{PARENT_ID}-01", TRACE_ID.to_uppercase());
    let reply = get_with(
        &format!("{base}/call/headers"),
        &[("traceparent", &malformed)],
    )
    .await;
    assert_eq!(reply.status, 200);

    let upstream = server_span_with_path("/call/headers");
    let trace_id = upstream.span_context.trace_id();
    assert_ne!(trace_id.to_string(), TRACE_ID);
    assert_eq!(upstream.parent_span_id.to_string(), "0000000000000000");

    // Downstream got our new trace, not the malformed header.
    let downstream: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let received = downstream["traceparent"].as_str().unwrap();
    assert_ne!(received, malformed);
    assert_eq!(parse_traceparent(received).0, trace_id);
}

#[tokio::test]
async fn a_dropped_response_future_marks_the_span_cancelled() {
    exporter();
    let mut service = TraceLayer::new().layer(tower::service_fn(|_: http::Request<()>| {
        std::future::pending::<Result<http::Response<()>, std::io::Error>>()
    }));
    let request = http::Request::get("/cancelled").body(()).unwrap();
    {
        let mut future = pin!(service.ready().await.unwrap().call(request));
        let waker = std::task::Waker::noop();
        assert!(future
            .as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_pending());
    }
    let span = server_span_with_path("/cancelled");
    assert_eq!(attr(&span, "cancelled").as_deref(), Some("true"));
    assert_eq!(attr(&span, "http.response.status_code"), None);
}

#[tokio::test]
async fn a_service_error_is_an_error() {
    exporter();
    let mut service = TraceLayer::new().layer(tower::service_fn(|_: http::Request<()>| async {
        Err::<http::Response<()>, _>(std::io::Error::other("backend gone"))
    }));
    let request = http::Request::get("/broken").body(()).unwrap();
    let result = service.ready().await.unwrap().call(request).await;
    assert!(result.is_err());
    let span = server_span_with_path("/broken");
    assert_eq!(span.status, Status::error("backend gone"));
    assert_eq!(
        attr(&span, "error.type").as_deref(),
        Some("std::io::error::Error")
    );
    assert_ne!(span.span_context.trace_id(), TraceId::INVALID);
}

#[tokio::test]
async fn a_panicking_service_is_an_error_not_a_cancellation() {
    exporter();
    let mut service = TraceLayer::new().layer(tower::service_fn(|_: http::Request<()>| async {
        panic!("handler bug");
        #[allow(unreachable_code)]
        Ok::<http::Response<()>, std::io::Error>(http::Response::new(()))
    }));
    let request = http::Request::get("/panics").body(()).unwrap();
    let future = service.ready().await.unwrap().call(request);
    let joined = tokio::spawn(future).await;
    assert!(joined.unwrap_err().is_panic());
    let span = server_span_with_path("/panics");
    assert_eq!(span.status, Status::error("handler bug"));
    assert_eq!(attr(&span, "error.type").as_deref(), Some("panic"));
    assert_eq!(attr(&span, "cancelled"), None);
}
