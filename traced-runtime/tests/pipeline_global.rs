//! The global path (`Config::init`, `init`, `try_init`) in child processes, since a process has one global
//! subscriber: this test binary re-runs itself with `TRACED_CHILD` set, and the `child` test plays the
//! application.

use std::process::{Command, Output};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use traced_runtime::config::{Config, LogFormat, Protocol};
use traced_runtime::Error;
use traced_test_support::{free_addr, Receiver};

const CHILD_SPANS: usize = 200;

/// Runs the `child` test of this binary with `env`.
fn run_child(env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", "child", "--nocapture", "--test-threads=1"]);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The application side: what `TRACED_CHILD` says.
#[test]
fn child() {
    let Ok(mode) = std::env::var("TRACED_CHILD") else {
        return;
    };
    match mode.as_str() {
        "export" => child_export(),
        "disabled" => child_disabled(),
        "errors" => child_errors(),
        "reinit" => child_reinit(),
        other => panic!("unknown child mode {other}"),
    }
}

fn child_config() -> Config {
    let mut config = Config {
        service_name: Some("global-test".into()),
        // With a log format the OpenTelemetry layers filter themselves; without one, the subscriber's global
        // filter does: both must export the same spans and span events.
        log_format: match std::env::var("TRACED_CHILD_LOG_FORMAT").as_deref() {
            Ok("none") => LogFormat::None,
            _ => LogFormat::Json,
        },
        log_filter: "info".into(),
        // No log record export here: the logs_* tests cover it.
        logs: traced_runtime::config::LogsConfig {
            exporters: Vec::new(),
            ..Default::default()
        },
        ..Config::default()
    };
    config.otlp.endpoint = std::env::var("TRACED_CHILD_ENDPOINT").unwrap();
    config.otlp.protocol = match std::env::var("TRACED_CHILD_PROTOCOL").unwrap().as_str() {
        "grpc" => Protocol::Grpc,
        "http/json" => Protocol::HttpJson,
        _ => Protocol::HttpProtobuf,
    };
    config.batch.schedule_delay = Duration::from_secs(60);
    config
}

fn emit_spans() {
    for i in 0..CHILD_SPANS {
        let span = tracing::info_span!("global_work", i);
        let _entered = span.enter();
        if i == 0 {
            tracing::info!(answer = 42, "inside the first span");
            // A transport's span inside: not exported, and what the application logs in it still belongs to
            // this span; the transport's own events do not.
            tracing::info_span!(target: "hyper::client", "internal_inner").in_scope(|| {
                tracing::info!("inside a transport's span");
                tracing::info!(target: "h2::codec", "a transport's event");
            });
        }
    }
    // The transports' own spans must never be exported.
    let internal = tracing::info_span!(target: "hyper::client", "internal_span");
    drop(internal.enter());
}

fn child_export() {
    let guard = child_config().init().expect("init");
    assert!(matches!(
        child_config().init(),
        Err(Error::AlreadyInitialized)
    ));
    assert!(matches!(
        traced_runtime::try_init(),
        Err(Error::AlreadyInitialized)
    ));
    match std::env::var("TRACED_CHILD_RUNTIME").as_deref() {
        Ok("current") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                emit_spans();
                // Dropped inside a current-thread runtime, with no block_on of ours.
                drop(guard);
            }),
        Ok("multi") => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                tokio::spawn(async { emit_spans() }).await.unwrap();
                drop(guard);
            }),
        _ => {
            emit_spans();
            drop(guard);
        }
    }
}

fn child_disabled() {
    // `OTEL_SDK_DISABLED=true` is in the environment.
    let guard = traced_runtime::init().expect("init");
    assert!(guard.is_disabled());
    assert!(
        !tracing::dispatcher::has_been_set(),
        "a disabled SDK installs nothing"
    );
    emit_spans();
    guard.shutdown().unwrap();
}

fn child_errors() {
    let mut config = child_config();
    config.batch.schedule_delay = Duration::from_millis(10);
    config.batch.export_timeout = Duration::from_millis(300);
    let guard = config.init().expect("init");
    for _ in 0..30 {
        emit_spans();
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = guard.stats();
    assert!(stats.failed > 0, "{stats:?}");
    assert!(!guard.healthy());
    drop(guard);
}

/// `init` again once the first guard is gone: a new pipeline behind the installed subscriber, with the new
/// configuration's resource; while it runs, a third `init` is refused.
fn child_reinit() {
    let guard = child_config().init().expect("init");
    for i in 0..50 {
        let _span = tracing::info_span!("first", i).entered();
    }
    drop(guard);
    // Dropped after the guard: counted nowhere, exported nowhere.
    let _late = tracing::info_span!("between", i = 0).entered();
    drop(_late);
    let mut config = child_config();
    config.service_name = Some("second-init".into());
    let guard = config
        .init()
        .expect("a second init after the guard was dropped");
    assert!(matches!(
        child_config().init(),
        Err(Error::AlreadyInitialized)
    ));
    for i in 0..50 {
        let _span = tracing::info_span!("second", i).entered();
    }
    let (result, stats) = guard.shutdown_with_stats();
    result.expect("shutdown");
    assert_eq!(
        (stats.exported, stats.dropped, stats.failed),
        (50, 0, 0),
        "{stats:?}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_export(protocol: &str, runtime: &str) {
    check_export_with(protocol, runtime, "json");
}

fn check_export_with(protocol: &str, runtime: &str, log_format: &str) {
    let receiver = Receiver::start();
    let endpoint = if protocol == "grpc" {
        receiver.grpc_endpoint()
    } else {
        receiver.http_endpoint()
    };
    let output = run_child(&[
        ("TRACED_CHILD", "export"),
        ("TRACED_CHILD_ENDPOINT", &endpoint),
        ("TRACED_CHILD_PROTOCOL", protocol),
        ("TRACED_CHILD_RUNTIME", runtime),
        ("TRACED_CHILD_LOG_FORMAT", log_format),
    ]);
    let spans = receiver.spans();
    assert_eq!(spans.len(), CHILD_SPANS, "{protocol} on {runtime}");
    assert!(
        spans.iter().all(|s| s.name == "global_work"),
        "internal spans leaked"
    );
    assert_eq!(spans[0].resource_attr("service.name"), Some("global-test"));
    let first = spans
        .iter()
        .find(|s| s.attribute("i") == Some(&Value::IntValue(0)))
        .expect("the first span");
    let events: Vec<&str> = first.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        events,
        ["inside the first span", "inside a transport's span"],
        "{log_format}"
    );
    if log_format == "none" {
        return;
    }

    // The JSON log line of the event carries the ids of the exported span.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "inside the first span")
        .unwrap_or_else(|| panic!("no JSON line in:\n{stderr}"));
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["answer"], 42);
    assert_eq!(line["span"], "global_work");
    let trace_id = line["trace_id"].as_str().expect("trace_id");
    assert_eq!(trace_id.len(), 32);
    assert_eq!(line["span_id"].as_str().map(str::len), Some(16));
    assert!(
        spans.iter().any(|s| hex(&s.trace_id) == trace_id),
        "trace_id {trace_id} of the log line was not exported"
    );
}

#[test]
fn grpc_global_without_runtime() {
    check_export("grpc", "none");
}

#[test]
fn grpc_global_on_current_thread_runtime() {
    check_export("grpc", "current");
}

#[test]
fn grpc_global_on_multi_thread_runtime() {
    check_export("grpc", "multi");
}

#[test]
fn grpc_global_without_log_lines() {
    check_export_with("grpc", "multi", "none");
}

#[test]
fn http_global_on_current_thread_runtime() {
    check_export("http/protobuf", "current");
}

#[test]
fn sdk_disabled_installs_nothing() {
    let receiver = Receiver::start();
    run_child(&[
        ("TRACED_CHILD", "disabled"),
        ("OTEL_SDK_DISABLED", "TRUE"),
        ("TRACED_CHILD_ENDPOINT", &receiver.grpc_endpoint()),
    ]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(receiver.span_count(), 0);
}

#[test]
fn init_works_again_after_the_guard_was_dropped() {
    let receiver = Receiver::start();
    run_child(&[
        ("TRACED_CHILD", "reinit"),
        ("TRACED_CHILD_ENDPOINT", &receiver.grpc_endpoint()),
        ("TRACED_CHILD_PROTOCOL", "grpc"),
    ]);
    let spans = receiver.spans();
    let of = |name: &str| spans.iter().filter(|s| s.name == name).collect::<Vec<_>>();
    assert_eq!(of("first").len(), 50);
    assert_eq!(of("second").len(), 50);
    assert_eq!(of("between").len(), 0);
    assert!(of("first")
        .iter()
        .all(|s| s.resource_attr("service.name") == Some("global-test")));
    assert!(of("second")
        .iter()
        .all(|s| s.resource_attr("service.name") == Some("second-init")));
}

#[test]
fn export_errors_are_logged_once_per_interval() {
    // A port nobody listens on: every export fails fast. The URL carries credentials, which no line may print.
    let endpoint = format!("http://collector:s3cr3t@{}/v1/traces", free_addr());
    let output = run_child(&[
        ("TRACED_CHILD", "errors"),
        ("TRACED_CHILD_ENDPOINT", &endpoint),
        ("TRACED_CHILD_PROTOCOL", "http/protobuf"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reports = stderr
        .lines()
        .filter(|l| l.contains("span export failed"))
        .count();
    assert!(
        (1..=2).contains(&reports),
        "{reports} error lines:\n{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"), "credentials printed:\n{stderr}");
}
