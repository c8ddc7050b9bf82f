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
use traced_test_support::span::text;
use traced_test_support::Drip;

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
        text(&ok, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(text(&ok, "error.type"), None);

    let missing = server_span_with_path("/nowhere");
    assert_eq!(missing.status, Status::Unset, "a 4xx is the client's fault");
    assert_eq!(
        text(&missing, "http.response.status_code").as_deref(),
        Some("404")
    );
    // No route matched: the name is the method alone.
    assert_eq!(missing.name, "GET");
    assert_eq!(text(&missing, "http.route"), None);

    let failed = server_span_with_path("/fail");
    assert!(
        matches!(failed.status, Status::Error { .. }),
        "{:?}",
        failed.status
    );
    assert_eq!(
        text(&failed, "http.response.status_code").as_deref(),
        Some("500")
    );
    assert_eq!(text(&failed, "error.type").as_deref(), Some("500"));
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
        assert_eq!(text(&span, key).as_deref(), Some(value), "{key}");
    }
    assert!(text(&span, "duration_ms").is_some());
    assert_eq!(text(&span, "cancelled"), None);

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
        std::future::pending::<Result<http::Response<String>, std::io::Error>>()
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
    assert_eq!(text(&span, "cancelled").as_deref(), Some("true"));
    assert_eq!(text(&span, "http.response.status_code"), None);
}

#[tokio::test]
async fn a_service_error_is_an_error() {
    exporter();
    let mut service = TraceLayer::new().layer(tower::service_fn(|_: http::Request<()>| async {
        Err::<http::Response<String>, _>(std::io::Error::other("backend gone"))
    }));
    let request = http::Request::get("/broken").body(()).unwrap();
    let result = service.ready().await.unwrap().call(request).await;
    assert!(result.is_err());
    let span = server_span_with_path("/broken");
    assert_eq!(span.status, Status::error("backend gone"));
    assert_eq!(
        text(&span, "error.type").as_deref(),
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
        Ok::<http::Response<String>, std::io::Error>(http::Response::new(String::new()))
    }));
    let request = http::Request::get("/panics").body(()).unwrap();
    let future = service.ready().await.unwrap().call(request);
    let joined = tokio::spawn(future).await;
    assert!(joined.unwrap_err().is_panic());
    let span = server_span_with_path("/panics");
    assert_eq!(span.status, Status::error("handler bug"));
    assert_eq!(text(&span, "error.type").as_deref(), Some("panic"));
    assert_eq!(text(&span, "cancelled"), None);
}

/// An axum server whose `/stream/{chunks}` route answers 200 with a body of that many chunks, 150 ms apart.
async fn streaming_server() -> String {
    exporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route(
            "/stream/{chunks}",
            axum::routing::get(|chunks: axum::extract::Path<u32>| async move {
                axum::body::Body::new(Drip::new(chunks.0, std::time::Duration::from_millis(150)))
            }),
        )
        .layer(TraceLayer::new());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn duration_ms(span: &opentelemetry_sdk::trace::SpanData) -> f64 {
    text(span, "duration_ms").unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_server_span_covers_a_streamed_body() {
    let base = streaming_server().await;
    let reply = get_with(&format!("{base}/stream/3"), &[]).await;
    assert_eq!(reply.body, "chunk\nchunk\nchunk\n");
    let span = server_span_with_path("/stream/3");
    let lasted = span.end_time.duration_since(span.start_time).unwrap();
    eprintln!(
        "streamed body: span lasted {lasted:?}, duration_ms {}",
        duration_ms(&span)
    );
    // Three chunks 150 ms apart: the head is out at once, the body 450 ms later.
    assert!(
        lasted >= std::time::Duration::from_millis(440),
        "{lasted:?}"
    );
    assert!(duration_ms(&span) >= 440.0, "{}", duration_ms(&span));
    assert_eq!(
        text(&span, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(span.status, Status::Unset);
    assert_eq!(text(&span, "cancelled"), None);
}

// Multi-thread: the server must go on sending while the test waits for its span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_dropped_mid_stream_marks_the_span_cancelled() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let base = streaming_server().await;
    let addr = base.trim_start_matches("http://");
    // A client that reads the head and the first chunk of 20, then closes the connection.
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(format!("GET /stream/20 HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    // `chunk\n` in the body, not `chunked` in the head.
    while !String::from_utf8_lossy(&received).contains("chunk\n") {
        let n = socket.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed before the first chunk");
        received.extend_from_slice(&buffer[..n]);
    }
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200"));
    drop(socket);
    let span = tokio::task::spawn_blocking(|| server_span_with_path("/stream/20"))
        .await
        .unwrap();
    let lasted = span.end_time.duration_since(span.start_time).unwrap();
    eprintln!("body dropped after one chunk of 20: span lasted {lasted:?}");
    assert_eq!(text(&span, "cancelled").as_deref(), Some("true"));
    // The status of the head stays.
    assert_eq!(
        text(&span, "http.response.status_code").as_deref(),
        Some("200")
    );
    // Ended when the connection went, not after the 20 chunks (3 s).
    assert!(
        lasted >= std::time::Duration::from_millis(140),
        "{lasted:?}"
    );
    assert!(
        lasted < std::time::Duration::from_millis(2_500),
        "{lasted:?}"
    );
}
