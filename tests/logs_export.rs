//! Log records over the real OTLP wire: `tracing` events (and `log` records) inside `#[traced]` spans, exported
//! by `traced`'s pipeline over gRPC, HTTP protobuf and HTTP JSON to the in-process receiver, and through rotel.
//! Each test checks the record against the span exported beside it: body, severity, typed attributes, the span's
//! trace and span ids, the span attributes named in `TRACED_LOG_SPAN_ATTRIBUTES`, redaction, and the counts.

use std::time::{Duration, Instant};

use traced::config::{Config, ExporterKind, LogFormat, LogsExporterKind, Protocol, SamplerConfig};
use traced::traced;
use traced_test_support::proto::tonic::common::v1::any_value::Value;
use traced_test_support::{free_addr, rotel_agent, Fault, ReceivedLog, Receiver, Rotel, Signal};
use tracing_subscriber::layer::SubscriberExt;

/// Where a pipeline sends: the receiver's own endpoints, or rotel's.
struct Endpoints {
    traces: String,
    logs: String,
}

fn endpoints_of(receiver: &Receiver, protocol: Protocol) -> Endpoints {
    match protocol {
        Protocol::Grpc => Endpoints {
            traces: receiver.grpc_endpoint(),
            logs: receiver.grpc_endpoint(),
        },
        _ => Endpoints {
            traces: receiver.http_endpoint_of(Signal::Traces),
            logs: receiver.http_endpoint_of(Signal::Logs),
        },
    }
}

fn config(protocol: Protocol, endpoints: &Endpoints) -> Config {
    Config::builder()
        .without_env()
        .with_service_name("logs-test")
        .with_exporters([ExporterKind::Otlp])
        .with_protocol(protocol)
        .with_otlp_traces_endpoint(&endpoints.traces)
        .with_otlp_logs_endpoint(&endpoints.logs)
        .with_logs_batch_schedule_delay(Duration::from_millis(50))
        .with_log_span_attributes(["tenant.id"])
        .with_log_filter("info")
        .with_log_format(LogFormat::None)
        .build()
        .expect("test config")
}

#[traced]
fn work(items: u64) {
    tracing::info!(
        count = 3_i64,
        ratio = 0.5,
        ok = true,
        user.password = "hunter2",
        user.name = "ann",
        "did {items} things"
    );
    log::warn!(target: "legacy::db", "from the log crate");
}

/// Runs `body` under `config`'s pipeline (as `Config::layer` builds it, with `log` records forwarded) and shuts
/// it down, which must succeed; returns the final counters.
fn run(config: Config, body: impl FnOnce()) -> traced::Stats {
    run_in(Layout::Layer, config, body)
}

/// How the pipeline is installed: `Config::layer` in a registry, or the whole subscriber `Config::dispatch`
/// builds (without a log format: `traced`'s span subscriber, no registry).
#[derive(Clone, Copy)]
enum Layout {
    Layer,
    Dispatch,
    /// The whole subscriber printing the compact log format too: `init`'s default layout.
    DispatchCompact,
}

/// [`run`] in `layout`.
fn run_in(layout: Layout, config: Config, body: impl FnOnce()) -> traced::Stats {
    let (result, stats) = run_to_shutdown_in(layout, config, body);
    result.expect("shutdown");
    stats
}

/// [`run`], with the shutdown's result.
fn run_to_shutdown(
    config: Config,
    body: impl FnOnce(),
) -> (Result<(), traced::Error>, traced::Stats) {
    run_to_shutdown_in(Layout::Layer, config, body)
}

fn run_to_shutdown_in(
    layout: Layout,
    config: Config,
    body: impl FnOnce(),
) -> (Result<(), traced::Error>, traced::Stats) {
    let (dispatch, guard) = match layout {
        Layout::Layer => {
            let (layer, guard) = config.layer().expect("pipeline");
            let subscriber = tracing_subscriber::registry().with(layer);
            (tracing::Dispatch::new(subscriber), guard)
        }
        Layout::Dispatch => config.dispatch().expect("pipeline"),
        Layout::DispatchCompact => {
            let mut config = config;
            config.log_format = LogFormat::Compact;
            config.dispatch().expect("pipeline")
        }
    };
    // The `log` crate has one global logger; it forwards to the current dispatcher.
    let _ = tracing_log::LogTracer::init();
    tracing::dispatcher::with_default(&dispatch, body);
    guard.shutdown_with_stats()
}

fn one<'a>(records: &'a [ReceivedLog], body: &str) -> &'a ReceivedLog {
    let found: Vec<&ReceivedLog> = records
        .iter()
        .filter(|r| r.body.as_deref() == Some(body))
        .collect();
    assert_eq!(found.len(), 1, "one record {body:?} in {records:#?}");
    found[0]
}

fn exports_correlated_records(protocol: Protocol) {
    exports_correlated_records_in(Layout::Layer, protocol);
}

fn exports_correlated_records_in(layout: Layout, protocol: Protocol) {
    let receiver = Receiver::start();
    let config = config(protocol, &endpoints_of(&receiver, protocol));
    let stats = run_in(layout, config, || {
        tracing::info!("outside any span");
        let request = tracing::info_span!("request", tenant.id = "acme");
        let _request = request.enter();
        work(3);
    });
    let records = receiver.wait_for_logs(3, Duration::from_secs(10));
    assert_records(&receiver, &records, &stats);
}

/// What every transport must deliver.
fn assert_records(receiver: &Receiver, records: &[ReceivedLog], stats: &traced::Stats) {
    // Counts add up at shutdown: everything produced was exported.
    assert_eq!(records.len(), 3, "{records:#?}");
    assert_eq!(
        (
            stats.log_records_exported,
            stats.log_records_dropped,
            stats.log_records_failed
        ),
        (3, 0, 0)
    );
    receiver.wait_for(2, Duration::from_secs(10));
    let spans = receiver.spans();
    let span = spans
        .iter()
        .find(|s| s.name == "work")
        .expect("the work span");

    let record = one(records, "did 3 things");
    assert_eq!(
        (record.severity_number, record.severity_text.as_str()),
        (9, "INFO")
    );
    assert!(record.time_unix_nano > 0);
    assert_eq!(record.time_unix_nano, record.observed_time_unix_nano);
    assert_eq!(record.attribute("count"), Some(&Value::IntValue(3)));
    assert_eq!(record.attribute("ratio"), Some(&Value::DoubleValue(0.5)));
    assert_eq!(record.attribute("ok"), Some(&Value::BoolValue(true)));
    assert_eq!(record.attr("user.name"), Some("ann"));
    assert_eq!(record.attr("user.password"), Some("[REDACTED]"));
    assert_eq!(
        record.attr("tenant.id"),
        Some("acme"),
        "copied from the request span"
    );
    assert!(record
        .attr("code.file.path")
        .is_some_and(|path| path.ends_with("logs_export.rs")));
    assert!(matches!(record.attribute("code.line.number"), Some(Value::IntValue(n)) if *n > 0));
    assert_eq!(record.attr("log.target"), Some("logs_export"));
    assert_eq!(record.scope_name(), "logs_export");
    assert_eq!(
        record.trace_id, span.trace_id,
        "the trace of the span it was logged in"
    );
    assert_eq!(record.span_id, span.span_id, "the span it was logged in");
    assert_eq!(record.flags & 1, 1, "sampled");
    assert_eq!(record.resource_attr("service.name"), Some("logs-test"));
    assert_eq!(
        record.resource, span.resource,
        "the same resource as the spans"
    );

    let legacy = one(records, "from the log crate");
    assert_eq!(
        (legacy.severity_number, legacy.severity_text.as_str()),
        (13, "WARN")
    );
    assert_eq!(legacy.attr("log.target"), Some("legacy::db"));
    assert_eq!(legacy.scope_name(), "legacy");
    assert_eq!(legacy.trace_id, span.trace_id);
    assert_eq!(legacy.span_id, span.span_id);
    assert!(
        legacy.attribute("log.module_path").is_none(),
        "tracing-log's own fields are left out"
    );

    let outside = one(records, "outside any span");
    assert!(outside.trace_id.is_empty() && outside.span_id.is_empty());
    assert!(outside.attribute("tenant.id").is_none());
}

/// The same records through the whole subscriber (the span subscriber reads the spans, not a registry).
#[test]
fn records_through_the_whole_subscriber() {
    exports_correlated_records_in(Layout::Dispatch, Protocol::Grpc);
}

/// And beside the compact log format, which the same subscriber prints (the default layout of `init`).
#[test]
fn records_through_the_whole_subscriber_beside_the_compact_format() {
    exports_correlated_records_in(Layout::DispatchCompact, Protocol::Grpc);
}

#[test]
fn records_over_grpc() {
    exports_correlated_records(Protocol::Grpc);
}

#[test]
fn records_over_http_protobuf() {
    exports_correlated_records(Protocol::HttpProtobuf);
}

#[test]
fn records_over_http_json() {
    exports_correlated_records(Protocol::HttpJson);
}

fn through_rotel(protocol: Protocol) {
    let receiver = Receiver::start();
    let rotel = Rotel::start(&rotel_agent(), free_addr(), free_addr(), receiver.addr);
    let endpoints = match protocol {
        Protocol::Grpc => Endpoints {
            traces: format!("http://{}", rotel.grpc),
            logs: format!("http://{}", rotel.grpc),
        },
        _ => Endpoints {
            traces: format!("http://{}/v1/traces", rotel.http),
            logs: format!("http://{}/v1/logs", rotel.http),
        },
    };
    let stats = run(config(protocol, &endpoints), || {
        tracing::info!("outside any span");
        let request = tracing::info_span!("request", tenant.id = "acme");
        let _request = request.enter();
        work(3);
    });
    let records = receiver.wait_for_logs(3, Duration::from_secs(20));
    assert_records(&receiver, &records, &stats);
}

#[test]
fn records_through_rotel_over_grpc() {
    through_rotel(Protocol::Grpc);
}

#[test]
fn records_through_rotel_over_http() {
    through_rotel(Protocol::HttpProtobuf);
}

#[traced]
fn dropped() {
    tracing::info!("in a dropped trace");
}

#[test]
fn records_of_a_dropped_trace_carry_its_ids_not_sampled() {
    let receiver = Receiver::start();
    let mut config = config(Protocol::Grpc, &endpoints_of(&receiver, Protocol::Grpc));
    config.sampler = SamplerConfig::AlwaysOff;
    run(config, dropped);
    let records = receiver.wait_for_logs(1, Duration::from_secs(10));
    let record = one(&records, "in a dropped trace");
    assert_eq!(record.trace_id.len(), 16, "the dropped trace's id");
    assert!(record.trace_id.iter().any(|b| *b != 0));
    assert_eq!(record.span_id.len(), 8);
    assert_eq!(record.flags & 1, 0, "not sampled");
    assert!(
        receiver.spans().is_empty(),
        "nothing of a dropped trace is exported"
    );
}

#[test]
fn the_pipelines_own_logs_are_never_exported() {
    // A collector that refuses everything: the export errors are logged (target traced_export), and the
    // transports log too; none of it may come back as a record.
    let receiver = Receiver::start();
    receiver.fail(Fault::Status(400, None), 2);
    let config = Config {
        log_filter: "trace".into(),
        ..config(
            Protocol::HttpProtobuf,
            &endpoints_of(&receiver, Protocol::HttpProtobuf),
        )
    };
    run(config, || {
        tracing::info!("first");
        std::thread::sleep(Duration::from_millis(300));
        tracing::info!("second");
        std::thread::sleep(Duration::from_millis(300));
        tracing::info!("third");
    });
    let records = receiver.wait_for_logs(1, Duration::from_secs(5));
    let targets: Vec<&str> = records
        .iter()
        .filter_map(|r| r.attr("log.target"))
        .collect();
    assert!(!targets.is_empty());
    assert!(
        targets.iter().all(|t| *t == "logs_export"),
        "only the application's records: {targets:?}"
    );
}

/// Runs `events` events in a span through a pipeline whose logs go to `logs`; returns the time the caller
/// spent and the final counters.
fn timed_events(logs: &str, events: u64) -> (Duration, traced::Stats) {
    let config = Config::builder()
        .without_env()
        .with_exporters([])
        .with_logs_exporters([LogsExporterKind::Otlp])
        .with_protocol(Protocol::HttpProtobuf)
        .with_otlp_logs_endpoint(logs)
        .with_logs_batch_schedule_delay(Duration::from_millis(20))
        .with_logs_batch_export_timeout(Duration::from_millis(500))
        .with_log_format(LogFormat::None)
        .build()
        .expect("config");
    let mut spent = Duration::ZERO;
    // With a dead collector the shutdown reports the failed exports; the counters say how many.
    let (_, stats) = run_to_shutdown(config, || {
        let start = Instant::now();
        for i in 0..events {
            tracing::info!(i, "event");
        }
        spent = start.elapsed();
    });
    (spent, stats)
}

#[test]
fn a_dead_collector_neither_blocks_nor_slows_the_caller() {
    const EVENTS: u64 = 20_000;
    let live = Receiver::start();
    let (live_time, live_stats) = timed_events(&live.http_endpoint_of(Signal::Logs), EVENTS);
    // Nobody listens there: every export fails, retries until its deadline, and the queue overflows.
    let dead = format!("http://{}/v1/logs", free_addr());
    let started = Instant::now();
    let (dead_time, dead_stats) = timed_events(&dead, EVENTS);
    let whole = started.elapsed();
    let accounted =
        |s: &traced::Stats| s.log_records_exported + s.log_records_dropped + s.log_records_failed;
    assert_eq!(accounted(&live_stats), EVENTS, "{live_stats:?}");
    assert_eq!(
        accounted(&dead_stats),
        EVENTS,
        "every record counted: {dead_stats:?}"
    );
    assert_eq!(dead_stats.log_records_exported, 0);
    assert!(dead_stats.log_records_failed > 0);
    // The ratio, measured in this run: the caller is not slowed by the dead collector.
    assert!(
        dead_time < live_time * 3 + Duration::from_millis(50),
        "dead collector {dead_time:?} vs live {live_time:?}"
    );
    // Not blocked either: shutdown is bounded by the export timeout.
    assert!(whole < dead_time + Duration::from_secs(3), "{whole:?}");
}
