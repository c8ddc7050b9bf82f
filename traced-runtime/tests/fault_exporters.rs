//! Several exporters, one of them dead: each has its own export slots and its own share of the queue, so a
//! collector that black-holes or refuses connections never delays, throttles or fails the healthy exporter,
//! and `stats()` counts each exporter apart while the totals keep adding up (`queued` included) at any time.

mod fault_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fault_support::config_for;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData, SpanExporter};
use traced_runtime::config::{Config, ExporterKind, Protocol};
use traced_runtime::{ExporterStats, Stats};
use traced_test_support::{free_addr, Fault, Receiver};
use tracing_subscriber::layer::SubscriberExt;

const SPANS: u64 = 20_000;
const CHUNK: u64 = 1_000;

fn exporter<'a>(stats: &'a Stats, name: &str) -> &'a ExporterStats {
    stats
        .exporters
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name} exporter in {stats:?}"))
}

/// Every span ended is in exactly one of exported, dropped, failed and queued, overall and per exporter.
fn assert_adds_up(stats: &Stats, ended: u64) {
    assert_eq!(
        stats.exported + stats.dropped + stats.failed + stats.queued,
        ended,
        "{stats:?}"
    );
    for e in &stats.exporters {
        assert_eq!(e.exported + e.dropped + e.failed + e.queued, ended, "{e:?}");
    }
}

/// OTLP to a collector that never answers (export timeout 20 s) beside an exporter given in code: 20,000 spans
/// in chunks of 1,000, each chunk waited for at the healthy exporter. Before each exporter had its own slots,
/// the black hole held all four slots for the export timeout and the healthy exporter got 400 spans.
fn black_hole_beside_a_healthy_exporter(protocol: Protocol) {
    let hole = Receiver::start();
    hole.fail(Fault::Hang, usize::MAX);
    let addr = hole.addr;
    let spans = InMemorySpanExporter::default();
    let mut config = config_for(protocol, addr, Duration::from_secs(20));
    config.exporters = vec![ExporterKind::Otlp];
    config.span_exporters.push(spans.clone());
    config.shutdown_timeout = Duration::from_secs(1);
    let (layer, guard) = config.layer().expect("pipeline");
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let start = Instant::now();
    let mut ended = 0;
    let mut slowest = Duration::ZERO;
    while ended < SPANS {
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..CHUNK {
                let _span = tracing::info_span!("work", i).entered();
            }
        });
        ended += CHUNK;
        let chunk = Instant::now();
        let stats = loop {
            let stats = guard.stats();
            assert_adds_up(&stats, ended);
            if exporter(&stats, "custom").exported == ended {
                break stats;
            }
            assert!(
                chunk.elapsed() < Duration::from_secs(10),
                "the healthy exporter is held back: {stats:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        slowest = slowest.max(chunk.elapsed());
        assert_eq!(exporter(&stats, "otlp").exported, 0, "{stats:?}");
    }
    let stats = guard.stats();
    let otlp = exporter(&stats, "otlp");
    eprintln!(
        "{protocol:?}: 20,000 spans to the healthy exporter in {:?} (slowest chunk {slowest:?}); {stats:?}",
        start.elapsed()
    );
    assert_eq!(spans.get_finished_spans().unwrap().len() as u64, SPANS);
    // The black hole holds its four slots and its share of the queue; the rest is dropped for it alone.
    assert!(otlp.dropped > 0 && otlp.queued > 0, "{otlp:?}");
    drop(dispatch);
    let shutdown = Instant::now();
    let (result, stats) = guard.shutdown_with_stats();
    let took = shutdown.elapsed();
    result.expect("spans lost at shutdown are counted, not an error");
    assert_adds_up(&stats, SPANS);
    assert_eq!(stats.queued, 0, "{stats:?}");
    assert_eq!(exporter(&stats, "custom").exported, SPANS);
    // With several exporters a span counts by its worst outcome: none reached every exporter.
    assert_eq!(stats.exported, 0, "{stats:?}");
    assert!(
        took < Duration::from_secs(3),
        "shutdown took {took:?} with a 1 s shutdown timeout"
    );
    drop(hole);
}

#[test]
fn grpc_black_hole_does_not_hold_back_the_other_exporter() {
    black_hole_beside_a_healthy_exporter(Protocol::Grpc);
}

#[test]
fn http_black_hole_does_not_hold_back_the_other_exporter() {
    black_hole_beside_a_healthy_exporter(Protocol::HttpProtobuf);
}

/// An exporter of the application's own that refuses every batch.
#[derive(Debug)]
struct Refusing;

impl SpanExporter for Refusing {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Err(OTelSdkError::InternalFailure("refused".into()))
    }
}

/// A healthy collector beside an exporter that refuses everything: the collector gets every span, and each
/// exporter's counts tell which one failed.
#[test]
fn counts_are_kept_per_exporter() {
    let healthy = Receiver::start();
    let mut config = config_for(Protocol::Grpc, healthy.addr, Duration::from_secs(5));
    config.span_exporters.push(Refusing);
    let (layer, guard) = config.layer().expect("pipeline");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..500 {
            let _span = tracing::info_span!("work", i).entered();
        }
    });
    let (_, stats) = guard.shutdown_with_stats();
    assert_adds_up(&stats, 500);
    assert_eq!(healthy.span_count(), 500);
    let otlp = exporter(&stats, "otlp");
    let custom = exporter(&stats, "custom");
    assert_eq!((otlp.exported, otlp.failed), (500, 0), "{stats:?}");
    assert_eq!((custom.exported, custom.failed), (0, 500), "{stats:?}");
    assert_eq!((stats.exported, stats.failed), (0, 500), "{stats:?}");
    assert!(stats.last_error.unwrap().starts_with("custom exporter:"));
}

const CHILD: &str = "TRACED_EXPORTERS_CHILD";

/// The program: `OTEL_TRACES_EXPORTER=otlp,console` with nobody at the OTLP endpoint (connection
/// refused, retried for the default 30 s export timeout), 20,000 spans through `traced::init()`, a chunk at a
/// time so the queue never overflows. Prints the final stats on stderr.
#[test]
fn child() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let config = Config::from_env().expect("configuration");
    let guard = config.init().expect("init");
    let mut ended = 0;
    while ended < SPANS {
        for i in 0..CHUNK {
            let _span = tracing::info_span!("work", i).entered();
        }
        ended += CHUNK;
        let start = Instant::now();
        while exporter(&traced_runtime::stats(), "console").exported < ended {
            if start.elapsed() > Duration::from_secs(10) {
                eprintln!("console held back: {:?}", traced_runtime::stats());
                std::process::exit(3);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let (result, stats) = guard.shutdown_with_stats();
    eprintln!("child stats: {stats:?}");
    result.expect("shutdown");
}

#[test]
fn console_prints_every_span_while_the_collector_is_down() {
    let dead = free_addr();
    let start = Instant::now();
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("OTEL_TRACES_EXPORTER", "otlp,console")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{dead}"))
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .env("TRACED_LOG_FORMAT", "none")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let lived = start.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed: {stderr}");
    // One trace per span, each printed with a header line (the first after the harness's `test child ... `).
    let printed = stdout
        .lines()
        .filter(|l| {
            l.trim_start_matches("test child ... ")
                .starts_with("trace ")
        })
        .count();
    eprintln!("console printed {printed} spans, child lived {lived:?}; {stderr}");
    assert_eq!(printed as u64, SPANS, "{stderr}");
    // Exit is not held for the 30 s export timeout by the retries of a refused connection.
    assert!(lived < Duration::from_secs(25), "the child lived {lived:?}");
}
