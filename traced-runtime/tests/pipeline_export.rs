//! The export pipeline against in-process OTLP receivers, over gRPC and HTTP, on a multi-thread runtime, a
//! current-thread runtime and no runtime. `Config::layer` with a thread-local subscriber keeps the tests
//! independent of global state.

mod pipeline_support;

use std::time::{Duration, Instant};

use pipeline_support::{grpc_receiver, http_receiver, silent_receiver, Receiver};
use traced_runtime::config::{Config, LogFormat, Protocol, SamplerConfig};
use traced_runtime::Guard;
use tracing_subscriber::layer::SubscriberExt;

const SPANS: usize = 1_000;

fn config(endpoint: String, protocol: Protocol) -> Config {
    let mut config = Config {
        service_name: Some("pipeline-test".into()),
        service_version: Some("9.9.9".into()),
        resource_attributes: vec![("team".into(), "tracing".into())],
        log_format: LogFormat::None,
        ..Config::default()
    };
    config.otlp.endpoint = endpoint;
    config.otlp.protocol = protocol;
    // Long enough that only the guard's shutdown flushes the last spans.
    config.batch.schedule_delay = Duration::from_secs(60);
    config.batch.export_timeout = Duration::from_secs(10);
    config
}

/// Creates `n` spans (each a root of its own trace) under a thread-local subscriber and returns the guard.
fn emit(config: Config, n: usize) -> Guard {
    let (layer, guard) = config.layer().expect("pipeline");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..n {
            let span = tracing::info_span!("work", i);
            let _entered = span.enter();
        }
    });
    guard
}

fn assert_all_arrived(receiver: &Receiver, guard: Guard) {
    let stats_before = guard.stats();
    let start = Instant::now();
    drop(guard);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "drop took {:?}",
        start.elapsed()
    );
    // Everything was delivered before drop returned: no waiting here.
    let spans = receiver.received.spans();
    assert_eq!(spans.len(), SPANS, "stats before drop: {stats_before:?}");
    let first = &spans[0];
    assert_eq!(first.name, "work");
    assert_eq!(first.resource_attr("service.name"), Some("pipeline-test"));
    assert_eq!(first.resource_attr("service.version"), Some("9.9.9"));
    assert_eq!(first.resource_attr("team"), Some("tracing"));
    assert_eq!(first.resource_attr("telemetry.sdk.language"), Some("rust"));
    assert_eq!(
        first.resource_attr("process.pid"),
        Some(std::process::id().to_string().as_str())
    );
    assert!(first.resource_attr("host.name").is_some());
}

fn grpc() -> (Receiver, Config) {
    let receiver = grpc_receiver();
    let config = config(receiver.grpc_endpoint(), Protocol::Grpc);
    (receiver, config)
}

fn http_protobuf() -> (Receiver, Config) {
    let receiver = http_receiver();
    let config = config(receiver.http_endpoint(), Protocol::HttpProtobuf);
    (receiver, config)
}

fn http_json() -> (Receiver, Config) {
    let receiver = http_receiver();
    let config = config(receiver.http_endpoint(), Protocol::HttpJson);
    (receiver, config)
}

#[test]
fn grpc_without_runtime() {
    let (receiver, config) = grpc();
    let guard = emit(config, SPANS);
    assert_all_arrived(&receiver, guard);
}

#[tokio::test(flavor = "current_thread")]
async fn grpc_on_current_thread_runtime() {
    let (receiver, config) = grpc();
    let guard = emit(config, SPANS);
    // Dropped inside the runtime: the export must not need this runtime.
    assert_all_arrived(&receiver, guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_on_multi_thread_runtime() {
    let (receiver, config) = grpc();
    let guard = emit(config, SPANS);
    assert_all_arrived(&receiver, guard);
}

#[test]
fn http_protobuf_without_runtime() {
    let (receiver, config) = http_protobuf();
    let guard = emit(config, SPANS);
    assert_all_arrived(&receiver, guard);
}

#[tokio::test(flavor = "current_thread")]
async fn http_protobuf_on_current_thread_runtime() {
    let (receiver, config) = http_protobuf();
    let guard = emit(config, SPANS);
    assert_all_arrived(&receiver, guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_on_multi_thread_runtime() {
    let (receiver, config) = http_json();
    let guard = emit(config, SPANS);
    assert_all_arrived(&receiver, guard);
}

#[test]
fn http_json_without_runtime() {
    let (receiver, config) = http_json();
    let guard = emit(config, SPANS);
    assert_all_arrived(&receiver, guard);
}

#[test]
fn grpc_with_gzip() {
    let (receiver, mut config) = grpc();
    config.otlp.compression = Some(traced_runtime::config::Compression::Gzip);
    config.otlp.headers = vec![("x-tenant".into(), "acme".into())];
    let guard = emit(config, SPANS);
    assert_all_arrived(&receiver, guard);
    assert_eq!(receiver.received.last_tenant().as_deref(), Some("acme"));
}

#[test]
fn http_sends_headers() {
    let (receiver, mut config) = http_protobuf();
    config.otlp.headers = vec![("x-tenant".into(), "acme".into())];
    let guard = emit(config, 10);
    guard.shutdown().unwrap();
    assert_eq!(receiver.received.count(), 10);
    assert_eq!(receiver.received.last_tenant().as_deref(), Some("acme"));
}

#[test]
fn fan_out_to_two_exporters() {
    let (receiver, mut config) = grpc();
    config.exporters = vec![
        traced_runtime::config::ExporterKind::Otlp,
        traced_runtime::config::ExporterKind::Otlp,
    ];
    let guard = emit(config, 10);
    guard.shutdown().unwrap();
    assert_eq!(receiver.received.count(), 20);
}

#[test]
fn stats_count_exported_spans() {
    let (receiver, mut config) = grpc();
    config.batch.max_export_batch_size = 100;
    let guard = emit(config, SPANS);
    guard.force_flush().unwrap();
    let stats = guard.stats();
    assert_eq!(
        (stats.exported, stats.dropped, stats.failed),
        (SPANS as u64, 0, 0)
    );
    assert!(stats.last_error.is_none());
    assert!(guard.healthy());
    assert_eq!(receiver.received.count(), SPANS);
    guard.shutdown().unwrap();
}

#[test]
fn full_batches_are_exported_before_the_schedule_delay() {
    let (receiver, mut config) = grpc();
    config.batch.max_export_batch_size = 10;
    let guard = emit(config, 50);
    // The schedule delay is a minute: only full batches explain an early arrival.
    assert_eq!(receiver.received.wait_for(50, Duration::from_secs(10)), 50);
    guard.shutdown().unwrap();
}

#[test]
fn schedule_delay_flushes_a_partial_batch() {
    let (receiver, mut config) = grpc();
    config.batch.schedule_delay = Duration::from_millis(100);
    let guard = emit(config, 3);
    assert_eq!(receiver.received.wait_for(3, Duration::from_secs(10)), 3);
    guard.shutdown().unwrap();
}

#[test]
fn trace_id_ratio_samples_within_binomial_bounds() {
    const TRACES: usize = 4_000;
    let (receiver, mut config) = grpc();
    config.sampler = SamplerConfig::TraceIdRatio(0.25);
    config.batch.max_queue_size = TRACES;
    let guard = emit(config, TRACES);
    guard.shutdown().unwrap();
    // Mean 1000, standard deviation about 27.4: six of them either side.
    let sampled = receiver.received.count();
    assert!(
        (836..=1164).contains(&sampled),
        "{sampled} of {TRACES} sampled"
    );
    let mut trace_ids: Vec<_> = receiver
        .received
        .spans()
        .into_iter()
        .map(|s| s.trace_id)
        .collect();
    trace_ids.sort();
    trace_ids.dedup();
    assert_eq!(
        trace_ids.len(),
        sampled,
        "every sampled span is the root of its own trace"
    );
}

#[test]
fn always_off_exports_nothing() {
    let (receiver, mut config) = grpc();
    config.sampler = SamplerConfig::ParentBasedAlwaysOff;
    let guard = emit(config, 100);
    guard.shutdown().unwrap();
    assert_eq!(receiver.received.count(), 0);
}

fn silent(protocol: Protocol) -> Config {
    let addr = silent_receiver();
    let endpoint = match protocol {
        Protocol::Grpc => format!("http://{addr}"),
        _ => format!("http://{addr}/v1/traces"),
    };
    let mut config = config(endpoint, protocol);
    config.batch.export_timeout = Duration::from_millis(500);
    config.otlp.timeout = Duration::from_secs(30);
    config
}

fn assert_export_timeout_enforced(config: Config) {
    let guard = emit(config, 5);
    let start = Instant::now();
    assert!(guard.force_flush().is_err());
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "flush took {:?}",
        start.elapsed()
    );
    let stats = guard.stats();
    assert_eq!(stats.failed, 5, "{stats:?}");
    assert!(
        stats
            .last_error
            .as_deref()
            .unwrap()
            .contains("export timeout"),
        "{stats:?}"
    );
    assert!(stats.last_error_at.is_some());
    assert!(!guard.healthy());
    let start = Instant::now();
    let _ = guard.shutdown();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        start.elapsed()
    );
}

#[test]
fn grpc_export_timeout_is_enforced() {
    assert_export_timeout_enforced(silent(Protocol::Grpc));
}

#[test]
fn http_export_timeout_is_enforced() {
    assert_export_timeout_enforced(silent(Protocol::HttpProtobuf));
}

/// TLS is set up (roots, crypto provider) without panicking the export thread: the handshake with a silent
/// server times out like any other export.
#[test]
fn https_endpoints_time_out_cleanly() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let mut config = silent(protocol);
        config.otlp.endpoint = config.otlp.endpoint.replace("http://", "https://");
        assert_export_timeout_enforced(config);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn drop_against_a_silent_receiver_is_bounded_on_current_thread_runtime() {
    let guard = emit(silent(Protocol::Grpc), 5);
    let start = Instant::now();
    drop(guard);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_full_queue_drops_spans_without_blocking() {
    let mut config = silent(Protocol::Grpc);
    config.batch.max_queue_size = 10;
    config.batch.max_export_batch_size = 10;
    config.batch.export_timeout = Duration::from_secs(2);
    let start = Instant::now();
    let guard = emit(config, 1_000);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "emitting took {:?}",
        start.elapsed()
    );
    let stats = guard.stats();
    assert!(stats.dropped >= 900, "{stats:?}");
    drop(guard);
}

#[test]
fn disabled_config_exports_nothing() {
    let (receiver, mut config) = grpc();
    config.disabled = true;
    let guard = emit(config, 10);
    assert!(guard.is_disabled());
    assert!(guard.healthy());
    guard.shutdown().unwrap();
    assert_eq!(receiver.received.count(), 0);
}

#[test]
fn no_exporter_starts_nothing() {
    let (receiver, mut config) = grpc();
    config.exporters.clear();
    let guard = emit(config, 10);
    guard.shutdown().unwrap();
    assert_eq!(receiver.received.count(), 0);
}

#[cfg(feature = "zipkin")]
#[test]
fn zipkin_exports_with_the_service_name() {
    let receiver = pipeline_support::zipkin_receiver();
    let mut config = config(String::new(), Protocol::HttpProtobuf);
    config.exporters = vec![traced_runtime::config::ExporterKind::Zipkin];
    config.zipkin_endpoint = format!("http://{}/api/v2/spans", receiver.addr);
    let guard = emit(config, 10);
    guard.shutdown().unwrap();
    let spans = receiver.received.spans();
    assert_eq!(spans.len(), 10);
    assert_eq!(spans[0].name, "work");
    assert_eq!(
        spans[0].resource_attr("service.name"),
        Some("pipeline-test")
    );
}

#[test]
fn a_span_exporter_given_in_code_receives_every_span_once() {
    let spans = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let config = Config::builder()
        .without_env()
        .with_exporters([])
        .with_span_exporter(spans.clone())
        .with_log_format(LogFormat::None)
        .build()
        .expect("config");
    let twin = config.clone();
    assert_eq!(twin, config, "a clone shares the exporter");

    let guard = emit(config, SPANS);
    // Read before shutdown, which clears the in-memory exporter.
    guard.force_flush().expect("flush");
    let stats = guard.stats();
    let finished = spans.get_finished_spans().expect("in-memory spans");
    assert_eq!(finished.len(), SPANS, "{stats:?}");
    assert!(finished.iter().all(|span| span.name == "work"));
    assert_eq!(stats.exported, SPANS as u64);
    guard.shutdown().expect("shutdown");
    assert!(
        spans.is_shutdown_called(),
        "the pipeline shuts its exporters down"
    );

    // The exporter moved into the first pipeline: a second one must not export to it as well.
    let Err(error) = twin.layer::<tracing_subscriber::Registry>() else {
        panic!("a second pipeline took the same exporter");
    };
    let message = error.to_string();
    assert!(message.contains("custom"), "{message}");
}

#[test]
fn spans_of_the_opentelemetry_api_nest_under_the_entered_span() {
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use traced_runtime::SpanExt;

    let (layer, guard, spans) = in_memory();
    let subscriber = tracing_subscriber::registry().with(layer);
    let outer_context = tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("outer");
        let _entered = outer.enter();
        // Another library instrumented with the OpenTelemetry API: its span goes through the global provider
        // `layer()` installed, and must find ours as its parent.
        let mut child = opentelemetry::global::tracer_provider()
            .tracer("api")
            .start("api_child");
        child.end();
        outer.context()
    });
    guard.force_flush().expect("flush");
    let finished = spans.get_finished_spans().expect("spans");
    let outer = finished.iter().find(|s| s.name == "outer").expect("outer");
    let child = finished
        .iter()
        .find(|s| s.name == "api_child")
        .expect("api_child");
    assert_eq!(child.parent_span_id, outer.span_context.span_id());
    assert_eq!(child.span_context.trace_id(), outer.span_context.trace_id());
    use opentelemetry::trace::TraceContextExt;
    assert_eq!(
        outer_context.span().span_context().span_id(),
        outer.span_context.span_id(),
        "SpanExt::context names the exported span"
    );
}

/// A field whose `Debug` logs and opens a span, as application code may.
struct Chatty;

impl std::fmt::Debug for Chatty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        tracing::info!("formatting a chatty value");
        let _inner = tracing::info_span!("inside_debug").entered();
        f.write_str("chatty")
    }
}

#[test]
fn field_values_that_log_while_formatted_do_not_deadlock() {
    let (layer, guard, spans) = in_memory();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("holder", value = tracing::field::Empty);
        let _entered = span.enter();
        span.record("value", tracing::field::debug(&Chatty));
        tracing::info!(value = ?Chatty, "an event with a chatty field");
    });
    guard.force_flush().expect("flush");
    let finished = spans.get_finished_spans().expect("spans");
    let holder = finished
        .iter()
        .find(|s| s.name == "holder")
        .expect("holder");
    assert!(holder
        .attributes
        .iter()
        .any(|kv| kv.key.as_str() == "value" && kv.value.as_str() == "chatty"));
    assert_eq!(holder.events.events.len(), 1, "{:?}", holder.events);
}

/// A pipeline exporting to an in-memory exporter given in code, and that exporter.
fn in_memory<S>() -> (
    impl tracing_subscriber::Layer<S>,
    Guard,
    opentelemetry_sdk::trace::InMemorySpanExporter,
)
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
{
    let spans = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let (layer, guard) = Config::builder()
        .without_env()
        .with_exporters([])
        .with_span_exporter(spans.clone())
        .with_log_format(LogFormat::None)
        .build()
        .expect("config")
        .layer()
        .expect("pipeline");
    (layer, guard, spans)
}
