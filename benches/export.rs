//! Export to a real collector (rotel, forwarding to a counting sink) over OTLP/gRPC and OTLP/HTTP protobuf, from
//! one thread creating spans, in two modes, for
//!
//! - `traced`: `#[traced]` through its own pipeline (`Config::layer`, default batch settings), its drops read
//!   from the guard;
//! - stock: `#[tracing::instrument]` with tracing-opentelemetry, the SDK batch processor with its default
//!   settings and the `opentelemetry-otlp` exporter (tonic for gRPC, the blocking reqwest client for HTTP); its
//!   drops are what was produced and never arrived.
//!
//! - **flood**: the producer creates spans as fast as it can. Spans/s = spans received / time from the first span
//!   to the end of the flush at shutdown: the pipeline's export capacity. The producer outruns every pipeline,
//!   so each drops the excess (printed, not a failure: it is what a full queue is for); traced's run fails
//!   unless every span is accounted for (received, or counted dropped or failed by the guard);
//! - **paced**: the producer creates `BENCH_EXPORT_RATE` spans a second (default 20,000, well within both
//!   pipelines' capacity), and every span must arrive: any drop or failure fails the bench. Its figure is the
//!   export CPU per span at a load the pipeline carries, the same load for both.
//!
//! Each pipeline × protocol × mode runs in a child process of its own (this binary, re-executed with `--child`),
//! against a fresh rotel, in rounds that alternate the pipelines (3; 1 with `BENCH_QUICK=1`), and the summaries
//! take the medians. Export CPU per span = CPU time of every thread of the child but the producer / spans
//! received: what the export path costs, which a busy machine changes less than it changes spans/s; rotel + sink
//! CPU per span is the same for the collector's side.
//!
//! Run: `cargo bench --bench export` (`BENCH_QUICK=1` for a short run; `-- traced/grpc` runs the runs whose
//! `pipeline/protocol/mode` contains one of the words given).

mod support;

use std::time::{Duration, Instant};

use opentelemetry_otlp::WithExportConfig as _;
use support::field;
use traced::config::Protocol;
use traced_test_support::Receiver;

const PIPELINES: [&str; 2] = ["traced", "stock"];
const PROTOCOLS: [&str; 2] = ["grpc", "http"];
/// Flood: as fast as the producer can; paced: [`paced_rate`] spans a second, with no loss allowed.
const MODES: [&str; 2] = ["flood", "paced"];

/// `BENCH_EXPORT_RATE`, spans a second of a paced run.
fn paced_rate() -> u64 {
    std::env::var("BENCH_EXPORT_RATE")
        .ok()
        .map(|rate| {
            rate.parse()
                .expect("BENCH_EXPORT_RATE: spans a second, a whole number")
        })
        .unwrap_or(20_000)
}

fn main() {
    if let Some(args) = support::child_args() {
        return child(&args);
    }
    let (seconds, rounds) = if support::quick() { (1.0, 1) } else { (5.0, 3) };
    let filters = support::filters();
    let sink = support::sink();
    let mut rows = Vec::new();
    // Rounds alternate the pipelines, so a burst of load from elsewhere on the machine hits both alike.
    for _ in 0..rounds {
        for mode in MODES {
            for protocol in PROTOCOLS {
                for pipeline in PIPELINES {
                    if support::selected(&filters, &format!("{pipeline}/{protocol}/{mode}")) {
                        let rate = if mode == "paced" { paced_rate() } else { 0 };
                        let row = run(&sink, pipeline, protocol, seconds, rate);
                        println!("{}", row.line());
                        rows.push(row);
                    }
                }
            }
        }
    }
    print_table(&rows);
    let lost: Vec<String> = rows
        .iter()
        .filter(|row| row.rate > 0 && (row.dropped > 0 || row.received != row.produced))
        .map(Row::line)
        .collect();
    assert!(
        lost.is_empty(),
        "paced runs must lose nothing; these did:\n{}",
        lost.join("\n")
    );
    // A flood drops by design, but traced must account for every span: received, or counted by the guard as
    // dropped or failed (the stock pipeline's drops are uncounted: produced - received is all there is).
    let unaccounted: Vec<String> = rows
        .iter()
        .filter(|row| row.pipeline == "traced" && row.received + row.dropped != row.produced)
        .map(Row::line)
        .collect();
    assert!(
        unaccounted.is_empty(),
        "traced runs must account for every span (received + dropped + failed = produced):\n{}",
        unaccounted.join("\n")
    );
}

/// One child run against a fresh rotel.
/// One child run against a fresh rotel: `rate` spans a second, or as fast as it can for 0.
fn run(
    sink: &Receiver,
    pipeline: &'static str,
    protocol: &'static str,
    seconds: f64,
    rate: u64,
) -> Row {
    let rotel = support::start_rotel(sink);
    let endpoint = match protocol {
        "grpc" => format!("http://{}", rotel.grpc),
        _ => format!("http://{}/v1/traces", rotel.http),
    };
    let before = sink.span_count() as u64;
    // The sink's threads are the only busy ones of this process.
    let cpu_before = support::cpu_seconds().0;
    let result = support::run_child(&[
        pipeline.to_owned(),
        protocol.to_owned(),
        endpoint,
        seconds.to_string(),
        rate.to_string(),
    ]);
    let produced: u64 = field(&result, "produced");
    let received =
        sink.settle((before + produced) as usize, Duration::from_secs(2)) as u64 - before;
    let collector_cpu_s =
        support::process_cpu_seconds(rotel.id()) + support::cpu_seconds().0 - cpu_before;
    Row {
        pipeline,
        protocol,
        rate,
        produced,
        produce_s: field(&result, "produce_s"),
        total_s: field(&result, "total_s"),
        received,
        // traced counts its losses; the stock pipeline's are what never arrived.
        dropped: match pipeline {
            "traced" => field::<u64>(&result, "dropped") + field::<u64>(&result, "failed"),
            _ => produced - received,
        },
        export_cpu_s: field::<f64>(&result, "cpu_s") - field::<f64>(&result, "main_cpu_s"),
        collector_cpu_s,
    }
}

struct Row {
    pipeline: &'static str,
    protocol: &'static str,
    /// Spans a second of a paced run; 0 for a flood.
    rate: u64,
    produced: u64,
    produce_s: f64,
    total_s: f64,
    received: u64,
    dropped: u64,
    /// CPU of every thread but the producer's: the export path.
    export_cpu_s: f64,
    /// CPU of rotel and of the sink.
    collector_cpu_s: f64,
}

impl Row {
    fn mode(&self) -> String {
        match self.rate {
            0 => "flood".to_owned(),
            rate => format!("paced {rate}/s"),
        }
    }

    fn rate(&self) -> f64 {
        self.received as f64 / self.total_s
    }

    fn cpu_us_per_span(&self) -> f64 {
        self.export_cpu_s * 1e6 / self.received.max(1) as f64
    }

    fn collector_us_per_span(&self) -> f64 {
        self.collector_cpu_s * 1e6 / self.received.max(1) as f64
    }

    fn line(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {:.2} | {} | {} | {:.2} | {:.0} | {:.2} | {:.2} |",
            self.pipeline,
            self.protocol,
            self.mode(),
            self.produced,
            self.produce_s,
            self.received,
            self.dropped,
            self.total_s,
            self.rate(),
            self.cpu_us_per_span(),
            self.collector_us_per_span()
        )
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn print_table(rows: &[Row]) {
    println!("\nexport runs (spans received at the sink through rotel)");
    println!("| pipeline | protocol | mode | produced | producer s | received | dropped | until flushed s | spans/s | export CPU µs/span | rotel + sink CPU µs/span |");
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{}", row.line());
    }
    let of = |pipeline: &str, protocol: &str, paced: bool, f: fn(&Row) -> f64| {
        median(
            rows.iter()
                .filter(|r| {
                    r.pipeline == pipeline && r.protocol == protocol && (r.rate > 0) == paced
                })
                .map(f)
                .collect(),
        )
    };
    println!("\nexport summary, flood: capacity (median of the runs)");
    println!("| protocol | traced spans/s | stock spans/s | traced / stock | export CPU µs/span traced | stock | rotel + sink CPU µs/span traced | stock |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for protocol in PROTOCOLS {
        let (traced, stock) = (
            of("traced", protocol, false, Row::rate),
            of("stock", protocol, false, Row::rate),
        );
        println!(
            "| {protocol} | {traced:.0} | {stock:.0} | {:.2}x | {:.2} | {:.2} | {:.2} | {:.2} |",
            traced / stock,
            of("traced", protocol, false, Row::cpu_us_per_span),
            of("stock", protocol, false, Row::cpu_us_per_span),
            of("traced", protocol, false, Row::collector_us_per_span),
            of("stock", protocol, false, Row::collector_us_per_span)
        );
    }
    println!(
        "\nexport summary, paced at {} spans/s, nothing lost (median of the runs)",
        paced_rate()
    );
    println!("| protocol | export CPU µs/span traced | stock | stock / traced | rotel + sink CPU µs/span traced | stock |");
    println!("|---|---:|---:|---:|---:|---:|");
    for protocol in PROTOCOLS {
        let (traced, stock) = (
            of("traced", protocol, true, Row::cpu_us_per_span),
            of("stock", protocol, true, Row::cpu_us_per_span),
        );
        println!(
            "| {protocol} | {traced:.2} | {stock:.2} | {:.2}x | {:.2} | {:.2} |",
            stock / traced,
            of("traced", protocol, true, Row::collector_us_per_span),
            of("stock", protocol, true, Row::collector_us_per_span)
        );
    }
}

/// One measured run: `pipeline protocol endpoint seconds rate` (0: as fast as it can).
fn child(args: &[String]) {
    let [pipeline, protocol, endpoint, seconds, rate] = args else {
        panic!("usage: --child traced|stock grpc|http ENDPOINT SECONDS RATE");
    };
    let duration = Duration::from_secs_f64(seconds.parse().expect("seconds"));
    let rate: u64 = rate.parse().expect("rate");
    let produce = move |f: fn(u64) -> u64| match rate {
        0 => support::produce_for(duration, f),
        rate => support::produce_paced(duration, rate, f),
    };
    match pipeline.as_str() {
        "traced" => child_traced(protocol, endpoint, produce),
        "stock" => child_stock(protocol, endpoint, produce),
        other => panic!("unknown pipeline {other}"),
    }
}

fn child_traced(protocol: &str, endpoint: &str, produce: impl Fn(fn(u64) -> u64) -> u64) {
    let protocol = match protocol {
        "grpc" => Protocol::Grpc,
        _ => Protocol::HttpProtobuf,
    };
    let guard = support::install_traced(protocol, endpoint, "bench-export");
    let start = Instant::now();
    let produced = produce(support::traced_work);
    let produce_s = start.elapsed().as_secs_f64();
    let (result, stats) = guard.shutdown_with_stats();
    let total_s = start.elapsed().as_secs_f64();
    if let Err(e) = result {
        eprintln!("shutdown: {e}");
    }
    let (cpu_s, main_cpu_s) = support::cpu_seconds();
    println!(
        "RESULT produced={produced} produce_s={produce_s} total_s={total_s} cpu_s={cpu_s} main_cpu_s={main_cpu_s} \
         exported={} dropped={} failed={}",
        stats.exported, stats.dropped, stats.failed
    );
}

fn child_stock(protocol: &str, endpoint: &str, produce: impl Fn(fn(u64) -> u64) -> u64) {
    // What a `#[tokio::main]` application gives the tonic exporter: a multi-thread runtime to run its channel.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let exporter = match protocol {
        "grpc" => {
            let _entered = runtime.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
        }
        // The blocking client, the default one for the SDK's thread-based batch processor; built outside the
        // runtime, as it runs one of its own.
        _ => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint)
            .build(),
    }
    .expect("otlp exporter");
    let provider = support::install_stock(exporter, "bench-export");
    let start = Instant::now();
    let produced = produce(support::instrument_work);
    let produce_s = start.elapsed().as_secs_f64();
    if let Err(e) = provider.shutdown() {
        eprintln!("shutdown: {e}");
    }
    let total_s = start.elapsed().as_secs_f64();
    drop(runtime);
    let (cpu_s, main_cpu_s) = support::cpu_seconds();
    println!(
        "RESULT produced={produced} produce_s={produce_s} total_s={total_s} cpu_s={cpu_s} main_cpu_s={main_cpu_s}"
    );
}
