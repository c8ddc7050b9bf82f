//! Through a real collector: our pipeline → rotel → an in-process OTLP/gRPC receiver. rotel is killed mid-run
//! and restarted on the same ports: the application does not slow down while it is gone, every span is
//! exported or counted, and spans ended after the restart arrive.
//!
//! Needs `rotel-agent`: `ROTEL_AGENT` (set by `.ci/test`) or `pip install rotel`. Fails, never skips, without it.

use std::time::{Duration, Instant};

use traced_runtime::config::{Config, LogFormat, Protocol};
use traced_test_support::{free_addr, rotel_agent, Receiver, Rotel};
use tracing_subscriber::layer::SubscriberExt;

fn killed_and_restarted(protocol: Protocol) {
    let agent = rotel_agent();
    let receiver = Receiver::start();
    let (grpc, http) = (free_addr(), free_addr());
    let rotel = Rotel::start(&agent, grpc, http, receiver.addr);
    let mut config = Config {
        service_name: Some("via-rotel".into()),
        log_format: LogFormat::None,
        // No log record export here: the logs_* tests cover it.
        logs: traced_runtime::config::LogsConfig {
            exporters: Vec::new(),
            ..Default::default()
        },
        ..Config::default()
    };
    config.otlp.protocol = protocol;
    config.otlp.endpoint = match protocol {
        Protocol::Grpc => format!("http://{grpc}"),
        _ => format!("http://{http}/v1/traces"),
    };
    config.batch.schedule_delay = Duration::from_millis(50);
    config.batch.export_timeout = Duration::from_secs(1);
    // Room for every span of a phase: this test is about the collector going away, not about a full queue (on a
    // loaded machine the export thread can fall 1,000 spans behind a tight loop).
    config.batch.max_queue_size = 10_000;
    let (layer, guard) = config.layer().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let emit = |name: &'static str, n: u32| {
        let start = Instant::now();
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..n {
                let _span = match name {
                    "before" => tracing::info_span!("before", i),
                    "during" => tracing::info_span!("during", i),
                    _ => tracing::info_span!("after", i),
                }
                .entered();
            }
        });
        start.elapsed() / n
    };
    let arrived = |name: &str| receiver.spans().iter().filter(|s| s.name == name).count();
    let wait = |name: &str, n: usize| {
        let start = Instant::now();
        while arrived(name) < n && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        arrived(name)
    };

    let healthy = (0..3).map(|_| emit("before", 1_000)).min().unwrap();
    assert_eq!(wait("before", 3_000), 3_000);
    drop(rotel);
    let down = (0..3).map(|_| emit("during", 1_000)).min().unwrap();
    let start = Instant::now();
    while guard.stats().failed == 0 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!guard.healthy(), "{:?}", guard.stats());
    let _rotel = Rotel::start(&agent, grpc, http, receiver.addr);
    // Let what was in flight while rotel was gone fail or go through, then check new spans arrive.
    std::thread::sleep(Duration::from_millis(1_500));
    emit("after", 1_000);
    assert_eq!(wait("after", 1_000), 1_000);
    drop(dispatch);
    let (_, stats) = guard.shutdown_with_stats();
    eprintln!(
        "{protocol:?} via rotel: per span healthy {healthy:?}, rotel down {down:?}; {stats:?}"
    );
    assert_eq!(
        stats.exported + stats.dropped + stats.failed,
        7_000,
        "{stats:?}"
    );
    // Loose on purpose (shared cores): it catches the application waiting on the collector (milliseconds per
    // span), not a noisy microsecond.
    assert!(
        down < healthy * 5 + Duration::from_micros(100),
        "per-span cost with rotel down {down:?} vs up {healthy:?}"
    );
}

#[test]
fn grpc_through_rotel_killed_and_restarted() {
    killed_and_restarted(Protocol::Grpc);
}

#[test]
fn http_through_rotel_killed_and_restarted() {
    killed_and_restarted(Protocol::HttpProtobuf);
}
