//! Function metrics over the real OTLP wire: gRPC, HTTP protobuf and HTTP JSON, to the in-process receiver and
//! through rotel. Counts, bucket sums and exemplars are checked against the spans the same test exported.

mod metrics_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use metrics_support::{attr, checkout, exemplar_trace_ids, hex, histogram_points, int, sum_points};
use traced::config::{
    Config, ExporterKind, LogFormat, MetricsExporterKind, Protocol, SamplerConfig,
};
use traced::metrics::names::{
    CALLER_FUNCTION, CALLER_MODULE, FUNCTION, FUNCTION_CALLS, FUNCTION_CALLS_CONCURRENT,
    FUNCTION_CALLS_DURATION, MODULE, RESULT,
};
use traced_test_support::{free_addr, rotel_agent, Receiver, Rotel};

const CALLS: u32 = 40;

/// Endpoints of the traces and the metrics for `protocol` at `grpc` / `http`.
fn endpoints(protocol: Protocol, grpc: String, http: String) -> (String, String) {
    match protocol {
        Protocol::Grpc => (grpc.clone(), grpc),
        _ => (format!("{http}/v1/traces"), format!("{http}/v1/metrics")),
    }
}

fn export(protocol: Protocol, through_rotel: bool) {
    let receiver = Receiver::start();
    let rotel = through_rotel
        .then(|| Rotel::start(&rotel_agent(), free_addr(), free_addr(), receiver.addr));
    let (grpc, http) = match &rotel {
        Some(rotel) => (
            format!("http://{}", rotel.grpc),
            format!("http://{}", rotel.http),
        ),
        None => (
            receiver.grpc_endpoint(),
            format!("http://{}", receiver.addr),
        ),
    };
    let (traces, metrics) = endpoints(protocol, grpc, http);
    let guard = Config::builder()
        .without_env()
        .with_service_name("metrics-export")
        .with_exporters([ExporterKind::Otlp])
        .with_protocol(protocol)
        .with_otlp_traces_endpoint(traces)
        .with_metrics_exporters([MetricsExporterKind::Otlp])
        .with_otlp_metrics_endpoint(metrics)
        // Half the traces sampled: the metrics must count every call anyway.
        .with_sampler(SamplerConfig::TraceIdRatio(0.5))
        .with_logs_exporters([])
        .with_log_format(LogFormat::None)
        .build()
        .unwrap()
        .init()
        .unwrap();
    let orders = traced::metrics::global::meter("shop")
        .u64_counter("orders")
        .build();
    for order in 0..CALLS {
        let _ = checkout(order);
        orders.add(1, &[]);
    }
    guard.force_flush().unwrap();
    let stats = guard.stats();
    assert!(stats.metric_exports >= 1, "{stats:?}");
    assert_eq!(stats.metric_export_failures, 0, "{stats:?}");

    // Through rotel, the requests arrive once rotel forwarded them.
    let start = Instant::now();
    let (requests, spans) = loop {
        let requests = receiver.metrics();
        let spans = receiver.spans();
        let calls: i64 = sum_points(&requests, FUNCTION_CALLS).iter().map(int).sum();
        let exported = spans.iter().filter(|s| s.name == "checkout").count();
        if calls >= 2 * i64::from(CALLS) && exported > 0
            || start.elapsed() > Duration::from_secs(20)
        {
            break (requests, spans);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let sampled: Vec<_> = spans.iter().filter(|s| s.name == "checkout").collect();
    assert!(
        !sampled.is_empty() && sampled.len() < CALLS as usize,
        "about half of the traces sampled: {}",
        sampled.len()
    );

    // function.calls: every call, by result and caller.
    let calls = sum_points(&requests, FUNCTION_CALLS);
    let count = |function: &str, result: &str| -> i64 {
        calls
            .iter()
            .filter(|p| {
                attr(&p.attributes, FUNCTION) == Some(function)
                    && attr(&p.attributes, RESULT) == Some(result)
            })
            .map(int)
            .sum()
    };
    let errors = i64::from(CALLS / 4);
    assert_eq!(count("checkout", "error"), errors, "{calls:#?}");
    assert_eq!(count("checkout", "ok"), i64::from(CALLS) - errors);
    assert_eq!(count("charge", "ok"), i64::from(CALLS));
    let error_point = calls
        .iter()
        .find(|p| attr(&p.attributes, RESULT) == Some("error"))
        .unwrap();
    let span_error_type = sampled
        .iter()
        .find_map(|s| attr(&s.attributes, "error.type"))
        .expect("an exported checkout span that failed");
    assert_eq!(
        attr(&error_point.attributes, "error.type"),
        Some(span_error_type)
    );
    assert_eq!(
        attr(&error_point.attributes, MODULE),
        Some("metrics_export::metrics_support")
    );
    let charge = calls
        .iter()
        .find(|p| attr(&p.attributes, FUNCTION) == Some("charge"))
        .unwrap();
    assert_eq!(attr(&charge.attributes, CALLER_FUNCTION), Some("checkout"));
    assert_eq!(
        attr(&charge.attributes, CALLER_MODULE),
        Some("metrics_export::metrics_support")
    );
    let root = calls
        .iter()
        .find(|p| attr(&p.attributes, FUNCTION) == Some("checkout"))
        .unwrap();
    assert_eq!(attr(&root.attributes, CALLER_FUNCTION), Some(""));

    // function.calls.duration: one point per fn, the buckets add up to the calls.
    let durations = histogram_points(&requests, FUNCTION_CALLS_DURATION);
    let checkout_duration = durations
        .iter()
        .find(|p| attr(&p.attributes, FUNCTION) == Some("checkout"))
        .unwrap();
    assert_eq!(checkout_duration.count, u64::from(CALLS));
    assert_eq!(
        checkout_duration.bucket_counts.iter().sum::<u64>(),
        u64::from(CALLS)
    );
    assert_eq!(
        checkout_duration.explicit_bounds.len() + 1,
        checkout_duration.bucket_counts.len()
    );
    assert!(checkout_duration.sum.unwrap() > 0.0);

    // Exemplars: spans that were sampled and exported, by this test.
    let exported: HashSet<String> = sampled.iter().map(|s| hex(&s.trace_id)).collect();
    let exemplars = exemplar_trace_ids(std::slice::from_ref(checkout_duration));
    assert!(!exemplars.is_empty(), "the histogram carries exemplars");
    assert!(
        exemplars.is_subset(&exported),
        "{exemplars:?} not in {exported:?}"
    );
    let counter_exemplars: HashSet<String> =
        root.exemplars.iter().map(|e| hex(&e.trace_id)).collect();
    assert!(counter_exemplars.is_subset(&exported));

    // Nothing under way any more; the user's counter rode along.
    let concurrent = sum_points(&requests, FUNCTION_CALLS_CONCURRENT);
    assert!(concurrent.iter().all(|p| int(p) == 0), "{concurrent:?}");
    let orders: i64 = sum_points(&requests, "orders").iter().map(int).sum();
    assert_eq!(orders, i64::from(CALLS));
    guard.shutdown().unwrap();
    drop(rotel);
}

#[test]
fn grpc_to_the_receiver() {
    export(Protocol::Grpc, false);
}

#[test]
fn http_protobuf_to_the_receiver() {
    export(Protocol::HttpProtobuf, false);
}

#[test]
fn http_json_to_the_receiver() {
    export(Protocol::HttpJson, false);
}

#[test]
fn grpc_through_rotel() {
    export(Protocol::Grpc, true);
}

#[test]
fn http_protobuf_through_rotel() {
    export(Protocol::HttpProtobuf, true);
}

#[test]
fn http_json_through_rotel() {
    export(Protocol::HttpJson, true);
}

/// A collector that is not there: the pushes fail, are retried within the export timeout, counted and
/// reported in the stats; the calls are still counted, and the shutdown does not fail for it.
#[test]
fn a_dead_collector_is_retried_counted_and_reported() {
    let dead = free_addr();
    let guard = Config::builder()
        .without_env()
        .with_service_name("metrics-dead")
        .with_exporters([])
        .with_metrics_exporters([MetricsExporterKind::Otlp])
        .with_metrics_protocol(Protocol::HttpProtobuf)
        .with_otlp_metrics_endpoint(format!("http://{dead}/v1/metrics"))
        .with_metric_export_interval(Duration::from_millis(50))
        .with_metric_export_timeout(Duration::from_millis(400))
        .with_logs_exporters([])
        .with_log_format(LogFormat::None)
        .build()
        .unwrap()
        .init()
        .unwrap();
    for order in 0..CALLS {
        let _ = checkout(order);
    }
    let start = Instant::now();
    while guard.stats().metric_export_failures < 2 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = guard.stats();
    assert!(stats.metric_export_failures >= 2, "{stats:?}");
    assert_eq!(stats.metric_exports, 0, "{stats:?}");
    assert!(
        stats.retries > 0,
        "a refused connection is retried: {stats:?}"
    );
    let error = stats.last_error.clone().unwrap_or_default();
    assert!(
        error.contains(&dead.to_string()) && error.contains("/v1/metrics"),
        "{error}"
    );
    assert!(!guard.healthy(), "{stats:?}");
    let flush = guard.force_flush();
    assert!(flush.is_err(), "a flush says the metrics did not go out");
    let (result, stats) = guard.shutdown_with_stats();
    result.expect("a collector away does not fail the shutdown");
    assert!(stats.metric_export_failures >= 3, "{stats:?}");
}
