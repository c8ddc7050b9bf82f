//! What reaches the function metrics: `span!` blocks, async fns and their callers, panics, `metrics(off)`,
//! objectives; and what turns them off (`with_function_metrics(false)`, `OTEL_SDK_DISABLED`).

mod metrics_support;

use metrics_support::http_get;
use traced::config::{Config, LogFormat, MetricsExporterKind};
use traced::traced;

#[traced(objective(
    name = "api",
    success = 99.9,
    latency_ms = 250,
    latency_percentile = 99
))]
fn handle() -> Result<(), std::io::Error> {
    quiet();
    Ok(())
}

#[traced(metrics(off))]
fn quiet() {}

#[traced]
async fn fetch(id: u32) -> u32 {
    lookup(id).await
}

#[traced]
async fn lookup(id: u32) -> u32 {
    tokio::task::yield_now().await;
    id + 1
}

#[traced]
fn explode() {
    panic!("boom");
}

fn install(functions: bool) -> traced::Guard {
    Config::builder()
        .without_env()
        .with_exporters([])
        .with_metrics_exporters([MetricsExporterKind::Prometheus])
        .with_prometheus_host("127.0.0.1")
        .with_prometheus_port(0)
        .with_function_metrics(functions)
        .with_logs_exporters([])
        .with_log_format(LogFormat::None)
        .build()
        .unwrap()
        .init()
        .unwrap()
}

fn scrape(guard: &traced::Guard) -> String {
    http_get(guard.prometheus_addr().unwrap(), "/metrics", "text/plain").2
}

/// The value of the first sample line with every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn blocks_async_fns_panics_objectives_and_opt_outs() {
    let guard = install(true);
    for _ in 0..3 {
        handle().unwrap();
    }
    let charged: Result<u32, std::io::Error> = traced::span!("charge_block"; { Ok(1) });
    assert!(charged.is_ok());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(fetch(1)), 2);
    assert!(std::panic::catch_unwind(explode).is_err());
    let text = scrape(&guard);

    let calls = "function_calls_total";
    assert_eq!(
        sample(
            &text,
            calls,
            &[
                "function=\"handle\"",
                "result=\"ok\"",
                "objective_name=\"api\"",
                "objective_percentile=\"99.9\""
            ]
        ),
        Some(3.0),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("function_calls_duration_seconds_count{")
                && l.contains("function=\"handle\"")
                && l.contains("objective_percentile=\"99\"")
                && l.contains("objective_latency_threshold=\"0.25\"")),
        "{text}"
    );
    assert!(!text.contains("function=\"quiet\""), "metrics(off): {text}");
    assert_eq!(
        sample(
            &text,
            calls,
            &["function=\"charge_block\"", "result=\"ok\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            calls,
            &[
                "function=\"lookup\"",
                "caller_function=\"fetch\"",
                "caller_module=\"metrics_options\""
            ]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            calls,
            &[
                "function=\"explode\"",
                "result=\"error\"",
                "error_type=\"panic\""
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "function_calls_concurrent", &["function=\"fetch\""]),
        Some(0.0)
    );
    assert!(text.contains("service_name=\""), "{text}");
    assert!(text.contains("build_info{"), "{text}");
    guard.shutdown().unwrap();
}

#[test]
fn function_metrics_can_be_left_out() {
    let guard = install(false);
    handle().unwrap();
    let text = scrape(&guard);
    assert!(!text.contains("function_calls"), "{text}");
    assert!(
        text.contains("build_info{"),
        "the endpoint still serves: {text}"
    );
    guard.shutdown().unwrap();
}

#[test]
fn sdk_disabled_turns_metrics_off() {
    let config = Config::from_lookup(|name| match name {
        "OTEL_SDK_DISABLED" => Some("true".into()),
        "OTEL_METRICS_EXPORTER" => Some("prometheus".into()),
        _ => None,
    })
    .unwrap();
    let guard = config.init().unwrap();
    assert!(guard.is_disabled());
    assert!(guard.prometheus_addr().is_none());
    handle().unwrap();
    assert_eq!(guard.stats().metric_exports, 0);
}
