//! `traced::spawn` and `traced::spawn_blocking`: a task continues the span, the OpenTelemetry context (with its
//! baggage) and the sampling decision of where it was spawned, on a multi-thread runtime; `tokio::spawn` alone
//! does not, which is what the comparisons show.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::capture_multi_thread;
use traced::config::SamplerConfig;
use traced::propagation::baggage;
use traced::traced;
use traced_test_support::span::is_child_of;
use tracing_subscriber::layer::SubscriberExt;

#[traced]
async fn spawned() {
    tokio::task::yield_now().await;
}

#[traced]
fn blocking() {}

#[traced]
async fn detached() {}

#[traced]
async fn spawner() {
    traced::spawn(spawned()).await.expect("spawned task");
    traced::spawn_blocking(blocking)
        .await
        .expect("blocking task");
    tokio::spawn(detached()).await.expect("detached task");
}

#[test]
fn a_spawned_task_is_a_child_of_the_span_that_spawned_it() {
    let ((), spans) = capture_multi_thread(spawner());
    let parent = spans.one("spawner");
    assert!(
        is_child_of(spans.one("spawned"), parent),
        "traced::spawn lost the parent: {spans:#?}"
    );
    assert!(
        is_child_of(spans.one("blocking"), parent),
        "traced::spawn_blocking lost the parent: {spans:#?}"
    );
    // What `traced::spawn` is for: a bare `tokio::spawn` starts a trace of its own.
    let detached = spans.one("detached");
    assert_ne!(
        detached.span_context.trace_id(),
        parent.span_context.trace_id()
    );
}

#[test]
fn a_spawned_task_keeps_the_baggage_of_an_attached_context() {
    let ((spawned, blocking, detached), _) = capture_multi_thread(async {
        // No span: only a context with baggage, attached while the tasks are spawned.
        let guard = baggage::with("tenant.id", "acme").attach();
        let spawned = traced::spawn(async {
            tokio::task::yield_now().await;
            baggage::get("tenant.id")
        });
        let blocking = traced::spawn_blocking(|| baggage::get("tenant.id"));
        let detached = tokio::spawn(async { baggage::get("tenant.id") });
        drop(guard);
        (
            spawned.await.expect("task"),
            blocking.await.expect("task"),
            detached.await.expect("task"),
        )
    });
    assert_eq!(spawned.as_deref(), Some("acme"));
    assert_eq!(blocking.as_deref(), Some("acme"));
    assert_eq!(detached, None);
}

fn traceparent_here() -> String {
    let mut headers = HashMap::new();
    traced::propagation::inject_into_map(&mut headers);
    headers.remove("traceparent").unwrap_or_default()
}

#[traced]
async fn dropped_root() -> [String; 4] {
    let here = traceparent_here();
    let spawned = traced::spawn(async {
        tokio::task::yield_now().await;
        traceparent_here()
    });
    let blocking = traced::spawn_blocking(traceparent_here);
    let detached = tokio::spawn(async { traceparent_here() });
    [
        here,
        spawned.await.expect("task"),
        blocking.await.expect("task"),
        detached.await.expect("task"),
    ]
}

#[test]
fn a_task_spawned_in_a_dropped_trace_propagates_it_as_not_sampled() {
    let (layer, _guard) = traced::Config::builder()
        .without_env()
        .with_sampler(SamplerConfig::AlwaysOff)
        .with_exporters([])
        .build()
        .expect("config")
        .layer()
        .expect("layer");
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let on_workers = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(move || {
            // Lives as long as the worker thread, which ends with the runtime below.
            std::mem::forget(tracing::dispatcher::set_default(&on_workers));
        })
        .build()
        .expect("runtime");
    let [here, spawned, blocking, detached] = tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async { tokio::spawn(dropped_root()).await.expect("task") })
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    // `00-{trace id}-{span id}-00`: the dropped trace, not sampled.
    assert_eq!(here.len(), 55, "{here:?}");
    assert!(here.ends_with("-00"), "{here:?}");
    let trace = &here[..35];
    for (what, traceparent) in [("spawn", &spawned), ("spawn_blocking", &blocking)] {
        assert!(
            traceparent.starts_with(trace) && traceparent.ends_with("-00"),
            "{what}: {traceparent:?} should continue {here:?} as not sampled"
        );
    }
    assert_eq!(detached, "", "a bare tokio::spawn knows no trace");
}
