//! The Prometheus endpoint: text 0.0.4 and OpenMetrics (with exemplars) by `Accept`, and a real Prometheus that
//! scrapes it, whose HTTP API returns the error count of a fn and an exemplar naming a trace this test exported.

mod metrics_support;

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metrics_support::{checkout, hex, http_get, url_encode, Prometheus};
use traced::config::{Config, ExporterKind, LogFormat, MetricsExporterKind, SamplerConfig};
use traced_test_support::Receiver;

const CALLS: u32 = 28;

#[test]
fn prometheus_reads_the_error_count_and_its_exemplar() {
    let receiver = Receiver::start();
    let guard = Config::builder()
        .without_env()
        .with_service_name("metrics-prometheus")
        .with_exporters([ExporterKind::Otlp])
        .with_otlp_traces_endpoint(receiver.http_endpoint())
        .with_metrics_exporters([MetricsExporterKind::Prometheus])
        .with_prometheus_host("127.0.0.1")
        .with_prometheus_port(0)
        .with_sampler(SamplerConfig::AlwaysOn)
        .with_logs_exporters([])
        .with_log_format(LogFormat::None)
        .build()
        .unwrap()
        .init()
        .unwrap();
    let endpoint = guard.prometheus_addr().expect("the endpoint listens");
    for order in 0..CALLS {
        let _ = checkout(order);
    }
    guard.force_flush().unwrap();
    let exported: HashSet<String> = receiver
        .spans()
        .iter()
        .filter(|s| s.name == "checkout")
        .map(|s| hex(&s.trace_id))
        .collect();
    assert_eq!(exported.len(), CALLS as usize);

    // The text format: no exemplars, `_total` on the TYPE line.
    let (code, head, text) = http_get(endpoint, "/metrics", "text/plain");
    assert_eq!(code, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(
        text.contains("# TYPE function_calls_total counter"),
        "{text}"
    );
    assert!(
        text.contains("function_calls_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(!text.contains("trace_id"), "{text}");
    // OpenMetrics: exemplars on the error series and in the buckets, `# EOF` at the end.
    let (code, head, open) = http_get(
        endpoint,
        "/metrics",
        "application/openmetrics-text;version=1.0.0",
    );
    assert_eq!(code, 200);
    assert!(
        head.contains("application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(open.ends_with("# EOF\n"), "{open}");
    let error_line = open
        .lines()
        .find(|l| {
            l.starts_with("function_calls_total{")
                && l.contains("function=\"checkout\"")
                && l.contains("result=\"error\"")
        })
        .expect("the error series");
    assert!(
        error_line.contains(&format!("}} {} # {{trace_id=\"", CALLS / 4)),
        "{error_line}"
    );
    assert_eq!(http_get(endpoint, "/nothing", "*/*").0, 404);

    // A real Prometheus scraping it.
    let prometheus = Prometheus::start(endpoint);
    let query = url_encode("function_calls_total{function=\"checkout\",result=\"error\"}");
    let start = Instant::now();
    let value = loop {
        let answer = prometheus.api("query", &format!("query={query}"));
        let value = answer["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_owned);
        if value.is_some() || start.elapsed() > Duration::from_secs(60) {
            break value;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(value.as_deref(), Some(&*(CALLS / 4).to_string()));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let range = format!("query={query}&start={}&end={}", now - 600, now + 60);
    let start = Instant::now();
    let trace_ids: Vec<String> = loop {
        let answer = prometheus.api("query_exemplars", &range);
        let ids: Vec<String> = answer["data"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["labels"]["trace_id"].as_str().map(str::to_owned))
            .collect();
        if !ids.is_empty() || start.elapsed() > Duration::from_secs(60) {
            break ids;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(!trace_ids.is_empty(), "Prometheus stored an exemplar");
    assert!(
        trace_ids.iter().all(|id| exported.contains(id)),
        "{trace_ids:?} not in {exported:?}"
    );
    guard.shutdown().unwrap();
}
