//! With the spans of `traced::http` filtered out, the layers still carry the trace: the handler's spans continue
//! the caller's trace, and downstream calls carry it on.
#![cfg(feature = "http")]

mod http_support;

use http_support::*;
use opentelemetry::trace::{SpanId, TraceId};
use traced_test_support::span::find;

#[tokio::test]
async fn handler_spans_continue_the_caller_without_a_server_span() {
    install(true);
    let base = server().await;
    let trace_id = "7bf92f3577b34da6a3ce929d0e0e4736";
    let reply = get_with(
        &format!("{base}/call/headers"),
        &[("traceparent", &format!("00-{trace_id}-00f067aa0ba902b7-01"))],
    )
    .await;
    assert_eq!(reply.status, 200);
    // No server span, so nothing to name in the response.
    assert!(reply.headers.get("traceparent").is_none());

    // The handler `call` is the only span: a child of the remote caller.
    let spans = spans_of(TraceId::from_hex(trace_id).unwrap(), 1);
    assert_eq!(spans.len(), 1, "{spans:#?}");
    let handler = find(&spans, "call");
    assert_eq!(
        handler.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );

    // Downstream, the (unrecorded) client passed the handler's context on.
    let seen: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let (received_trace, received_parent) =
        parse_traceparent(seen["traceparent"].as_str().unwrap());
    assert_eq!(received_trace.to_string(), trace_id);
    assert_eq!(received_parent, handler.span_context.span_id());
}
