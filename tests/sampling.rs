//! Head sampling decided before a `#[traced]` span is built: a dropped trace builds no span, its nested fns
//! neither, and no other span created inside it reaches the OpenTelemetry layer.
use opentelemetry::trace::TraceContextExt;
use traced::config::SamplerConfig;
use tracing_opentelemetry::OpenTelemetrySpanExt;
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
