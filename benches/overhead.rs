//! Per-call cost of a trivial fn under `#[traced]`, `#[tracing::instrument]` (+ tracing-opentelemetry) and
//! `#[fastrace::trace]` (+ its OpenTelemetry reporter), sync and async, in the four states of issue 5, all in one
//! run so the ratios printed at the end compare like with like.
//!
//! - S1: no subscriber.
//! - S2: a subscriber whose level filter drops the span.
//! - S3: the OpenTelemetry layer with a sampler that drops every trace (fastrace: under an unsampled root).
//! - S4: a sampled root span plus the fn per iteration, batch export to an exporter that drops the batch.
//! - S4T (`traced` only): S4 with tail sampling on, 1 % of the traces kept (by trace id, head sampler at 1 % too):
//!   every span is recorded and queued as in S4, and the export thread discards 99 % of them before preparation.
//! - S4L (`traced` only): S4 beside the compact log format, the default of `init` (S4 runs without a log format,
//!   as the others print nothing either); no event, so no line is printed.
//!
//! `traced` runs through its own pipeline (`Config::layer`: our sampler, filter and batch processor);
//! `#[instrument]` through the stock one (tracing-opentelemetry + the SDK batch processor).
//!
//! Run: `cargo bench --bench overhead` (criterion; the ratio table is printed last).

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use support::{run, DropSpans};
use traced::config::{ConfigBuilder, LogFormat, SamplerConfig, TailSampling};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

#[inline(never)]
fn plain(x: u64) -> u64 {
    black_box(x) + 1
}

#[inline(never)]
async fn plain_async(x: u64) -> u64 {
    black_box(x) + 1
}

#[traced::traced]
#[inline(never)]
fn traced_sync(x: u64) -> u64 {
    black_box(x) + 1
}

#[traced::traced]
#[inline(never)]
async fn traced_async(x: u64) -> u64 {
    black_box(x) + 1
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn instrument_sync(x: u64) -> u64 {
    black_box(x) + 1
}

#[tracing::instrument(skip_all)]
#[inline(never)]
async fn instrument_async(x: u64) -> u64 {
    black_box(x) + 1
}

#[fastrace::trace]
#[inline(never)]
fn fastrace_sync(x: u64) -> u64 {
    black_box(x) + 1
}

#[fastrace::trace]
#[inline(never)]
async fn fastrace_async(x: u64) -> u64 {
    black_box(x) + 1
}

type Bench = (&'static str, fn(u64) -> u64);

const SYNC: [Bench; 4] = [
    ("plain", plain),
    ("traced", traced_sync),
    ("instrument", instrument_sync),
    ("fastrace", fastrace_sync),
];

const ASYNC: [Bench; 4] = [
    ("plain", |x| run(plain_async(x))),
    ("traced", |x| run(traced_async(x))),
    ("instrument", |x| run(instrument_async(x))),
    ("fastrace", |x| run(fastrace_async(x))),
];

fn otel_provider(sampler: Sampler) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_batch_exporter(DropSpans)
        .build()
}

/// The stock pipeline `#[instrument]` users run: tracing-opentelemetry over the SDK batch processor.
fn stock_pipeline(provider: &SdkTracerProvider) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
    )
}

/// `traced`'s own pipeline, as `Config::layer` builds it: our sampler, our layer filter and our batch processor on
/// the `traced-export` thread, exporting to the same dropping exporter as the stock pipeline.
fn traced_pipeline(sampler: SamplerConfig) -> (Dispatch, traced::Guard) {
    traced_pipeline_with(
        traced::Config::builder().with_sampler(sampler),
        LogFormat::None,
    )
}

/// [`traced_pipeline`] with the options `builder` sets.
/// The batch queue of the benches' pipelines: room for the spans of one criterion sample of S4 (about 100,000
/// at most), which are flushed after it.
const SPANS_QUEUED: usize = 1 << 17;

/// Fails the bench if its pipeline lost spans: the figures must be those of spans exported, not dropped.
fn assert_all_exported(what: &str, stats: &traced::Stats) {
    assert_eq!(
        (stats.dropped, stats.failed),
        (0, 0),
        "{what}: spans dropped or failed, the figures do not count: {stats:?}"
    );
}

fn traced_pipeline_with(builder: ConfigBuilder, format: LogFormat) -> (Dispatch, traced::Guard) {
    let config = builder
        .without_env()
        .with_exporters([])
        .with_logs_exporters([])
        .with_span_exporter(DropSpans)
        .with_log_format(format)
        // criterion produces spans faster than the export thread prepares them: a queue with room for a sample,
        // flushed after it (`group`'s `settle`), so that every span is exported (checked at shutdown).
        .with_batch_max_queue_size(SPANS_QUEUED)
        .build()
        .expect("bench config");
    // The subscriber `init` installs, in a dispatcher of its own: the states need one each.
    config.dispatch().expect("traced pipeline")
}

/// Runs every bench of `state`, each under the dispatcher `dispatch_for(name)` gives (none: no subscriber), and
/// `fastrace` under `fastrace_root`. With `settle` (S4), each iteration runs under a root span of its own and
/// `settle(name)` runs after each sample, untimed: it flushes what the sample produced, so no pipeline drops a span
/// for want of room and the figures are those of spans exported.
fn group(
    c: &mut Criterion,
    state: &str,
    dispatch_for: &dyn Fn(&str) -> Option<Dispatch>,
    fastrace_root: &dyn Fn() -> fastrace::Span,
    with_plain: bool,
    settle: Option<&dyn Fn(&str)>,
) {
    let mut group = c.benchmark_group(state);
    for (mode, benches) in [("sync", SYNC), ("async", ASYNC)] {
        for (name, f) in benches {
            if name == "plain" && !with_plain {
                continue;
            }
            let mut body = || {
                group.bench_function(BenchmarkId::new(name, mode), |b| {
                    if let Some(settle) = settle {
                        b.iter_custom(|iters| {
                            let start = Instant::now();
                            for _ in 0..iters {
                                if name == "fastrace" {
                                    let root = fastrace_root();
                                    let _parent = root.set_local_parent();
                                    black_box(f(black_box(7)));
                                } else {
                                    let root = tracing::info_span!("root");
                                    let _entered = root.enter();
                                    black_box(f(black_box(7)));
                                }
                            }
                            let elapsed = start.elapsed();
                            settle(name);
                            elapsed
                        });
                    } else if name == "fastrace" {
                        b.iter(|| {
                            let root = fastrace_root();
                            let _parent = root.set_local_parent();
                            f(black_box(7))
                        });
                    } else {
                        b.iter(|| f(black_box(7)));
                    }
                });
            };
            match dispatch_for(name) {
                Some(dispatch) => tracing::dispatcher::with_default(&dispatch, body),
                None => body(),
            }
        }
    }
    group.finish();
}

/// fastrace with no root: its spans are not even created.
fn fastrace_no_root() -> fastrace::Span {
    fastrace::Span::noop()
}

fn s1(c: &mut Criterion) {
    group(c, "S1", &|_| None, &fastrace_no_root, true, None);
}

fn s2(c: &mut Criterion) {
    let dispatch = Dispatch::new(
        tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::WARN),
    );
    group(
        c,
        "S2",
        &|_| Some(dispatch.clone()),
        &fastrace_no_root,
        true,
        None,
    );
}

fn s3(c: &mut Criterion) {
    let provider = otel_provider(Sampler::AlwaysOff);
    let stock = stock_pipeline(&provider);
    let (traced, guard) = traced_pipeline(SamplerConfig::AlwaysOff);
    group(
        c,
        "S3",
        &|name| {
            Some(if name == "traced" {
                traced.clone()
            } else {
                stock.clone()
            })
        },
        // fastrace is measured under an unsampled root, its cheapest way to drop a trace.
        &|| {
            fastrace::Span::root(
                "root",
                fastrace::collector::SpanContext::random().sampled(false),
            )
        },
        true,
        None,
    );
    drop(guard);
    let _ = provider.shutdown();
}

fn s4(c: &mut Criterion) {
    let provider = otel_provider(Sampler::AlwaysOn);
    let stock = stock_pipeline(&provider);
    let (traced, guard) = traced_pipeline(SamplerConfig::AlwaysOn);
    fastrace::set_reporter(
        fastrace_opentelemetry::OpenTelemetryReporter::new(
            DropSpans,
            std::borrow::Cow::Owned(opentelemetry_sdk::Resource::builder().build()),
            opentelemetry::InstrumentationScope::builder("bench").build(),
        ),
        fastrace::collector::Config::default(),
    );
    group(
        c,
        "S4",
        &|name| {
            Some(if name == "traced" {
                traced.clone()
            } else {
                stock.clone()
            })
        },
        &|| fastrace::Span::root("root", fastrace::collector::SpanContext::random()),
        false,
        Some(&|name| match name {
            "traced" => guard.force_flush().expect("traced flush"),
            "fastrace" => fastrace::flush(),
            _ => provider.force_flush().expect("stock flush"),
        }),
    );
    fastrace::flush();
    let (_, stats) = guard.shutdown_with_stats();
    println!(
        "traced S4 export: {} exported, {} dropped, {} failed",
        stats.exported, stats.dropped, stats.failed
    );
    assert_all_exported("S4", &stats);
    let _ = provider.shutdown();
}

/// S4 with tail sampling keeping 1 % of the traces: `traced` alone, the others have nothing like it.
fn s4_tail(c: &mut Criterion) {
    let stats = s4_traced(
        c,
        "S4T",
        traced::Config::builder()
            .with_sampler(SamplerConfig::ParentBasedTraceIdRatio(0.01))
            .with_tail_sampling(TailSampling::new().keep_errors().keep_ratio(0.01)),
        LogFormat::None,
    );
    println!(
        "traced S4T export: {} exported, {} dropped, {} failed, {} discarded by tail sampling",
        stats.exported, stats.dropped, stats.failed, stats.tail_discarded
    );
}

/// S4 beside the compact log format, `init`'s default layout: `traced` alone.
fn s4_log_lines(c: &mut Criterion) {
    let stats = s4_traced(
        c,
        "S4L",
        traced::Config::builder().with_sampler(SamplerConfig::AlwaysOn),
        LogFormat::Compact,
    );
    println!(
        "traced S4L export: {} exported, {} dropped, {} failed",
        stats.exported, stats.dropped, stats.failed
    );
}

/// S4's iterations for `traced` alone, as the group `name`, under the pipeline of `builder` and `format`; fails
/// if a span was lost.
fn s4_traced(
    c: &mut Criterion,
    name: &str,
    builder: ConfigBuilder,
    format: LogFormat,
) -> traced::Stats {
    let (traced, guard) = traced_pipeline_with(builder, format);
    let mut group = c.benchmark_group(name);
    for (mode, f) in [("sync", SYNC[1].1), ("async", ASYNC[1].1)] {
        tracing::dispatcher::with_default(&traced, || {
            group.bench_function(BenchmarkId::new("traced", mode), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let root = tracing::info_span!("root");
                        let _entered = root.enter();
                        black_box(f(black_box(7)));
                    }
                    let elapsed = start.elapsed();
                    // Untimed, as S4's: what the sample produced reaches the exporter before the next one.
                    guard.force_flush().expect("traced flush");
                    elapsed
                });
            });
        });
    }
    group.finish();
    let (_, stats) = guard.shutdown_with_stats();
    assert_all_exported(name, &stats);
    stats
}

/// Reads criterion's estimates and prints `traced` against the others, per state and mode.
fn print_ratios() {
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(
            || std::path::PathBuf::from("target"),
            std::path::Path::to_path_buf,
        )
        .join("criterion");
    let mean = |state: &str, name: &str, mode: &str| -> Option<f64> {
        let path = root
            .join(state)
            .join(name)
            .join(mode)
            .join("new/estimates.json");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        json["mean"]["point_estimate"].as_f64()
    };
    println!("\nstate mode   | plain ns | traced ns | instrument ns | fastrace ns | traced/instrument | traced/fastrace");
    for state in ["S1", "S2", "S3", "S4"] {
        for mode in ["sync", "async"] {
            let (p, t, i, f) = (
                mean(state, "plain", mode),
                mean(state, "traced", mode),
                mean(state, "instrument", mode),
                mean(state, "fastrace", mode),
            );
            println!(
                "{state} {mode:<6} | {:>8} | {:>9} | {:>13} | {:>11} | {:>17} | {:>15}",
                cell(p),
                cell(t),
                cell(i),
                cell(f),
                ratio(t, i),
                ratio(t, f)
            );
        }
    }
    for (group, what) in [
        ("S4T", "tail sampling, 1 % kept"),
        ("S4L", "the compact log format"),
    ] {
        println!("\n{what} | traced {group} ns | traced S4 ns | {group} / S4");
        for mode in ["sync", "async"] {
            let (variant, s4) = (mean(group, "traced", mode), mean("S4", "traced", mode));
            println!(
                "{group} {mode:<6} | {:>13} | {:>12} | {:>8}",
                cell(variant),
                cell(s4),
                ratio(variant, s4)
            );
        }
    }
}

/// A mean in ns, or `-` when criterion has none.
fn cell(mean: Option<f64>) -> String {
    mean.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

/// `a / b` as `0.55x`, or `-`.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".to_owned(),
    }
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    s1(&mut criterion);
    s2(&mut criterion);
    s3(&mut criterion);
    s4(&mut criterion);
    s4_tail(&mut criterion);
    s4_log_lines(&mut criterion);
    criterion.final_summary();
    print_ratios();
}
