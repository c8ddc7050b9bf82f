//! `TRACED_BAGGAGE_ATTRIBUTES`: the baggage entries it names are on every span started where they are in the
//! context: `#[traced]` (under the current context or an explicit `parent`), `span!`, plain `tracing` spans, the
//! spans of `ClientTraceLayer` and of `TraceLayer` (whose parent, with the caller's baggage, comes from the
//! request headers after the span was created), and a task spawned with `traced::spawn`; redaction applies.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(all(not(feature = "off"), feature = "http"))]

mod common;

use std::convert::Infallible;

use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SpanData;
use tower::Layer;
use tower::{Service, ServiceExt};
use traced::http::{ClientTraceLayer, TraceLayer};
use traced::traced;
use traced_test_support::span::{attr, find, string};

/// Runs `body` under `traced`'s pipeline copying `keys`, and returns the spans it exported.
fn exported<R>(keys: &[&str], body: impl FnOnce() -> R) -> (R, Vec<SpanData>) {
    let (result, spans) = common::capture_traced(
        |builder| builder.with_baggage_attributes(keys.iter().copied()),
        body,
    );
    (result, spans.0)
}

fn request_baggage() -> Context {
    Context::new().with_baggage([
        KeyValue::new("tenant.id", "acme"),
        KeyValue::new("user.id", "u-7"),
        KeyValue::new("auth.token", "s3cr3t"),
        KeyValue::new("not.copied", "x"),
    ])
}

/// The span carries the copied entries, with the secret redacted, and nothing else from the baggage.
fn assert_copied(span: &SpanData) {
    assert_named_entries(span);
    assert!(attr(span, "not.copied").is_none(), "{}", span.name);
}

fn assert_named_entries(span: &SpanData) {
    assert_eq!(string(span, "tenant.id"), "acme", "{}", span.name);
    assert_eq!(string(span, "user.id"), "u-7", "{}", span.name);
    assert_eq!(string(span, "auth.token"), "[REDACTED]", "{}", span.name);
}

#[traced]
fn handler() {
    let plain = tracing::info_span!("plain");
    plain.in_scope(|| {});
    traced::span!("block"; {});
}

#[traced(parent = cx)]
fn under_explicit_parent(cx: &Context) {}

#[traced(fields(tenant.id = "from code"))]
fn recorded_by_the_code() {}

#[test]
fn every_kind_of_span_gets_the_entries() {
    let keys = ["tenant.id", "user.id", "auth.token"];
    let ((), spans) = exported(&keys, || {
        {
            let _request = request_baggage().attach();
            handler();
            recorded_by_the_code();
        }
        // Nothing attached: the explicit parent's baggage counts.
        under_explicit_parent(&request_baggage());
    });
    for name in ["handler", "plain", "block", "under_explicit_parent"] {
        assert_copied(find(&spans, name));
    }
    // A field the code recorded wins, and is not recorded twice (`attr` fails on a duplicate).
    let own = find(&spans, "recorded_by_the_code");
    assert_eq!(string(own, "tenant.id"), "from code");
}

#[test]
fn star_copies_every_entry_and_no_option_none() {
    let ((), spans) = exported(&["*"], || {
        let _request = request_baggage().attach();
        handler();
    });
    let span = find(&spans, "handler");
    assert_named_entries(span);
    assert_eq!(string(span, "not.copied"), "x");

    let ((), spans) = exported(&[], || {
        let _request = request_baggage().attach();
        handler();
    });
    assert!(attr(find(&spans, "handler"), "tenant.id").is_none());
}

#[traced]
async fn order() -> &'static str {
    "ok"
}

#[traced]
async fn spawned_action() {}

#[test]
fn http_spans_and_spawned_tasks_get_the_entries_of_the_request() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ((), spans) = exported(&["tenant.id", "user.id", "auth.token"], || {
        runtime
            .block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let url = format!("http://{}/orders", listener.local_addr().expect("addr"));
                let app = Router::new()
                    .route(
                        "/orders",
                        get(|| async {
                            traced::spawn(spawned_action()).await.expect("task");
                            order().await
                        }),
                    )
                    .layer(TraceLayer::new());
                let server = tokio::spawn(async move { axum::serve(listener, app).await });

                let mut client = ClientTraceLayer::new()
                    .layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
                let _request = request_baggage().attach();
                let request = http::Request::get(&url)
                    .body(Empty::new())
                    .expect("request");
                let response = client
                    .ready()
                    .await
                    .expect("ready")
                    .call(request)
                    .await
                    .expect("response");
                let body = response.into_body().collect().await.expect("body");
                assert_eq!(body.to_bytes(), "ok");
                server.abort();
                Ok::<(), Infallible>(())
            })
            .expect("run");
    });
    // The client span from the attached context; the server span from the `baggage` header, set as its parent
    // after it was created; the handler's spans and the spawned task's from the server span's context.
    let kind = |kind: SpanKind| {
        spans
            .iter()
            .find(|s| s.span_kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} span"))
    };
    assert_copied(kind(SpanKind::Client));
    assert_copied(kind(SpanKind::Server));
    assert_copied(find(&spans, "order"));
    assert_copied(find(&spans, "spawned_action"));
}
