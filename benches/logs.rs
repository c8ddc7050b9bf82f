//! The per-event cost of exporting `tracing` events as log records, on top of what an event inside a sampled span
//! costs today, for `traced`'s pipeline and for the stock one (tracing-opentelemetry for the spans,
//! opentelemetry-appender-tracing over the SDK's batch log processor for the records), in one run.
//!
//! One iteration is a sampled span with [`EVENTS`] events in it (three fields and a formatted message each):
//!
//! - `traced` base: `Config::layer`, no logs exporter; `traced` logs: the same, its logs exported over OTLP/gRPC
//!   to an in-process receiver that only counts (so the export thread does the real encoding and sending);
//! - stock base: tracing-opentelemetry over the SDK batch span processor; stock logs: the same plus
//!   `OpenTelemetryTracingBridge` over the SDK batch log processor and an exporter that drops each batch (less
//!   work than ours on the export side, none of it on the caller's).
//!
//! Export cost per event = (logs − base) / EVENTS, in CPU time of the calling thread. Rounds alternate the four (3; 1 with
//! `BENCH_QUICK=1`), each timed for a few seconds; the summary takes the median.
//!
//! Run: `cargo bench --bench logs`.

mod support;

use std::rc::Rc;
use std::time::Instant;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLoggerProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use support::DropSpans;
use traced::config::{Config, LogFormat, LogsExporterKind, Protocol};
use traced_test_support::Receiver;
use tracing_subscriber::layer::SubscriberExt;

/// Events per span.
const EVENTS: u64 = 10;

#[derive(Debug)]
struct DropLogs;

impl LogExporter for DropLogs {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        std::hint::black_box(batch.iter().count());
        Ok(())
    }
}

/// One span with its events: what each iteration does.
#[inline(never)]
fn request(n: u64) {
    let span = tracing::info_span!("request", n);
    let _entered = span.enter();
    for i in 0..EVENTS {
        tracing::info!(i, user = "ann", ok = true, "handled item {i} of {n}");
    }
}

/// The four pipelines, each as a dispatcher, how to flush it, and `traced`'s guard, whose counts must show nothing
/// lost.
struct Pipeline {
    name: &'static str,
    dispatch: tracing::Dispatch,
    flush: Box<dyn Fn()>,
    guard: Option<Rc<traced::Guard>>,
}

fn traced(logs: Option<&Receiver>) -> Pipeline {
    let mut builder = Config::builder()
        .without_env()
        .with_exporters([])
        .with_span_exporter(DropSpans)
        .with_log_format(LogFormat::None);
    builder = match logs {
        Some(receiver) => builder
            .with_logs_exporters([LogsExporterKind::Otlp])
            .with_logs_protocol(Protocol::Grpc)
            .with_otlp_logs_endpoint(receiver.grpc_endpoint()),
        None => builder.with_logs_exporters([]),
    };
    let (layer, guard) = builder.build().expect("config").layer().expect("pipeline");
    let guard = Rc::new(guard);
    let flushed = Rc::clone(&guard);
    Pipeline {
        name: if logs.is_some() {
            "traced logs"
        } else {
            "traced base"
        },
        dispatch: tracing::Dispatch::new(tracing_subscriber::registry().with(layer)),
        flush: Box::new(move || flushed.force_flush().expect("traced flush")),
        guard: Some(guard),
    }
}

fn stock(logs: bool) -> Pipeline {
    let spans = SdkTracerProvider::builder()
        .with_batch_exporter(DropSpans)
        .build();
    let otel = tracing_opentelemetry::layer().with_tracer(spans.tracer("bench"));
    let filter = tracing_subscriber::filter::LevelFilter::INFO;
    if logs {
        let provider = SdkLoggerProvider::builder()
            .with_batch_exporter(DropLogs)
            .build();
        let bridge = OpenTelemetryTracingBridge::new(&provider);
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(otel)
            .with(bridge);
        Pipeline {
            name: "stock logs",
            dispatch: tracing::Dispatch::new(subscriber),
            flush: Box::new(move || {
                let _ = spans.force_flush();
                let _ = provider.force_flush();
            }),
            guard: None,
        }
    } else {
        let subscriber = tracing_subscriber::registry().with(filter).with(otel);
        Pipeline {
            name: "stock base",
            dispatch: tracing::Dispatch::new(subscriber),
            flush: Box::new(move || {
                let _ = spans.force_flush();
            }),
            guard: None,
        }
    }
}

/// Nanoseconds of the calling thread's CPU per iteration of `request` under `pipeline`, run for `seconds`. CPU
/// time rather than wall time: the export threads (ours encodes and sends, the stock one drops) and the receiver
/// compete for the same 2 cores, and only what the caller itself spends is the cost in question. Every pipeline is
/// flushed after each [`BLOCK`] of iterations (the caller waits, which costs it little CPU), so that none drops a
/// record or a span for want of room: `main` checks `traced`'s counts.
fn time(pipeline: &Pipeline, seconds: f64) -> f64 {
    tracing::dispatcher::with_default(&pipeline.dispatch, || {
        // Warm up: caches, the exporters' connections.
        for n in 0..2_000 {
            request(n);
            if (n + 1) % BLOCK == 0 {
                (pipeline.flush)();
            }
        }
        let start = Instant::now();
        let cpu_before = support::cpu_seconds().1;
        let mut n = 0u64;
        while start.elapsed().as_secs_f64() < seconds {
            for _ in 0..BLOCK {
                request(std::hint::black_box(n));
                n += 1;
            }
            (pipeline.flush)();
        }
        (support::cpu_seconds().1 - cpu_before) * 1e9 / n as f64
    })
}

/// Iterations between two flushes: 1,000 records and 100 spans, within the default queues (2,048 of each).
const BLOCK: u64 = 100;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let (seconds, rounds) = if support::quick() { (0.3, 1) } else { (3.0, 3) };
    let receiver = Receiver::builder().count_only("none").start();
    let pipelines = [
        traced(None),
        traced(Some(&receiver)),
        stock(false),
        stock(true),
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); pipelines.len()];
    for round in 0..rounds {
        for (i, pipeline) in pipelines.iter().enumerate() {
            let ns = time(pipeline, seconds);
            println!(
                "round {round}: {} {ns:.0} ns per span of {EVENTS} events",
                pipeline.name
            );
            times[i].push(ns);
        }
    }
    for pipeline in &pipelines {
        if let Some(guard) = &pipeline.guard {
            let stats = guard.stats();
            println!(
                "{} guard: spans exported={} dropped={} failed={}, log records exported={} dropped={} failed={}",
                pipeline.name,
                stats.exported,
                stats.dropped,
                stats.failed,
                stats.log_records_exported,
                stats.log_records_dropped,
                stats.log_records_failed
            );
            assert_eq!(
                (
                    stats.dropped,
                    stats.failed,
                    stats.log_records_dropped,
                    stats.log_records_failed
                ),
                (0, 0, 0, 0),
                "{}: spans or records lost, the figures do not count",
                pipeline.name
            );
        }
    }
    let [traced_base, traced_logs, stock_base, stock_logs] =
        [0, 1, 2, 3].map(|i| median(times[i].clone()));
    let per_event = |logs: f64, base: f64| (logs - base) / EVENTS as f64;
    let traced_export = per_event(traced_logs, traced_base);
    let stock_export = per_event(stock_logs, stock_base);
    println!();
    println!("logs summary: per event inside a sampled span, CPU of the calling thread (median of {rounds})");
    println!("| pipeline | event, no log export ns | event + log export ns | export ns/event |");
    println!("|---|---:|---:|---:|");
    println!(
        "| traced | {:.0} | {:.0} | {traced_export:.0} |",
        traced_base / EVENTS as f64,
        traced_logs / EVENTS as f64
    );
    println!(
        "| stock (appender-tracing) | {:.0} | {:.0} | {stock_export:.0} |",
        stock_base / EVENTS as f64,
        stock_logs / EVENTS as f64
    );
    println!(
        "| traced / stock export cost | | | {:.2}x (target ≤ 0.5x) |",
        traced_export / stock_export
    );
}
