//! `ReqwestMiddleware` over real HTTP on loopback, against the axum test server behind `TraceLayer`: the client
//! span and its attributes, the context and baggage in the request, error statuses, cancellation.
#![cfg(feature = "reqwest")]

mod http_support;

use std::time::Duration;

use http_support::*;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use traced_runtime::http::ReqwestMiddleware;
use traced_test_support::span::text;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

fn reqwest_client() -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(ReqwestMiddleware::new())
        .build()
}

#[tokio::test]
async fn the_middleware_span_is_the_parent_of_the_server() {
    let base = server().await;
    let root = root("reqwest-injects");
    let trace_id = root.context().span().span_context().trace_id();
    let url = format!("{base}/headers?from=reqwest");
    let body = async {
        reqwest_client()
            .get(&url)
            .send()
            .await?
            .text()
            .await
            .map_err(Into::into)
    }
    .instrument(root)
    .await
    .map_err(|e: reqwest_middleware::Error| e.to_string())
    .unwrap();

    // The same span as `ClientTraceLayer` gives.
    assert_client_call("reqwest-injects", trace_id, &body, &url);
}

#[tokio::test]
async fn a_4xx_a_refused_connection_and_a_dropped_call_are_recorded() {
    let base = server().await;
    let root = root("reqwest-errors");
    let trace_id = root.context().span().span_context().trace_id();
    // A port that was free a moment ago: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    async {
        let client = reqwest_client();
        let not_found = client.get(format!("{base}/nowhere")).send().await.unwrap();
        assert_eq!(not_found.status(), 404);
        assert!(client
            .get(format!("http://{closed}/"))
            .send()
            .await
            .is_err());
        // `/slow` answers after 30 s: the caller gives up first.
        let gave_up = tokio::time::timeout(
            Duration::from_millis(200),
            client.get(format!("{base}/slow")).send(),
        )
        .await;
        assert!(gave_up.is_err());
    }
    .instrument(root)
    .await;

    // root + 3 client spans (the server spans of /nowhere and /slow are in the same trace too).
    let spans = spans_of(trace_id, 4);
    let clients: Vec<_> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    let not_found = clients
        .iter()
        .find(|s| text(s, "http.response.status_code").as_deref() == Some("404"))
        .expect("the 404 call");
    assert!(
        matches!(not_found.status, Status::Error { .. }),
        "a 4xx fails the client's request"
    );
    assert_eq!(text(not_found, "error.type").as_deref(), Some("404"));
    let refused = clients
        .iter()
        .find(|s| text(s, "url.full").is_some_and(|url| url.contains(&closed.to_string())))
        .expect("the refused call");
    assert!(matches!(&refused.status, Status::Error { description } if !description.is_empty()));
    assert_eq!(
        text(refused, "error.type").as_deref(),
        Some("reqwest::error::Error")
    );
    let dropped = clients
        .iter()
        .find(|s| text(s, "url.full").is_some_and(|url| url.ends_with("/slow")))
        .expect("the dropped call");
    assert_eq!(text(dropped, "cancelled").as_deref(), Some("true"));
    assert_eq!(
        dropped.status,
        Status::Unset,
        "a cancelled call is not an error"
    );
}
