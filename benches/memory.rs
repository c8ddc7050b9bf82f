//! Peak memory of 1,000,000 sampled spans created as fast as one thread can, exported to a real collector (rotel
//! over OTLP/gRPC, forwarding to a counting sink), each mode in a child process of its own (this binary,
//! re-executed with `--child`) so that peak RSS (`VmHWM`) is the mode's alone:
//!
//! - `plain`: the same fn without instrumentation, the baseline;
//! - `traced`: `#[traced]` through its own pipeline, head sampling (every trace sampled); exported + dropped +
//!   failed from the guard must add up to every span;
//! - `tail`: the same with tail sampling keeping 1 % of the traces (`max_spans` at its default of 10,000), in
//!   roots of 1,000 spans: each trace held until its root ends; exported + dropped + failed + discarded must add
//!   up to every span;
//! - `tail-open`: tail sampling with one root open over the whole run, the worst case for holding: the spans
//!   wait for a root that does not end until `max_spans` are held, then the trace is decided by its id;
//! - `stock`: `#[tracing::instrument]` + tracing-opentelemetry + the SDK batch processor (default settings) +
//!   the `opentelemetry-otlp` tonic exporter;
//! - `fastrace`: `#[fastrace::trace]` + the fastrace-opentelemetry reporter over the same tonic exporter, in
//!   roots of 1,000 spans (a root and 999 calls; fastrace records nothing without a root).
//!
//! Run: `cargo bench --bench memory` (`BENCH_QUICK=1`: 100,000 spans).

mod support;

use std::borrow::Cow;
use std::time::{Duration, Instant};

use support::{field, SPAN_NAME};
use traced::config::{Protocol, TailSampling};

#[inline(never)]
fn plain_work(x: u64) -> u64 {
    std::hint::black_box(x) + 1
}

#[fastrace::trace(name = "work")]
#[inline(never)]
fn fastrace_work(x: u64) -> u64 {
    std::hint::black_box(x) + 1
}

const MODES: [&str; 6] = ["plain", "traced", "tail", "tail-open", "stock", "fastrace"];
/// Spans per root in the fastrace and `tail` modes, the root included.
const ROOT_SPANS: u64 = 1_000;

fn main() {
    if let Some(args) = support::child_args() {
        return child(&args);
    }
    let spans: u64 = if support::quick() { 100_000 } else { 1_000_000 };
    let sink = support::sink();
    let mut rows: Vec<Row> = Vec::new();
    for mode in MODES {
        let rotel = support::start_rotel(&sink);
        let before = sink.span_count() as u64;
        let result = support::run_child(&[
            mode.to_owned(),
            format!("http://{}", rotel.grpc),
            spans.to_string(),
        ]);
        let received = if mode == "plain" {
            0
        } else {
            sink.settle((before + spans) as usize, Duration::from_secs(2)) as u64 - before
        };
        drop(rotel);
        let counts = matches!(mode, "traced" | "tail" | "tail-open").then(|| Counts {
            exported: field(&result, "exported"),
            dropped: field(&result, "dropped"),
            failed: field(&result, "failed"),
            discarded: field(&result, "discarded"),
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
    for row in &rows {
        if let Some(counts) = row.counts {
            assert_eq!(
                counts.total(),
                spans,
                "{} lost spans without counting them",
                row.mode
            );
        }
    }
}

struct Row {
    mode: &'static str,
    peak_kb: u64,
    seconds: f64,
    received: u64,
    /// `traced`'s counts, from its guard.
    counts: Option<Counts>,
}

#[derive(Clone, Copy)]
struct Counts {
    exported: u64,
    dropped: u64,
    failed: u64,
    /// By tail sampling.
    discarded: u64,
}

impl Counts {
    fn total(self) -> u64 {
        self.exported + self.dropped + self.failed + self.discarded
    }
}

fn print_table(rows: &[Row], spans: u64) {
    let plain_kb = rows
        .iter()
        .find(|r| r.mode == "plain")
        .map_or(0, |r| r.peak_kb);
    let traced_kb = rows
        .iter()
        .find(|r| r.mode == "traced")
        .map_or(0, |r| r.peak_kb);
    println!("\nmemory: peak RSS (VmHWM) of {spans} spans, each mode in its own process");
    println!("| mode | peak RSS MB | MB above plain | MB above traced | run s | received | accounted (exported + dropped + failed + discarded) |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for row in rows {
        let accounted = match row.counts {
            Some(c) => format!(
                "{} + {} + {} + {} = {} {}",
                c.exported,
                c.dropped,
                c.failed,
                c.discarded,
                c.total(),
                if c.total() == spans {
                    "(all)"
                } else {
                    "(MISSING)"
                }
            ),
            None if row.mode == "plain" => "-".to_owned(),
            None => format!("not counted: {} never arrived", spans - row.received),
        };
        println!(
            "| {} | {:.1} | {:+.1} | {:+.1} | {:.2} | {} | {} |",
            row.mode,
            row.peak_kb as f64 / 1024.0,
            (row.peak_kb as f64 - plain_kb as f64) / 1024.0,
            (row.peak_kb as f64 - traced_kb as f64) / 1024.0,
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
        "traced" => child_traced(endpoint, spans, None),
        "tail" => child_traced(endpoint, spans, Some(ROOT_SPANS)),
        "tail-open" => child_traced(endpoint, spans, Some(spans)),
        "stock" => child_stock(endpoint, spans),
        "fastrace" => child_fastrace(endpoint, spans),
        other => panic!("unknown mode {other}"),
    };
    let total_s = start.elapsed().as_secs_f64();
    println!("RESULT vmhwm_kb={} total_s={total_s} {extra}", vmhwm_kb());
}

/// `traced` with head sampling (`root_spans` `None`: each call a trace of its own), or with tail sampling keeping
/// 1 %, in roots of `root_spans` spans.
fn child_traced(endpoint: &str, spans: u64, root_spans: Option<u64>) -> String {
    let guard = match root_spans {
        None => support::install_traced(Protocol::Grpc, endpoint, "bench-memory"),
        Some(_) => support::install_traced_with(
            traced::Config::builder()
                .with_tail_sampling(TailSampling::new().keep_errors().keep_ratio(0.01)),
            Protocol::Grpc,
            endpoint,
            "bench-memory",
        ),
    };
    match root_spans {
        None => produce(spans, support::traced_work),
        Some(root_spans) => in_roots(spans, root_spans, |calls| {
            let root = tracing::info_span!(SPAN_NAME);
            let _entered = root.enter();
            produce(calls, support::traced_work);
        }),
    }
    let (result, stats) = guard.shutdown_with_stats();
    if let Err(e) = result {
        eprintln!("shutdown: {e}");
    }
    format!(
        "exported={} dropped={} failed={} discarded={}",
        stats.exported, stats.dropped, stats.failed, stats.tail_discarded
    )
}

/// `spans` spans in roots of `root_spans`: `root(calls)` makes one root around `calls` calls.
fn in_roots(spans: u64, root_spans: u64, mut root: impl FnMut(u64)) {
    let mut i = 0;
    while i < spans {
        let calls = (root_spans - 1).min(spans - i - 1);
        root(calls);
        i += calls + 1;
    }
}

fn child_stock(endpoint: &str, spans: u64) -> String {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider =
        support::install_stock(support::tonic_exporter(&runtime, endpoint), "bench-memory");
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
        support::tonic_exporter(&runtime, endpoint),
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
    in_roots(spans, ROOT_SPANS, |calls| {
        let root = fastrace::Span::root(SPAN_NAME, fastrace::collector::SpanContext::random());
        let _parent = root.set_local_parent();
        produce(calls, fastrace_work);
    });
    fastrace::flush();
    String::new()
}
