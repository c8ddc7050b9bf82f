//! The export pipeline against in-process OTLP receivers, over gRPC and HTTP, on a multi-thread runtime, a
//! current-thread runtime and no runtime. `Config::layer` with a thread-local subscriber keeps the tests
//! independent of global state.

use std::time::{Duration, Instant};

use traced_runtime::config::{Config, LogFormat, Protocol, SamplerConfig};
use traced_runtime::Guard;
use traced_test_support::proto::tonic::common::v1::any_value::Value;
use traced_test_support::{Fault, Receiver};
use tracing_subscriber::layer::SubscriberExt;

const SPANS: usize = 1_000;

fn config(endpoint: String, protocol: Protocol) -> Config {
    let mut config = Config {
        service_name: Some("pipeline-test".into()),
        service_version: Some("9.9.9".into()),
        resource_attributes: vec![("team".into(), "tracing".into())],
        log_format: LogFormat::None,
        // No log record export here: the logs_* tests cover it.
        logs: traced_runtime::config::LogsConfig {
            exporters: Vec::new(),
            ..Default::default()
        },
        // Nor metrics: the metrics_* tests cover them.
        metrics: traced_runtime::config::MetricsConfig {
            exporters: Vec::new(),
            ..Default::default()
        },
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
    let spans = receiver.spans();
    assert_eq!(spans.len(), SPANS, "stats before drop: {stats_before:?}");
    let first = &spans[0];
    assert_eq!(first.name, "work");
    // The span's origin first, over the wire as from the span layer: the thread (this one made the spans) and
    // the target.
    let thread_name = std::thread::current().name().map(str::to_owned);
    let mut keys = vec!["thread.id"];
    keys.extend(thread_name.as_ref().map(|_| "thread.name"));
    keys.push("target");
    let first_keys: Vec<&str> = first.attributes[..keys.len()]
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(first_keys, keys);
    assert!(matches!(first.attribute("thread.id"), Some(Value::IntValue(id)) if *id > 0));
    assert_eq!(first.attr("thread.name"), thread_name.as_deref());
    assert_eq!(first.attr("target"), Some("pipeline_export"));
    assert_eq!(first.resource_attr("service.name"), Some("pipeline-test"));
    assert_eq!(first.resource_attr("service.version"), Some("9.9.9"));
    assert_eq!(first.resource_attr("team"), Some("tracing"));
    assert_eq!(first.resource_attr("telemetry.sdk.language"), Some("rust"));
    assert_eq!(
        first.resource_attribute("process.pid"),
        Some(&Value::IntValue(std::process::id().into()))
    );
    assert!(first.resource_attr("host.name").is_some());
}

fn grpc() -> (Receiver, Config) {
    let receiver = Receiver::start();
    let config = config(receiver.grpc_endpoint(), Protocol::Grpc);
    (receiver, config)
}

fn http_protobuf() -> (Receiver, Config) {
    let receiver = Receiver::start();
    let config = config(receiver.http_endpoint(), Protocol::HttpProtobuf);
    (receiver, config)
}

fn http_json() -> (Receiver, Config) {
    let receiver = Receiver::start();
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
    assert_eq!(receiver.last_header("x-tenant").as_deref(), Some("acme"));
}

#[test]
fn http_sends_headers() {
    let (receiver, mut config) = http_protobuf();
    config.otlp.headers = vec![("x-tenant".into(), "acme".into())];
    let guard = emit(config, 10);
    guard.shutdown().unwrap();
    assert_eq!(receiver.span_count(), 10);
    assert_eq!(receiver.last_header("x-tenant").as_deref(), Some("acme"));
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
    assert_eq!(receiver.span_count(), 20);
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
    assert_eq!(receiver.span_count(), SPANS);
    guard.shutdown().unwrap();
}

#[test]
fn full_batches_are_exported_before_the_schedule_delay() {
    let (receiver, mut config) = grpc();
    config.batch.max_export_batch_size = 10;
    let guard = emit(config, 50);
    // The schedule delay is a minute: only full batches explain an early arrival.
    assert_eq!(receiver.wait_for(50, Duration::from_secs(10)), 50);
    guard.shutdown().unwrap();
}

#[test]
fn schedule_delay_flushes_a_partial_batch() {
    let (receiver, mut config) = grpc();
    config.batch.schedule_delay = Duration::from_millis(100);
    let guard = emit(config, 3);
    assert_eq!(receiver.wait_for(3, Duration::from_secs(10)), 3);
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
    let sampled = receiver.span_count();
    assert!(
        (836..=1164).contains(&sampled),
        "{sampled} of {TRACES} sampled"
    );
    let mut trace_ids: Vec<_> = receiver.spans().into_iter().map(|s| s.trace_id).collect();
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
    assert_eq!(receiver.span_count(), 0);
}

/// A receiver that accepts connections and never answers, and a configuration exporting to it.
fn silent(protocol: Protocol) -> (Receiver, Config) {
    let hole = Receiver::start();
    hole.fail(Fault::BlackHole, usize::MAX);
    let endpoint = match protocol {
        Protocol::Grpc => hole.grpc_endpoint(),
        _ => hole.http_endpoint(),
    };
    let mut config = config(endpoint, protocol);
    config.batch.export_timeout = Duration::from_millis(500);
    config.otlp.timeout = Duration::from_secs(30);
    (hole, config)
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
    let (_hole, config) = silent(Protocol::Grpc);
    assert_export_timeout_enforced(config);
}

#[test]
fn http_export_timeout_is_enforced() {
    let (_hole, config) = silent(Protocol::HttpProtobuf);
    assert_export_timeout_enforced(config);
}

/// TLS is set up (roots, crypto provider) without panicking the export thread: the handshake with a silent
/// server times out like any other export.
#[test]
fn https_endpoints_time_out_cleanly() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let (_hole, mut config) = silent(protocol);
        config.otlp.endpoint = config.otlp.endpoint.replace("http://", "https://");
        assert_export_timeout_enforced(config);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn drop_against_a_silent_receiver_is_bounded_on_current_thread_runtime() {
    let (_hole, config) = silent(Protocol::Grpc);
    let guard = emit(config, 5);
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
    let (_hole, mut config) = silent(Protocol::Grpc);
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
    assert_eq!(receiver.span_count(), 0);
}

#[test]
fn no_exporter_starts_nothing() {
    let (receiver, mut config) = grpc();
    config.exporters.clear();
    let guard = emit(config, 10);
    guard.shutdown().unwrap();
    assert_eq!(receiver.span_count(), 0);
}

#[cfg(feature = "zipkin")]
#[test]
fn zipkin_exports_with_the_service_name() {
    let receiver = Receiver::start();
    let mut config = config(String::new(), Protocol::HttpProtobuf);
    config.exporters = vec![traced_runtime::config::ExporterKind::Zipkin];
    config.zipkin_endpoint = receiver.zipkin_endpoint();
    let guard = emit(config, 10);
    guard.shutdown().unwrap();
    let spans = receiver.spans();
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
        .with_logs_exporters([])
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
        .with_logs_exporters([])
        .with_span_exporter(spans.clone())
        .with_log_format(LogFormat::None)
        .build()
        .expect("config")
        .layer()
        .expect("pipeline");
    (layer, guard, spans)
}

/// A span exporter given in code on a builder that names no exporter replaces the default `otlp`: nothing goes
/// to `localhost:4318`, nothing fails, and the stats list it alone. Named exporters keep it beside them.
#[test]
fn a_span_exporter_given_in_code_replaces_the_default_exporter() {
    let spans = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let config = Config::builder()
        .without_env()
        .with_span_exporter(spans.clone())
        .with_log_format(LogFormat::None)
        .build()
        .expect("config");
    assert!(config.exporters.is_empty(), "{:?}", config.exporters);
    let guard = emit(config, 100);
    guard
        .force_flush()
        .expect("flush: no OTLP exporter to fail");
    let (result, stats) = guard.shutdown_with_stats();
    result.expect("shutdown");
    let names: Vec<&str> = stats.exporters.iter().map(|e| e.name).collect();
    assert_eq!(names, ["custom"], "{stats:?}");
    assert_eq!((stats.exported, stats.failed), (100, 0), "{stats:?}");

    // Named in code (or by OTEL_TRACES_EXPORTER, or YAML), the exporters run beside it.
    let receiver = Receiver::start();
    let config = Config::builder()
        .without_env()
        .with_exporter(traced_runtime::config::ExporterKind::Otlp)
        .with_protocol(Protocol::Grpc)
        .with_otlp_endpoint(receiver.grpc_endpoint())
        .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default())
        .with_log_format(LogFormat::None)
        .build()
        .expect("config");
    let (_, stats) = emit(config, 100).shutdown_with_stats();
    let names: Vec<&str> = stats.exporters.iter().map(|e| e.name).collect();
    assert_eq!(names, ["otlp", "custom"], "{stats:?}");
    assert_eq!(stats.exported, 100, "{stats:?}");
    assert_eq!(receiver.span_count(), 100);
}

/// Collector credentials in the endpoint URL and header values never appear in an export error, in
/// `Stats::last_error`, or in an error building the exporter.
#[test]
fn credentials_and_header_values_are_never_printed() {
    const SECRET: &str = "s3cr3t-pa55";
    let dead = traced_test_support::free_addr();
    for (protocol, endpoint) in [
        (Protocol::Grpc, format!("http://collector:{SECRET}@{dead}")),
        (
            Protocol::HttpProtobuf,
            format!("http://collector:{SECRET}@{dead}/v1/traces"),
        ),
    ] {
        let mut config = config(endpoint, protocol);
        config.batch.export_timeout = Duration::from_millis(300);
        config.batch.schedule_delay = Duration::from_millis(20);
        let guard = emit(config, 10);
        let start = Instant::now();
        while guard.stats().failed < 10 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (_, stats) = guard.shutdown_with_stats();
        let error = stats.last_error.expect("the export failed");
        eprintln!("{protocol:?}: {error}");
        assert!(error.contains(&dead.to_string()), "{error}");
        assert!(!error.contains(SECRET), "{error}");
    }
    // A header value the transport refuses: named by its key, its value not shown.
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let mut config = config(format!("http://{dead}"), protocol);
        config.otlp.headers = vec![("authorization".into(), format!("Bearer {SECRET}\n"))];
        let Err(error) = config.layer::<tracing_subscriber::Registry>() else {
            panic!("an invalid header value was accepted");
        };
        let message = error.to_string();
        assert!(message.contains("authorization"), "{message}");
        assert!(!message.contains(SECRET), "{message}");
        // The endpoint too is printed without its credentials.
        let mut config = config_with_bad_endpoint(protocol, SECRET);
        config.otlp.headers.clear();
        let message = match config.layer::<tracing_subscriber::Registry>() {
            Err(error) => error.to_string(),
            Ok(_) => panic!("an invalid endpoint was accepted"),
        };
        assert!(!message.contains(SECRET), "{message}");
    }
}

/// An endpoint with credentials that the transport cannot use (a space in the host).
fn config_with_bad_endpoint(protocol: Protocol, secret: &str) -> Config {
    config(
        format!("http://user:{secret}@bad host:4318/v1/traces"),
        protocol,
    )
}

#[traced::traced(args(n))]
fn instrumented(n: i64) -> i64 {
    n + 1
}

/// `Config::dispatch`: the subscriber `init` installs, used in a scope. With a log format and without, every span
/// arrives, a transport's span does not, and the application's event inside it is on the span around it; a
/// `#[traced]` span carries its `code.*` attributes (without a log format they reach the layer from the site, not
/// as field values).
fn dispatch_exports_like_init(log_format: LogFormat) {
    let (receiver, mut config) = grpc();
    config.log_format = log_format;
    config.log_filter = "info".into();
    let (dispatch, guard) = config.dispatch().expect("pipeline");
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..SPANS {
            if i == SPANS - 1 {
                // The last span is a `#[traced]` fn's.
                assert_eq!(instrumented(41), 42);
                continue;
            }
            let span = tracing::info_span!("work", i);
            let _entered = span.enter();
            if i == 0 {
                tracing::info_span!(target: "hyper::client", "internal").in_scope(|| {
                    tracing::info!("inside a transport's span");
                    tracing::info!(target: "h2::codec", "a transport's event");
                });
            }
        }
    });
    assert_all_arrived(&receiver, guard);
    let spans = receiver.spans();
    let traced = spans
        .iter()
        .find(|s| s.name == "instrumented")
        .expect("the #[traced] span");
    let text = |key| match traced.attribute(key) {
        Some(Value::StringValue(text)) => text.clone(),
        other => panic!("{log_format:?}: {key} is {other:?}"),
    };
    assert!(
        text("code.function.name").ends_with("::instrumented"),
        "{log_format:?}"
    );
    assert!(
        text("code.file.path").ends_with("pipeline_export.rs"),
        "{log_format:?}"
    );
    for key in ["code.line.number", "code.column.number"] {
        assert!(
            matches!(traced.attribute(key), Some(Value::IntValue(n)) if *n > 0),
            "{log_format:?}: {key}"
        );
    }
    assert_eq!(
        traced.attribute("n"),
        Some(&Value::IntValue(41)),
        "{log_format:?}"
    );
    let first = spans
        .iter()
        .find(|s| s.attribute("i") == Some(&Value::IntValue(0)))
        .expect("the first span");
    let events: Vec<&str> = first.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["inside a transport's span"], "{log_format:?}");
}

#[test]
fn dispatch_without_a_log_format() {
    dispatch_exports_like_init(LogFormat::None);
}

#[test]
fn dispatch_beside_a_log_format() {
    dispatch_exports_like_init(LogFormat::Compact);
}

#[test]
fn disabled_dispatch_is_none() {
    let (receiver, mut config) = grpc();
    config.disabled = true;
    let (dispatch, guard) = config.dispatch().expect("disabled");
    assert!(dispatch.is::<tracing_core::subscriber::NoSubscriber>());
    assert!(guard.is_disabled());
    tracing::dispatcher::with_default(&dispatch, || {
        let _span = tracing::info_span!("work").entered();
    });
    guard.shutdown().unwrap();
    assert_eq!(receiver.span_count(), 0);
}
