//! What the function metrics cost per call, in one run: a `#[traced]` fn whose trace the sampler drops (S3) with
//! metrics off and on, against `#[autometrics]` (autometrics 3, prometheus-client backend), and the no-subscriber
//! state (S1) with metrics off, which the metrics must leave unchanged. Two `Instant::now()` are measured beside
//! them: the clock the metrics would read without the time-stamp counter.
//!
//! Targets (issue 11): metrics on ≤ 40 ns more than off, and ≤ 0.5x `#[autometrics]`.
//!
//! Run: `cargo bench --bench metrics` (the ratio table is printed last).

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use support::{run, DropSpans};
use traced::config::{LogFormat, MetricsExporterKind, SamplerConfig};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

#[inline(never)]
fn plain(x: u64) -> u64 {
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

#[autometrics::autometrics]
#[inline(never)]
fn autometrics_sync(x: u64) -> u64 {
    black_box(x) + 1
}

#[autometrics::autometrics]
#[inline(never)]
async fn autometrics_async(x: u64) -> u64 {
    black_box(x) + 1
}

/// `traced`'s pipeline with a sampler that drops every trace, with the function metrics on or off.
fn pipeline(metrics: bool) -> (Dispatch, traced::Guard) {
    let exporters = if metrics {
        vec![MetricsExporterKind::Prometheus]
    } else {
        Vec::new()
    };
    let config = traced::Config::builder()
        .without_env()
        .with_sampler(SamplerConfig::AlwaysOff)
        .with_exporters([])
        .with_span_exporter(DropSpans)
        .with_metrics_exporters(exporters)
        .with_prometheus_host("127.0.0.1")
        .with_prometheus_port(0)
        .with_log_format(LogFormat::None)
        .build()
        .expect("bench config");
    let (layer, guard) = config.layer().expect("traced pipeline");
    (
        Dispatch::new(tracing_subscriber::registry().with(layer)),
        guard,
    )
}

type Bench = (&'static str, fn(u64) -> u64);

fn bench(c: &mut Criterion, group: &str, benches: &[Bench], dispatch: Option<&Dispatch>) {
    let mut criterion_group = c.benchmark_group(group);
    for (name, f) in benches {
        let mut body = || {
            criterion_group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| f(black_box(7)))
            });
        };
        match dispatch {
            Some(dispatch) => tracing::dispatcher::with_default(dispatch, body),
            None => body(),
        }
    }
    criterion_group.finish();
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    let traced: [Bench; 2] = [
        ("traced sync", traced_sync),
        ("traced async", |x| run(traced_async(x))),
    ];

    // S1: no subscriber, no pipeline: metrics off, the expansion's cost as before.
    bench(
        &mut criterion,
        "metrics S1 off",
        &[("plain", plain), traced[0], traced[1]],
        None,
    );
    // S3 with metrics off, then on.
    let (off, guard) = pipeline(false);
    bench(&mut criterion, "metrics S3 off", &traced, Some(&off));
    drop(guard);
    let (on, guard) = pipeline(true);
    bench(&mut criterion, "metrics S3 on", &traced, Some(&on));
    assert_calls_counted(&on, &guard);
    drop(guard);
    // autometrics, on its own.
    bench(
        &mut criterion,
        "autometrics",
        &[
            ("autometrics sync", autometrics_sync),
            ("autometrics async", |x| run(autometrics_async(x))),
        ],
        None,
    );
    // The clock: what two reads of `Instant` cost here.
    let mut group = criterion.benchmark_group("clock");
    group.bench_function("two Instant::now", |b| {
        b.iter(|| black_box(Instant::now()).elapsed());
    });
    group.finish();
    criterion.final_summary();
    print_ratios();
}

/// `traced_sync`'s `function_calls_total` on the pipeline's Prometheus endpoint, summed over its series.
fn calls_scraped(guard: &traced::Guard) -> f64 {
    use std::io::{Read, Write};
    let addr = guard.prometheus_addr().expect("a Prometheus endpoint");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to /metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
        .expect("request /metrics");
    let mut page = String::new();
    stream.read_to_string(&mut page).expect("read /metrics");
    page.lines()
        .filter(|line| {
            line.starts_with("function_calls_total{") && line.contains("function=\"traced_sync\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The metrics the bench recorded are there to export: 1,000 more calls after it count exactly 1,000 on the
/// Prometheus endpoint, none lost to an overflow or a dropped series.
fn assert_calls_counted(dispatch: &Dispatch, guard: &traced::Guard) {
    const CALLS: u32 = 1_000;
    let before = calls_scraped(guard);
    tracing::dispatcher::with_default(dispatch, || {
        for _ in 0..CALLS {
            traced_sync(black_box(7));
        }
    });
    let after = calls_scraped(guard);
    println!("metrics S3 on: function_calls_total of traced_sync {before} after the bench, {after} after {CALLS} more");
    assert!(before > 0.0, "the bench's calls were not counted");
    assert_eq!(after - before, f64::from(CALLS), "calls lost");
}

/// Reads criterion's estimates and prints the per-call figures and the two target ratios.
fn print_ratios() {
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(
            || std::path::PathBuf::from("target"),
            std::path::Path::to_path_buf,
        )
        .join("criterion");
    let mean = |group: &str, name: &str| -> Option<f64> {
        let path = root.join(group).join(name).join("new/estimates.json");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        json["mean"]["point_estimate"].as_f64()
    };
    let cell = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    println!("\nmetrics mode | S1 traced ns | S3 off ns | S3 on ns | on - off ns | autometrics ns | on / autometrics");
    for mode in ["sync", "async"] {
        let s1 = mean("metrics S1 off", &format!("traced {mode}"));
        let off = mean("metrics S3 off", &format!("traced {mode}"));
        let on = mean("metrics S3 on", &format!("traced {mode}"));
        let auto = mean("autometrics", &format!("autometrics {mode}"));
        let added = on.zip(off).map(|(on, off)| on - off);
        let ratio = on
            .zip(auto)
            .map_or_else(|| "-".to_owned(), |(on, auto)| format!("{:.2}x", on / auto));
        println!(
            "{mode:<12} | {:>12} | {:>9} | {:>8} | {:>11} | {:>14} | {ratio:>16}",
            cell(s1),
            cell(off),
            cell(on),
            cell(added),
            cell(auto)
        );
    }
    println!(
        "clock        | two Instant::now: {} ns | S1 plain: {} ns",
        cell(mean("clock", "two Instant__now")),
        cell(mean("metrics S1 off", "plain"))
    );
}
