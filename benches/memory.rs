//! Peak memory of 1,000,000 sampled spans created as fast as one thread can, exported to a real collector (rotel
//! over OTLP/gRPC, forwarding to a counting sink), each mode in a child process of its own (this binary,
//! re-executed with `--child`) so that peak RSS (`VmHWM`) is the mode's alone:
//!
//! - `plain`: the same fn without instrumentation, the baseline;
//! - `traced`: `#[traced]` through its own pipeline; exported + dropped + failed from the guard must add up to
//!   every span;
//! - `stock`: `#[tracing::instrument]` + tracing-opentelemetry + the SDK batch processor (default settings) +
//!   the `opentelemetry-otlp` tonic exporter;
//! - `fastrace`: `#[fastrace::trace]` + the fastrace-opentelemetry reporter over the same tonic exporter, in
//!   roots of 1,000 spans (a root and 999 calls; fastrace records nothing without a root).
//!
//! Run: `cargo bench --bench memory` (`BENCH_QUICK=1`: 100,000 spans).

mod support;

use std::borrow::Cow;
use std::time::{Duration, Instant};

use opentelemetry_otlp::WithExportConfig as _;
use support::{field, Sink, SPAN_NAME};
use traced::config::Protocol;

#[inline(never)]
fn plain_work(x: u64) -> u64 {
    std::hint::black_box(x) + 1
}

#[fastrace::trace(name = "work")]
#[inline(never)]
fn fastrace_work(x: u64) -> u64 {
    std::hint::black_box(x) + 1
}

const MODES: [&str; 4] = ["plain", "traced", "stock", "fastrace"];
/// Spans per fastrace root, the root included.
const FASTRACE_ROOT_SPANS: u64 = 1_000;

fn main() {
    if let Some(args) = support::child_args() {
        return child(&args);
    }
    let spans: u64 = if support::quick() { 100_000 } else { 1_000_000 };
    let sink = Sink::start();
    let mut rows: Vec<Row> = Vec::new();
    for mode in MODES {
        let rotel = support::start_rotel(&sink);
        let before = sink.count();
        let result = support::run_child(&[
            mode.to_owned(),
            format!("http://{}", rotel.grpc),
            spans.to_string(),
        ]);
        let received = if mode == "plain" {
            0
        } else {
            sink.settle(before + spans, Duration::from_secs(2)) - before
        };
        drop(rotel);
        let counts = (mode == "traced").then(|| {
            (
                field::<u64>(&result, "exported"),
                field::<u64>(&result, "dropped"),
                field::<u64>(&result, "failed"),
            )
        });
        let row = Row {
            mode,
            peak_kb: field(&result, "vmhwm_kb"),
            seconds: field(&result, "total_s"),
            received,
            counts,
        };
        println!("{mode}: {} kB peak, {received} spans received", row.peak_kb);
        rows.push(row);
    }
    print_table(&rows, spans);
    if let Some((exported, dropped, failed)) = rows.iter().find_map(|r| r.counts) {
        assert_eq!(
            exported + dropped + failed,
            spans,
            "traced lost spans without counting them"
        );
    }
}

struct Row {
    mode: &'static str,
    peak_kb: u64,
    seconds: f64,
    received: u64,
    /// traced's exported, dropped, failed.
    counts: Option<(u64, u64, u64)>,
}

fn print_table(rows: &[Row], spans: u64) {
    let plain_kb = rows
        .iter()
        .find(|r| r.mode == "plain")
        .map_or(0, |r| r.peak_kb);
    println!("\nmemory: peak RSS (VmHWM) of {spans} sampled spans, each mode in its own process");
    println!("| mode | peak RSS MB | MB above plain | run s | received | accounted (exported + dropped + failed) |");
    println!("|---|---:|---:|---:|---:|---|");
    for row in rows {
        let accounted = match row.counts {
            Some((e, d, f)) => format!(
                "{e} + {d} + {f} = {} {}",
                e + d + f,
                if e + d + f == spans {
                    "(all)"
                } else {
                    "(MISSING)"
                }
            ),
            None if row.mode == "plain" => "-".to_owned(),
            None => format!("not counted: {} never arrived", spans - row.received),
        };
        println!(
            "| {} | {:.1} | {:+.1} | {:.2} | {} | {} |",
            row.mode,
            row.peak_kb as f64 / 1024.0,
            (row.peak_kb as f64 - plain_kb as f64) / 1024.0,
            row.seconds,
            row.received,
            accounted
        );
    }
}

/// Peak resident set size of this process so far, in kB.
fn vmhwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn produce(spans: u64, f: fn(u64) -> u64) {
    for i in 0..spans {
        std::hint::black_box(f(std::hint::black_box(i)));
    }
}

/// One measured run: `mode endpoint spans`.
fn child(args: &[String]) {
    let [mode, endpoint, spans] = args else {
        panic!("usage: --child plain|traced|stock|fastrace ENDPOINT SPANS");
    };
    let spans: u64 = spans.parse().expect("spans");
    let start = Instant::now();
    let extra = match mode.as_str() {
        "plain" => {
            produce(spans, plain_work);
            String::new()
        }
        "traced" => child_traced(endpoint, spans),
        "stock" => child_stock(endpoint, spans),
        "fastrace" => child_fastrace(endpoint, spans),
        other => panic!("unknown mode {other}"),
    };
    let total_s = start.elapsed().as_secs_f64();
    println!("RESULT vmhwm_kb={} total_s={total_s} {extra}", vmhwm_kb());
}

fn child_traced(endpoint: &str, spans: u64) -> String {
    let guard = support::install_traced(Protocol::Grpc, endpoint, "bench-memory");
    produce(spans, support::traced_work);
    let (result, stats) = guard.shutdown_with_stats();
    if let Err(e) = result {
        eprintln!("shutdown: {e}");
    }
    format!(
        "exported={} dropped={} failed={}",
        stats.exported, stats.dropped, stats.failed
    )
}

/// The tonic exporter, created inside `runtime` (its channel runs there).
fn tonic_exporter(
    runtime: &tokio::runtime::Runtime,
    endpoint: &str,
) -> opentelemetry_otlp::SpanExporter {
    let _entered = runtime.enter();
    opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .expect("otlp exporter")
}

fn child_stock(endpoint: &str, spans: u64) -> String {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = support::install_stock(tonic_exporter(&runtime, endpoint), "bench-memory");
    produce(spans, support::instrument_work);
    if let Err(e) = provider.shutdown() {
        eprintln!("shutdown: {e}");
    }
    String::new()
}

fn child_fastrace(endpoint: &str, spans: u64) -> String {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = runtime.handle().clone();
    let reporter = fastrace_opentelemetry::OpenTelemetryReporter::new(
        tonic_exporter(&runtime, endpoint),
        Cow::Owned(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("bench-memory")
                .build(),
        ),
        opentelemetry::InstrumentationScope::builder("bench").build(),
    )
    // The tonic exporter needs its runtime to make progress.
    .with_block_on(move |export| handle.block_on(export));
    fastrace::set_reporter(reporter, fastrace::collector::Config::default());
    let mut i = 0;
    while i < spans {
        let root = fastrace::Span::root(SPAN_NAME, fastrace::collector::SpanContext::random());
        let _parent = root.set_local_parent();
        let calls = (FASTRACE_ROOT_SPANS - 1).min(spans - i - 1);
        produce(calls, fastrace_work);
        i += calls + 1;
    }
    fastrace::flush();
    String::new()
}
