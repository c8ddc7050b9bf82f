//! Head sampling decided before a `#[traced]` span is built: a dropped trace builds no span, its nested fns
//! neither, and no other span created inside it reaches the OpenTelemetry layer; the trace is still propagated,
//! as not sampled.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]

use opentelemetry::trace::TraceContextExt;
use std::collections::HashMap;
use traced::config::SamplerConfig;
use traced::SpanExt;
use tracing_subscriber::layer::SubscriberExt;

#[traced::traced]
fn inner() -> bool {
    tracing::Span::current().is_none()
}

#[traced::traced]
fn outer() -> (bool, bool, bool) {
    let skipped = tracing::Span::current().is_none();
    let other = tracing::info_span!("not_traced");
    let other_in_otel = other.context().span().span_context().is_valid();
    (skipped, inner(), other_in_otel)
}

#[traced::traced]
async fn outer_async() -> bool {
    let nested = inner();
    tokio::task::yield_now().await;
    nested && inner()
}

fn with_sampler<R>(sampler: SamplerConfig, body: impl FnOnce() -> R) -> R {
    let config = traced::Config::builder()
        .without_env()
        .with_sampler(sampler)
        .with_exporters([])
        .with_logs_exporters([])
        .build()
        .expect("config");
    let (layer, _guard) = config.layer().expect("layer");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), body)
}

#[test]
fn a_dropped_trace_builds_no_span() {
    let (skipped, nested_skipped, other_in_otel) = with_sampler(SamplerConfig::AlwaysOff, outer);
    assert!(skipped && nested_skipped);
    assert!(
        !other_in_otel,
        "a span inside a dropped trace reached the OTel layer"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(with_sampler(SamplerConfig::ParentBasedAlwaysOff, || {
        runtime.block_on(outer_async())
    }));
}

#[test]
fn a_kept_trace_builds_spans() {
    let (skipped, nested_skipped, other_in_otel) = with_sampler(SamplerConfig::AlwaysOn, outer);
    assert!(!skipped && !nested_skipped);
    assert!(other_in_otel);
}

#[test]
fn ratio_zero_drops_and_ratio_one_keeps() {
    assert!(with_sampler(SamplerConfig::TraceIdRatio(0.0), outer).0);
    assert!(!with_sampler(SamplerConfig::ParentBasedTraceIdRatio(1.0), outer).0);
}

fn traceparent_here() -> String {
    let mut headers = HashMap::new();
    traced::propagation::inject_into_map(&mut headers);
    headers.remove("traceparent").unwrap_or_default()
}

#[traced::traced]
fn call_downstream() -> (String, String) {
    (traceparent_here(), nested_call())
}

#[traced::traced]
fn nested_call() -> String {
    traceparent_here()
}

#[traced::traced]
async fn call_downstream_async() -> (String, String) {
    let before = traceparent_here();
    tokio::task::yield_now().await;
    (before, traceparent_here())
}

/// `00-<trace>-<span>-<flags>` split into its trace id and flags.
fn trace_and_flags(traceparent: &str) -> (String, String) {
    let fields: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(fields.len(), 4, "not a traceparent: {traceparent:?}");
    (fields[1].to_owned(), fields[3].to_owned())
}

#[test]
fn a_dropped_trace_is_propagated_as_not_sampled() {
    let (outer, nested) = with_sampler(SamplerConfig::AlwaysOff, call_downstream);
    let (trace, flags) = trace_and_flags(&outer);
    assert_eq!(
        flags, "00",
        "a dropped trace must go out unsampled: {outer}"
    );
    assert_ne!(trace, "0".repeat(32));
    assert_eq!(
        trace_and_flags(&nested),
        (trace, "00".to_owned()),
        "nested fns keep the trace"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (before, after) = with_sampler(SamplerConfig::ParentBasedAlwaysOff, || {
        runtime.block_on(call_downstream_async())
    });
    assert_eq!(trace_and_flags(&before).1, "00");
    assert_eq!(
        trace_and_flags(&before),
        trace_and_flags(&after),
        "an await keeps the dropped trace"
    );
    // Outside any trace, nothing is propagated.
    assert_eq!(with_sampler(SamplerConfig::AlwaysOff, traceparent_here), "");
}

#[test]
fn a_kept_trace_is_propagated_as_sampled() {
    let (outer, nested) = with_sampler(SamplerConfig::AlwaysOn, call_downstream);
    assert_eq!(trace_and_flags(&outer).1, "01");
    assert_eq!(trace_and_flags(&outer).0, trace_and_flags(&nested).0);
    assert_ne!(outer, nested, "the nested fn is its own span");
}
