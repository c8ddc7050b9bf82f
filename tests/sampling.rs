//! Head sampling decided before a `#[traced]` span is built: a dropped trace builds no span, its nested fns
//! neither, and no other span created inside it reaches the OpenTelemetry layer; the trace is still propagated,
//! as not sampled.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]

use opentelemetry::trace::TraceContextExt;
use std::collections::HashMap;
use traced::config::{LogFormat, SamplerConfig};
use traced::SpanExt;
use tracing_subscriber::layer::SubscriberExt;

#[traced::traced]
fn inner() -> bool {
    tracing::Span::current().is_none()
}

/// Whether the span of `#[traced]` was skipped, the nested one's too, and whether a `tracing` span and a
/// `traced::span!` block inside reached the OpenTelemetry layer.
#[traced::traced]
fn outer() -> (bool, bool, bool) {
    let skipped = tracing::Span::current().is_none();
    let other = tracing::info_span!("not_traced");
    let other_in_otel = other.context().span().span_context().is_valid();
    let block_in_otel = traced::span!("block"; {
        tracing::Span::current().context().span().span_context().is_valid()
    });
    assert_eq!(block_in_otel, other_in_otel, "a block as any other span");
    (skipped, inner(), other_in_otel)
}

#[traced::traced]
async fn outer_async() -> bool {
    let nested = inner();
    tokio::task::yield_now().await;
    nested && inner()
}

/// How the pipeline's layer sits in the subscriber.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// `Config::layer` in a subscriber of the application's.
    Layer,
    /// `Config::dispatch` without a log format: the log filter as the global filter.
    Dispatch,
    /// `Config::dispatch` beside a log format.
    DispatchWithLogs,
}

const LAYOUTS: [Layout; 3] = [Layout::Layer, Layout::Dispatch, Layout::DispatchWithLogs];

fn with_sampler<R>(sampler: SamplerConfig, body: impl FnOnce() -> R) -> R {
    with_sampler_in(Layout::Layer, sampler, body)
}

fn with_sampler_in<R>(layout: Layout, sampler: SamplerConfig, body: impl FnOnce() -> R) -> R {
    let log_format = match layout {
        Layout::DispatchWithLogs => LogFormat::Compact,
        Layout::Layer | Layout::Dispatch => LogFormat::None,
    };
    let config = traced::Config::builder()
        .without_env()
        .with_sampler(sampler)
        .with_log_format(log_format)
        .with_exporters([])
        .with_logs_exporters([])
        .build()
        .expect("config");
    match layout {
        Layout::Layer => {
            let (layer, _guard) = config.layer().expect("layer");
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), body)
        }
        Layout::Dispatch | Layout::DispatchWithLogs => {
            let (dispatch, _guard) = config.dispatch().expect("dispatch");
            tracing::dispatcher::with_default(&dispatch, body)
        }
    }
}

#[test]
fn a_dropped_trace_builds_no_span() {
    for layout in LAYOUTS {
        let (skipped, nested_skipped, other_in_otel) =
            with_sampler_in(layout, SamplerConfig::AlwaysOff, outer);
        assert!(skipped && nested_skipped, "{layout:?}");
        assert!(
            !other_in_otel,
            "{layout:?}: a span inside a dropped trace reached the OTel layer"
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(
            with_sampler_in(layout, SamplerConfig::ParentBasedAlwaysOff, || {
                runtime.block_on(outer_async())
            }),
            "{layout:?}"
        );
    }
}

#[traced::traced]
fn block_inside() -> bool {
    traced::span!("block"; { tracing::Span::current().is_none() })
}

#[test]
fn without_a_log_format_a_block_in_a_dropped_trace_builds_no_span() {
    assert!(with_sampler_in(
        Layout::Dispatch,
        SamplerConfig::AlwaysOff,
        block_inside
    ));
    assert!(!with_sampler_in(
        Layout::Dispatch,
        SamplerConfig::AlwaysOn,
        block_inside
    ));
    // A log format still sees it.
    assert!(!with_sampler_in(
        Layout::DispatchWithLogs,
        SamplerConfig::AlwaysOff,
        block_inside
    ));
}

#[test]
fn a_kept_trace_builds_spans() {
    for layout in LAYOUTS {
        let (skipped, nested_skipped, other_in_otel) =
            with_sampler_in(layout, SamplerConfig::AlwaysOn, outer);
        assert!(!skipped && !nested_skipped, "{layout:?}");
        assert!(other_in_otel, "{layout:?}");
    }
}

#[test]
fn ratio_zero_drops_and_ratio_one_keeps() {
    assert!(with_sampler(SamplerConfig::TraceIdRatio(0.0), outer).0);
    assert!(!with_sampler(SamplerConfig::ParentBasedTraceIdRatio(1.0), outer).0);
}

#[traced::traced(root)]
fn own_trace() -> bool {
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .is_sampled()
}

/// Whether this call's trace was kept, and the root fn's inside it.
#[traced::traced]
fn root_inside() -> (bool, bool) {
    let kept = tracing::Span::current()
        .context()
        .span()
        .span_context()
        .is_sampled();
    (kept, own_trace())
}

#[test]
fn a_root_inside_a_dropped_trace_is_sampled_on_its_own() {
    for layout in LAYOUTS {
        let calls: Vec<(bool, bool)> =
            with_sampler_in(layout, SamplerConfig::TraceIdRatio(0.5), || {
                (0..200).map(|_| root_inside()).collect()
            });
        let roots_in_dropped: Vec<bool> = calls
            .iter()
            .filter(|(kept, _)| !kept)
            .map(|&(_, root)| root)
            .collect();
        let kept = roots_in_dropped.iter().filter(|&&root| root).count();
        // At a ratio of 0.5, about half of both: none of either in 200 calls has odds of 2^-100.
        assert!(!roots_in_dropped.is_empty(), "{layout:?}: no trace dropped");
        assert!(
            kept > 0 && kept < roots_in_dropped.len(),
            "{layout:?}: {kept} of the {} roots inside a dropped trace kept",
            roots_in_dropped.len()
        );
    }
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
