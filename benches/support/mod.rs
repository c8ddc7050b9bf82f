//! What the benches share beside `traced_test_support`: a real collector (rotel) forwarding to a sink that counts
//! the bench's spans, the producer loop, the re-execution of the bench binary as a child per measured run, an
//! exporter that drops every batch, and a poll loop with no executor.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::process::Command;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use traced::config::{ExporterKind, LogFormat, Protocol};
use traced_test_support::{free_addr, rotel_agent, Receiver, Rotel};
use tracing_subscriber::layer::SubscriberExt;

/// Drops every batch: measures the pipeline, not a network.
#[derive(Debug)]
pub struct DropSpans;

impl SpanExporter for DropSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

/// Polls a future that completes without waiting: the cost of the future itself, no executor. Inlined, as it
/// was in each bench: out of line every async row measures the call too.
#[inline(always)]
pub fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// The name of every span a producer creates; the sink counts these only, so a pipeline that also exported
/// spans of its own transport (h2, hyper) would not inflate its count.
pub const SPAN_NAME: &str = "work";

/// The fn every `traced` producer calls.
#[traced::traced(name = "work")]
#[inline(never)]
pub fn traced_work(x: u64) -> u64 {
    std::hint::black_box(x) + 1
}

/// The fn every stock producer calls.
#[tracing::instrument(name = "work", skip_all)]
#[inline(never)]
pub fn instrument_work(x: u64) -> u64 {
    std::hint::black_box(x) + 1
}

/// `traced`'s own pipeline to the OTLP `endpoint`, default batch settings, installed by `Config::init` as the
/// global subscriber, as an application does.
pub fn install_traced(protocol: Protocol, endpoint: &str, service: &str) -> traced::Guard {
    install_traced_with(traced::Config::builder(), protocol, endpoint, service)
}

/// [`install_traced`] over the options `builder` sets already.
pub fn install_traced_with(
    builder: traced::config::ConfigBuilder,
    protocol: Protocol,
    endpoint: &str,
    service: &str,
) -> traced::Guard {
    let config = builder
        .without_env()
        .with_service_name(service)
        .with_exporters([ExporterKind::Otlp])
        .with_protocol(protocol)
        .with_otlp_traces_endpoint(endpoint)
        // Traces only, as the stock pipeline it is compared with: the default metrics and logs exporters would
        // push to a collector on localhost that is not there.
        .with_metrics_exporters([])
        .with_logs_exporters([])
        .with_log_format(LogFormat::None)
        .build()
        .expect("bench config");
    config.init().expect("traced pipeline")
}

/// The stock pipeline as the global subscriber: tracing-opentelemetry over the SDK batch processor with its
/// default settings and `exporter`.
pub fn install_stock(
    exporter: opentelemetry_otlp::SpanExporter,
    service: &str,
) -> SdkTracerProvider {
    let provider = SdkTracerProvider::builder()
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .with_batch_exporter(exporter)
        .build();
    // INFO, as applications filter: without it the transports' own TRACE spans would be exported too.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
    provider
}

/// The tonic span exporter to `endpoint`, created inside `runtime` (its channel runs there).
pub fn tonic_exporter(
    runtime: &tokio::runtime::Runtime,
    endpoint: &str,
) -> opentelemetry_otlp::SpanExporter {
    use opentelemetry_otlp::WithExportConfig as _;
    let _entered = runtime.enter();
    opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .expect("otlp exporter")
}

/// `BENCH_QUICK=1`: short runs, to test the bench and `benches/run`, not to measure.
pub fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// An OTLP receiver that only counts the spans named [`SPAN_NAME`]: storing them would put the sink's own work
/// into the figures it measures.
pub fn sink() -> Receiver {
    sink_named(SPAN_NAME)
}

/// A sink counting the spans named `name` only.
pub fn sink_named(name: &str) -> Receiver {
    Receiver::builder().count_only(name).start()
}

/// A rotel forwarding to `sink`, on fresh loopback ports: one per measured run, so nothing of a run is still
/// in flight during the next one.
pub fn start_rotel(sink: &Receiver) -> Rotel {
    Rotel::start(&rotel_agent(), free_addr(), free_addr(), sink.addr)
}

/// Calls `f` as fast as it can until `duration` passed; returns how many calls were made.
pub fn produce_for(duration: Duration, f: fn(u64) -> u64) -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    // Reading the clock every call would be a sizable part of a call: every 256 calls is enough.
    while start.elapsed() < duration {
        for _ in 0..256 {
            std::hint::black_box(f(std::hint::black_box(n)));
            n += 1;
        }
    }
    n
}

/// Calls `f` at `rate` calls a second for `duration` (each millisecond the calls due so far, then a sleep) and
/// returns how many it made: a load the pipeline is meant to carry without loss.
pub fn produce_paced(duration: Duration, rate: u64, f: fn(u64) -> u64) -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= duration {
            return n;
        }
        let due = (elapsed.as_secs_f64() * rate as f64) as u64;
        while n < due {
            std::hint::black_box(f(std::hint::black_box(n)));
            n += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// CPU seconds (user + system) in a `/proc/.../stat` file: a process's, dead threads included, or a thread's.
fn stat_cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime, fields 14 and 15, in clock ticks of 1/100 s (USER_HZ on Linux).
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    (field(14).unwrap_or(0.0) + field(15).unwrap_or(0.0)) / 100.0
}

/// CPU seconds used so far by this process and by the calling thread alone: their difference is what the
/// pipeline's own threads cost, whatever else the machine was running.
pub fn cpu_seconds() -> (f64, f64) {
    (
        stat_cpu_seconds("/proc/self/stat"),
        stat_cpu_seconds("/proc/thread-self/stat"),
    )
}

/// CPU seconds used so far by process `pid` (rotel).
pub fn process_cpu_seconds(pid: u32) -> f64 {
    stat_cpu_seconds(&format!("/proc/{pid}/stat"))
}

/// The words given on the command line that are not flags (`cargo bench` passes `--bench`): run names to keep.
pub fn filters() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect()
}

/// True when `name` is to run: no filter, or one it contains.
pub fn selected(filters: &[String], name: &str) -> bool {
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// The arguments after `--child`, when this process is a child run.
pub fn child_args() -> Option<Vec<String>> {
    let mut args = std::env::args().skip_while(|a| a != "--child");
    args.next()?;
    Some(args.collect())
}

/// Runs this bench binary again as a child with `args`, and returns the `key=value` pairs of its `RESULT` line.
pub fn run_child(args: &[String]) -> Vec<(String, String)> {
    let exe = std::env::current_exe().expect("the bench binary");
    let output = Command::new(exe)
        .arg("--child")
        .args(args)
        .output()
        .expect("cannot run the bench child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child {args:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("child {args:?} printed no RESULT line:\n{stdout}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The value of `key` in a child's result.
pub fn field<T: std::str::FromStr>(result: &[(String, String)], key: &str) -> T {
    result
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in the child's result {result:?}"))
}
