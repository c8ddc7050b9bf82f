//! `ClientTraceLayer` and `inject_headers` over real HTTP on loopback: injection, attributes, error statuses, and
//! one trace across two hops.
#![cfg(feature = "http")]

mod http_support;

use std::time::Duration;

use http_support::*;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use tower::{Service, ServiceExt};
use tower_layer::Layer;
use traced_runtime::http::{inject_headers, ClientTraceLayer};
use traced_test_support::span::{find, text};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[tokio::test]
async fn the_client_span_is_the_parent_of_the_server() {
    let base = server().await;
    let root = root("client-injects");
    let trace_id = root.context().span().span_context().trace_id();
    let reply = traced_get(&mut client(), &format!("{base}/headers"))
        .instrument(root)
        .await
        .unwrap();

    assert_client_call(
        "client-injects",
        trace_id,
        &reply.body,
        &format!("{base}/headers"),
    );
}

#[tokio::test]
async fn two_hops_make_one_trace() {
    let base = server().await;
    let root = root("two-hops");
    let trace_id = root.context().span().span_context().trace_id();
    let reply = traced_get(&mut client(), &format!("{base}/call/ok"))
        .instrument(root)
        .await
        .unwrap();
    assert_eq!(reply.body, "ok");

    // root → client → server /call/ok → handler `call` → client → server /ok
    let spans = spans_of(trace_id, 6);
    let kinds = |kind: SpanKind| spans.iter().filter(|s| s.span_kind == kind).count();
    assert_eq!(kinds(SpanKind::Client), 2);
    assert_eq!(kinds(SpanKind::Server), 2);
    let handler = find(&spans, "call");
    let upstream = spans
        .iter()
        .find(|s| s.span_context.span_id() == handler.parent_span_id)
        .expect("the handler's parent");
    assert_eq!(upstream.span_kind, SpanKind::Server);
    assert_eq!(text(upstream, "url.path").as_deref(), Some("/call/ok"));
    let inner_client = spans
        .iter()
        .find(|s| s.parent_span_id == handler.span_context.span_id())
        .expect("the downstream call is a child of the handler");
    assert_eq!(inner_client.span_kind, SpanKind::Client);
    let downstream = spans
        .iter()
        .find(|s| s.parent_span_id == inner_client.span_context.span_id())
        .expect("the second server span is a child of the downstream call");
    assert_eq!(downstream.span_kind, SpanKind::Server);
    assert_eq!(text(downstream, "url.path").as_deref(), Some("/ok"));
}

#[tokio::test]
async fn a_5xx_and_a_refused_connection_are_errors() {
    let base = server().await;
    let root = root("client-errors");
    let trace_id = root.context().span().span_context().trace_id();
    // A port that was free a moment ago: nothing listens there.
    let closed = traced_test_support::free_addr();
    async {
        let mut client = client();
        assert_eq!(
            traced_get(&mut client, &format!("{base}/fail"))
                .await
                .unwrap()
                .status,
            500
        );
        assert!(traced_get(&mut client, &format!("http://{closed}/"))
            .await
            .is_err());
        assert_eq!(
            traced_get(&mut client, &format!("{base}/nowhere"))
                .await
                .unwrap()
                .status,
            404
        );
    }
    .instrument(root)
    .await;

    let spans = spans_of(trace_id, 6);
    let clients: Vec<_> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    let failed = clients
        .iter()
        .find(|s| text(s, "http.response.status_code").as_deref() == Some("500"))
        .unwrap();
    assert!(matches!(failed.status, Status::Error { .. }));
    assert_eq!(text(failed, "error.type").as_deref(), Some("500"));
    let not_found = clients
        .iter()
        .find(|s| text(s, "http.response.status_code").as_deref() == Some("404"))
        .unwrap();
    assert!(
        matches!(not_found.status, Status::Error { .. }),
        "a 4xx fails the client's request"
    );
    let refused = clients
        .iter()
        .find(|s| text(s, "http.response.status_code").is_none())
        .unwrap();
    assert!(matches!(&refused.status, Status::Error { description } if !description.is_empty()));
    assert_eq!(
        text(refused, "error.type").as_deref(),
        Some("hyper_util::client::legacy::client::Error")
    );
}

#[tokio::test]
async fn inject_headers_names_the_current_span() {
    let root = root("inject-headers");
    let mut headers = http::HeaderMap::new();
    let _entered = root.enter();
    inject_headers(&mut headers);
    let (trace_id, parent) = parse_traceparent(headers["traceparent"].to_str().unwrap());
    let cx = root.context();
    assert_eq!(trace_id, cx.span().span_context().trace_id());
    assert_eq!(parent, cx.span().span_context().span_id());
    assert_eq!(headers["baggage"], "tenant=acme");
}

#[tokio::test]
async fn reqwest_through_a_service_fn() {
    let base = server().await;
    let root = root("reqwest");
    let trace_id = root.context().span().span_context().trace_id();
    let reqwest = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut client = ClientTraceLayer::new().layer(tower::service_fn(
        move |request: http::Request<reqwest::Body>| {
            let reqwest = reqwest.clone();
            async move {
                let response = reqwest.execute(request.try_into()?).await?;
                Ok::<_, reqwest::Error>(http::Response::<reqwest::Body>::from(response))
            }
        },
    ));
    let request = http::Request::get(format!("{base}/headers"))
        .body(reqwest::Body::from(""))
        .unwrap();
    // The client span is created by `call`, so `call` runs inside the root span.
    let response = async { client.ready().await?.call(request).await }
        .instrument(root)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let spans = spans_of(trace_id, 3);
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(server.parent_span_id, client.span_context.span_id());
}
