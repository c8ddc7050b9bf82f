//! Export throughput: spans per second that reach a real collector (rotel, forwarding to a counting sink) from
//! one thread creating spans as fast as it can, over OTLP/gRPC and OTLP/HTTP protobuf, for
//!
//! - `traced`: `#[traced]` through its own pipeline (`Config::layer`, default batch settings), its drops read
//!   from the guard;
//! - stock: `#[tracing::instrument]` with tracing-opentelemetry, the SDK batch processor with its default
//!   settings and the `opentelemetry-otlp` exporter (tonic for gRPC, the blocking reqwest client for HTTP); its
//!   drops are what was produced and never arrived.
//!
//! Each pipeline × protocol runs in a child process of its own (this binary, re-executed with `--child`), against
//! a fresh rotel, in rounds that alternate the pipelines (3; 1 with `BENCH_QUICK=1`), and the summary takes the
//! median. Spans/s = spans received / time from the first span to the end of the flush at shutdown. Export CPU
//! per span = CPU time of every thread of the child but the producer / spans received: what the export path
//! costs, which a busy machine changes less than it changes spans/s; rotel + sink CPU per span is the same for
//! the collector's side.
//!
//! Run: `cargo bench --bench export` (`BENCH_QUICK=1` for a short run; `-- traced/grpc` runs the runs whose
//! `pipeline/protocol` contains one of the words given).

mod support;

use std::time::{Duration, Instant};

use opentelemetry_otlp::WithExportConfig as _;
use support::field;
use traced::config::Protocol;
use traced_test_support::Receiver;

const PIPELINES: [&str; 2] = ["traced", "stock"];
const PROTOCOLS: [&str; 2] = ["grpc", "http"];

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
        for protocol in PROTOCOLS {
            for pipeline in PIPELINES {
                if support::selected(&filters, &format!("{pipeline}/{protocol}")) {
                    let row = run(&sink, pipeline, protocol, seconds);
                    println!("{}", row.line());
                    rows.push(row);
                }
            }
        }
    }
    print_table(&rows);
}

/// One child run against a fresh rotel.
fn run(sink: &Receiver, pipeline: &'static str, protocol: &'static str, seconds: f64) -> Row {
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
    ]);
    let produced: u64 = field(&result, "produced");
    let received =
        sink.settle((before + produced) as usize, Duration::from_secs(2)) as u64 - before;
    let collector_cpu_s =
        support::process_cpu_seconds(rotel.id()) + support::cpu_seconds().0 - cpu_before;
    Row {
        pipeline,
        protocol,
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
            "| {} | {} | {} | {:.2} | {} | {} | {:.2} | {:.0} | {:.2} | {:.2} |",
            self.pipeline,
            self.protocol,
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
    println!("\nexport throughput (spans received at the sink through rotel), every run");
    println!("| pipeline | protocol | produced | producer s | received | dropped | until flushed s | spans/s | export CPU µs/span | rotel + sink CPU µs/span |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{}", row.line());
    }
    println!("\nexport summary (median of the runs)");
    println!("| protocol | traced spans/s | stock spans/s | traced / stock | export CPU µs/span traced | stock | rotel + sink CPU µs/span traced | stock |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for protocol in PROTOCOLS {
        let of = |pipeline: &str, f: fn(&Row) -> f64| {
            median(
                rows.iter()
                    .filter(|r| r.pipeline == pipeline && r.protocol == protocol)
                    .map(f)
                    .collect(),
            )
        };
        let (traced, stock) = (of("traced", Row::rate), of("stock", Row::rate));
        println!(
            "| {protocol} | {traced:.0} | {stock:.0} | {:.2}x | {:.2} | {:.2} | {:.2} | {:.2} |",
            traced / stock,
            of("traced", Row::cpu_us_per_span),
            of("stock", Row::cpu_us_per_span),
            of("traced", Row::collector_us_per_span),
            of("stock", Row::collector_us_per_span)
        );
    }
}

/// One measured run: `pipeline protocol endpoint seconds`.
fn child(args: &[String]) {
    let [pipeline, protocol, endpoint, seconds] = args else {
        panic!("usage: --child traced|stock grpc|http ENDPOINT SECONDS");
    };
    let duration = Duration::from_secs_f64(seconds.parse().expect("seconds"));
    match pipeline.as_str() {
        "traced" => child_traced(protocol, endpoint, duration),
        "stock" => child_stock(protocol, endpoint, duration),
        other => panic!("unknown pipeline {other}"),
    }
}

fn child_traced(protocol: &str, endpoint: &str, duration: Duration) {
    let protocol = match protocol {
        "grpc" => Protocol::Grpc,
        _ => Protocol::HttpProtobuf,
    };
    let guard = support::install_traced(protocol, endpoint, "bench-export");
    let start = Instant::now();
    let produced = support::produce_for(duration, support::traced_work);
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

fn child_stock(protocol: &str, endpoint: &str, duration: Duration) {
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
    let produced = support::produce_for(duration, support::instrument_work);
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
