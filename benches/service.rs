//! What tracing costs a real service: the server's CPU time per request of an axum route whose handler does
//! about 70 µs of CPU work over four nested fns, in three builds of the same code:
//!
//! - plain: no tracing at all;
//! - traced: `TraceLayer` and `#[traced]`, `traced`'s own pipeline with default settings (`LogFormat::None`),
//!   OTLP/gRPC;
//! - stock: `#[tracing::instrument]`, a hand-written server span middleware, tracing-opentelemetry and
//!   `opentelemetry-otlp` (tonic) behind the SDK batch processor with its default settings.
//!
//! Five sampled spans per request with the server span. Each build runs as a child process of its own (this
//! binary, re-executed with `--child`) exporting to a fresh rotel that forwards to a counting sink, in rounds
//! that alternate the builds (3; 1 with `BENCH_QUICK=1`); the summary takes the medians. The load generator is
//! this (parent) process: a few HTTP/1.1 connections, each sending its next request when the last response
//! arrived (closed loop), first to warm up, then for the measured window.
//!
//! The figure is the server's CPU time per request: every thread of the child (runtime workers, export
//! threads), summed from `/proc/self/task/*/schedstat` at the start and the end of the window, each read after a
//! flush, so the window holds the export of its own spans and no other's. Beside it, the export thread's share
//! of that time (the rest is the application's threads) and the context switches per request. Requests/s and
//! p50/p99 latency are the load generator's. Every span is accounted for: for `traced` the guard's exported + dropped + failed must
//! be 5 × requests and equal to what the sink got; for the stock pipeline the sink's count must be; any loss
//! fails the bench.
//!
//! Run: `cargo bench --features axum --bench service` (`BENCH_QUICK=1` for a short run; `-- traced` runs the
//! builds whose name contains one of the words given). A child serves until its standard
//! input closes; `BENCH_SERVICE_WRAP="perf record -g --"` runs each child under a profiler, and
//! `BENCH_SERVICE_SECONDS` sets the window's length (see docs/performance.md).

mod support;

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use opentelemetry::propagation::Extractor;
use support::field;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const BUILDS: [&str; 3] = ["plain", "traced", "stock"];

/// Spans per request: the server span and the four fns.
const SPANS_PER_REQUEST: u64 = 5;

/// The route, and the name of all five spans: the sink counts the spans of one name (the pipelines' own
/// transports must not inflate the count), the server span is named `{method} {route}`, so the fns are too.
const ROUTE: &str = "/work";
const SPAN_NAME: &str = "GET /work";

/// Concurrent connections of the load generator.
const CONNECTIONS: usize = 4;

/// Requests/s the load generator sends at most, all connections together: 5,000 spans/s, about a tenth of the
/// machine's CPU for the handler. Unpaced, the server takes both cores, the export threads, rotel and the sink
/// fall behind, and both pipelines drop spans (on this project's machine with other work on it: traced 6 %,
/// stock 36 %); at 2,000 requests/s `traced` still dropped a few hundred spans in one run of four when the
/// machine's load average was 13. `BENCH_SERVICE_RATE` sets another rate (0: as fast as the server answers).
const RATE: f64 = 1_000.0;

fn load_rate() -> f64 {
    match std::env::var("BENCH_SERVICE_RATE") {
        Ok(rate) => rate.parse().unwrap_or_else(|e| {
            panic!("BENCH_SERVICE_RATE={rate:?} is not a number of requests/s: {e}")
        }),
        Err(_) => RATE,
    }
}

/// Iterations of [`spin`] per fn: about 10, 20, 25 and 15 µs on this project's machine, 70 µs a request.
const HANDLE_ROUNDS: u64 = 6_000;
const LOAD_ROUNDS: u64 = 12_000;
const PRICE_ROUNDS: u64 = 15_000;
const TAX_ROUNDS: u64 = 9_000;

/// CPU work that the optimizer cannot remove or shorten: `rounds` steps of xorshift.
#[inline(never)]
fn spin(rounds: u64, seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = black_box(x);
    }
    x
}

/// The handler's fns, one copy per build, each with the build's attribute: `handle` (async) calls `load`, then
/// `price`, which calls `tax`. Each records the request's number, a small integer as ids are (a `u64` above
/// `i64::MAX` would be recorded as a string). The parameter's name is given, so that the attribute can name it.
macro_rules! handler {
    ($build:ident, $id:ident $(, #[$attr:meta])?) => {
        mod $build {
            use super::*;

            $(#[$attr])?
            pub async fn handle($id: u64) -> u64 {
                spin(HANDLE_ROUNDS, $id) ^ load($id) ^ price($id)
            }

            $(#[$attr])?
            #[inline(never)]
            fn load($id: u64) -> u64 {
                spin(LOAD_ROUNDS, $id)
            }

            $(#[$attr])?
            #[inline(never)]
            fn price($id: u64) -> u64 {
                spin(PRICE_ROUNDS, $id) ^ tax($id)
            }

            $(#[$attr])?
            #[inline(never)]
            fn tax($id: u64) -> u64 {
                spin(TAX_ROUNDS, $id)
            }
        }
    };
}

handler!(plain, id);
handler!(traced_build, id, #[traced::traced(name = "GET /work", args(id))]);
// `#[instrument]` records every argument by default: `id`, as `args(id)` does.
handler!(stock_build, id, #[tracing::instrument(name = "GET /work")]);

fn main() {
    if let Some(args) = support::child_args() {
        return child(&args);
    }
    let (warm_up, mut window, rounds) = if support::quick() {
        (Duration::from_millis(300), Duration::from_secs(1), 1)
    } else {
        (Duration::from_secs(1), Duration::from_secs(5), 3)
    };
    // A longer window, for a profile.
    if let Ok(seconds) = std::env::var("BENCH_SERVICE_SECONDS") {
        window = Duration::from_secs_f64(seconds.parse().unwrap_or_else(|e| {
            panic!("BENCH_SERVICE_SECONDS={seconds:?} is not a number of seconds: {e}")
        }));
    }
    println!(
        "handler work: {:.1} µs of CPU per request (the fastest of 100)",
        work_us()
    );
    let filters = support::filters();
    let sink = support::sink_named(SPAN_NAME);
    let mut rows = Vec::new();
    // Rounds alternate the builds, so a burst of load from elsewhere on the machine hits all alike.
    for _ in 0..rounds {
        for build in BUILDS {
            if support::selected(&filters, build) {
                let row = run(&sink, build, warm_up, window);
                println!("{}", row.line());
                rows.push(row);
            }
        }
    }
    print_table(&rows);
}

/// The time the handler's work alone takes: the fastest of 100 requests' worth of [`spin`].
fn work_us() -> f64 {
    (0..100)
        .map(|i| {
            let start = Instant::now();
            let mut x = spin(HANDLE_ROUNDS, i);
            x = spin(LOAD_ROUNDS, x);
            x = spin(PRICE_ROUNDS, x);
            black_box(spin(TAX_ROUNDS, x));
            start.elapsed().as_secs_f64() * 1e6
        })
        .fold(f64::INFINITY, f64::min)
}

/// One child run of `build` against a fresh rotel (none for the plain build, which exports nothing).
fn run(
    sink: &traced_test_support::Receiver,
    build: &'static str,
    warm_up: Duration,
    window: Duration,
) -> Row {
    let rotel = (build != "plain").then(|| support::start_rotel(sink));
    let endpoint = rotel
        .as_ref()
        .map_or_else(|| "-".to_owned(), |r| format!("http://{}", r.grpc));
    let before = sink.span_count() as u64;
    let mut server = Server::start(build, &endpoint);
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("load generator runtime");
    let rate = load_rate();
    let warm = load.block_on(generate(server.addr, warm_up, rate));
    let started_result = server.command("start", "STARTED");
    let started = Instant::now();
    let measured = load.block_on(generate(server.addr, window, rate));
    let window_s = started.elapsed().as_secs_f64();
    let window_result = server.command("stop", "WINDOW");
    let result = server.finish();
    let requests = warm.len() as u64 + measured.len() as u64;
    let served: u64 = field(&result, "served");
    assert_eq!(
        served, requests,
        "{build}: the server served {served} requests, the load generator sent {requests}"
    );
    let expected = SPANS_PER_REQUEST * requests;
    let received = match build {
        "plain" => 0,
        _ => sink.settle((before + expected) as usize, Duration::from_secs(2)) as u64 - before,
    };
    match build {
        "plain" => {}
        "traced" => {
            let (exported, dropped, failed): (u64, u64, u64) = (
                field(&result, "exported"),
                field(&result, "dropped"),
                field(&result, "failed"),
            );
            let stats = format!(
                "guard: exported {exported}, dropped {dropped} ({} by the window's start, {} by its end), \
                 failed {failed}; sink {received}",
                field::<u64>(&started_result, "dropped"),
                field::<u64>(&window_result, "dropped"),
            );
            println!("{build}: {stats}");
            assert_eq!(
                exported + dropped + failed,
                expected,
                "traced: spans unaccounted for ({expected} ended): {stats}"
            );
            assert_eq!(dropped + failed, 0, "traced: spans lost: {stats}");
            assert_eq!(
                received, exported,
                "traced: the sink did not get every span exported: {stats}"
            );
        }
        _ => assert_eq!(
            received,
            expected,
            "stock: {} of {expected} spans never arrived",
            expected - received
        ),
    }
    let mut latencies = measured;
    latencies.sort();
    Row {
        build,
        requests: latencies.len() as u64,
        window_s,
        cpu_ns: field(&window_result, "cpu_ns"),
        export_ns: field(&window_result, "export_ns"),
        switches: field(&window_result, "switches"),
        window_served: field(&window_result, "served"),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        received,
    }
}

/// The `q` quantile of sorted `latencies`, in µs.
fn percentile(latencies: &[Duration], q: f64) -> f64 {
    if latencies.is_empty() {
        return f64::NAN;
    }
    let index = ((latencies.len() - 1) as f64 * q).round() as usize;
    latencies[index].as_secs_f64() * 1e6
}

/// The closed-loop load: [`CONNECTIONS`] connections sending `GET /work` one after the other for `duration`,
/// together at most `rate` requests/s (0: as fast as the server answers); returns the latency of every request.
async fn generate(addr: SocketAddr, duration: Duration, rate: f64) -> Vec<Duration> {
    let deadline = Instant::now() + duration;
    let period = (rate > 0.0).then(|| Duration::from_secs_f64(CONNECTIONS as f64 / rate));
    let connections: Vec<_> = (0..CONNECTIONS)
        .map(|_| tokio::spawn(connection(addr, deadline, period)))
        .collect();
    let mut latencies = Vec::new();
    for connection in connections {
        latencies.extend(connection.await.expect("load connection"));
    }
    latencies
}

/// One connection: a request every `period` (or as soon as the last response arrived), never two at once.
async fn connection(
    addr: SocketAddr,
    deadline: Instant,
    period: Option<Duration>,
) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the server");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    let driver = tokio::spawn(conn);
    let uri = format!("http://{addr}{ROUTE}");
    let mut ticks = period.map(|period| {
        let mut ticks = tokio::time::interval(period);
        // A late response delays the next request; it does not cause a burst.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        if let Some(ticks) = &mut ticks {
            ticks.tick().await;
        }
        let request = http::Request::get(&uri)
            .header(http::header::HOST, addr.to_string())
            .header(http::header::USER_AGENT, "bench-service")
            .body(Empty::<Bytes>::new())
            .expect("request");
        let start = Instant::now();
        sender.ready().await.expect("connection ready");
        let response = sender.send_request(request).await.expect("response");
        assert!(
            response.status().is_success(),
            "status {}",
            response.status()
        );
        black_box(
            response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes(),
        );
        latencies.push(start.elapsed());
    }
    drop(sender);
    let _ = driver.await;
    latencies
}

/// A server child, driven over its standard input: `start` and `stop` bound the window, closing it ends the run.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
}

impl Server {
    /// Starts the child; under the command in `BENCH_SERVICE_WRAP` if set (a profiler: `perf record -g --`).
    fn start(build: &str, endpoint: &str) -> Server {
        let exe = std::env::current_exe().expect("the bench binary");
        let wrap = std::env::var("BENCH_SERVICE_WRAP").unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(words).arg(exe);
                command
            }
            None => Command::new(exe),
        };
        let mut child = command
            .args(["--child", build, endpoint])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot run the server child");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("child stdout"));
        let mut server = Server {
            child,
            stdin,
            stdout,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        server.addr = server.read("ADDR").expect("the server's address");
        server
    }

    /// The rest of the first line starting with `tag`.
    fn read<T: std::str::FromStr>(&mut self, tag: &str) -> Option<T> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line).ok()? == 0 {
                let status = self.child.wait().ok();
                panic!("the server child ended ({status:?}) before printing {tag}");
            }
            if let Some(rest) = line.trim_end().strip_prefix(tag) {
                return rest.trim().parse().ok();
            }
        }
    }

    /// Sends `command`, waits for the line tagged `reply`, and returns its `key=value` pairs.
    fn command(&mut self, command: &str, reply: &str) -> Vec<(String, String)> {
        let stdin = self.stdin.as_mut().expect("child stdin");
        writeln!(stdin, "{command}").expect("write to the server child");
        stdin.flush().expect("flush to the server child");
        let line: String = self.read(reply).unwrap_or_default();
        pairs(&line)
    }

    /// Closes the child's input, which shuts it down, and returns its `RESULT`.
    fn finish(mut self) -> Vec<(String, String)> {
        drop(self.stdin.take());
        let line: String = self.read("RESULT").unwrap_or_default();
        let status = self.child.wait().expect("wait for the server child");
        assert!(status.success(), "the server child failed: {status}");
        pairs(&line)
    }
}

fn pairs(line: &str) -> Vec<(String, String)> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

struct Row {
    build: &'static str,
    /// Requests completed in the window.
    requests: u64,
    window_s: f64,
    /// CPU time of the server process in the window, every thread.
    cpu_ns: u64,
    /// Of which the export threads' (see [`Cpu`]).
    export_ns: u64,
    /// Context switches in the window, every thread.
    switches: u64,
    /// Requests the server counted in the window (the same as `requests` in a closed loop).
    window_served: u64,
    p50: f64,
    p99: f64,
    /// Spans the sink got for the whole run, warm-up included.
    received: u64,
}

impl Row {
    fn cpu_us(&self) -> f64 {
        self.per_request(self.cpu_ns) / 1e3
    }

    fn export_us(&self) -> f64 {
        self.per_request(self.export_ns) / 1e3
    }

    fn switches(&self) -> f64 {
        self.per_request(self.switches)
    }

    fn per_request(&self, total: u64) -> f64 {
        total as f64 / self.window_served.max(1) as f64
    }

    fn rate(&self) -> f64 {
        self.requests as f64 / self.window_s
    }

    fn line(&self) -> String {
        format!(
            "| {} | {} | {:.0} | {:.1} | {:.1} | {:.2} | {:.0} | {:.0} | {} |",
            self.build,
            self.requests,
            self.rate(),
            self.cpu_us(),
            self.export_us(),
            self.switches(),
            self.p50,
            self.p99,
            self.received
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
    println!(
        "\nservice runs (server CPU per request in the window; spans received over the whole run)"
    );
    println!(
        "| build | requests | requests/s | CPU µs/request | export thread µs/request | \
         switches/request | p50 µs | p99 µs | spans received |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{}", row.line());
    }
    let of = |build: &str, f: fn(&Row) -> f64| {
        median(rows.iter().filter(|r| r.build == build).map(f).collect())
    };
    let plain = of("plain", Row::cpu_us);
    let added = |build: &str| of(build, Row::cpu_us) - plain;
    println!("\nservice summary (median of the runs; added = CPU per request above plain; {SPANS_PER_REQUEST} spans a request)");
    println!(
        "| build | CPU µs/request | added µs/request | added % | all-in µs/span | export thread µs/request | \
         switches/request | requests/s | p50 µs | p99 µs |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for build in BUILDS {
        if !rows.iter().any(|r| r.build == build) {
            continue;
        }
        let cpu = of(build, Row::cpu_us);
        // Without a plain run there is nothing to subtract.
        let (added, percent, per_span) = if build == "plain" || plain.is_nan() {
            ("-".to_owned(), "-".to_owned(), "-".to_owned())
        } else {
            (
                format!("{:.1}", added(build)),
                format!("{:+.0} %", added(build) / plain * 100.0),
                format!("{:.2}", added(build) / SPANS_PER_REQUEST as f64),
            )
        };
        println!(
            "| {build} | {cpu:.1} | {added} | {percent} | {per_span} | {:.1} | {:.2} | {:.0} | {:.0} \
             | {:.0} |",
            of(build, Row::export_us),
            of(build, Row::switches),
            of(build, Row::rate),
            of(build, |r| r.p50),
            of(build, |r| r.p99)
        );
    }
    let ratio = added("traced") / added("stock");
    if ratio.is_finite() {
        println!("\ntraced / stock, added CPU per request: {ratio:.2}x");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The server child.

/// Requests the handler served, warm-up included.
static SERVED: AtomicU64 = AtomicU64::new(0);

/// One server run: `BUILD ENDPOINT`.
fn child(args: &[String]) {
    let [build, endpoint] = args else {
        panic!("usage: --child plain|traced|stock ENDPOINT");
    };
    // As `#[tokio::main]` builds it: a worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    let pipeline = match build.as_str() {
        "plain" => Pipeline::Plain,
        "traced" => Pipeline::Traced(support::install_traced(
            traced::config::Protocol::Grpc,
            endpoint,
            "bench-service",
        )),
        "stock" => {
            opentelemetry::global::set_text_map_propagator(
                opentelemetry_sdk::propagation::TraceContextPropagator::new(),
            );
            // tonic's channel runs on the application's runtime, as under `#[tokio::main]`.
            let exporter = support::tonic_exporter(&runtime, endpoint);
            Pipeline::Stock(support::install_stock(exporter, "bench-service"))
        }
        other => panic!("unknown build {other}"),
    };
    let router = match build.as_str() {
        "plain" => Router::new().route(ROUTE, get(|| respond(plain::handle))),
        "traced" => Router::new()
            .route(ROUTE, get(|| respond(traced_build::handle)))
            .layer(traced::http::TraceLayer::new()),
        _ => Router::new()
            .route(ROUTE, get(|| respond(stock_build::handle)))
            .layer(axum::middleware::from_fn(stock_server_span)),
    };
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind the server");
    let addr = listener.local_addr().expect("server address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .await
    });
    println!("ADDR {addr}");
    let _ = std::io::stdout().flush();

    // The window, driven from standard input on this (non-worker) thread.
    let mut start = (Cpu::default(), 0);
    for line in std::io::stdin().lock().lines() {
        match line.as_deref().unwrap_or("") {
            "start" => {
                pipeline.flush();
                start = (Cpu::now(), SERVED.load(Ordering::SeqCst));
                println!("STARTED dropped={}", traced::stats().dropped);
            }
            "stop" => {
                pipeline.flush();
                let (cpu, served) = (Cpu::now(), SERVED.load(Ordering::SeqCst));
                println!(
                    "WINDOW {} served={} dropped={}",
                    cpu.since(start.0),
                    served - start.1,
                    traced::stats().dropped
                );
            }
            other => eprintln!("unknown command {other:?}"),
        }
        let _ = std::io::stdout().flush();
    }
    let _ = stop.send(());
    runtime
        .block_on(server)
        .expect("server task")
        .expect("server");
    let served = SERVED.load(Ordering::SeqCst);
    match pipeline {
        Pipeline::Plain => println!("RESULT served={served}"),
        Pipeline::Traced(guard) => {
            let (result, stats) = guard.shutdown_with_stats();
            if let Err(e) = result {
                eprintln!("shutdown: {e}");
            }
            println!(
                "RESULT served={served} exported={} dropped={} failed={}",
                stats.exported, stats.dropped, stats.failed
            );
        }
        Pipeline::Stock(provider) => {
            if let Err(e) = provider.shutdown() {
                eprintln!("shutdown: {e}");
            }
            println!("RESULT served={served}");
        }
    }
    drop(runtime);
}

enum Pipeline {
    Plain,
    Traced(traced::Guard),
    Stock(opentelemetry_sdk::trace::SdkTracerProvider),
}

impl Pipeline {
    /// Exports every span ended so far.
    fn flush(&self) {
        let result = match self {
            Pipeline::Plain => Ok(()),
            Pipeline::Traced(guard) => guard.force_flush().map_err(|e| e.to_string()),
            Pipeline::Stock(provider) => provider.force_flush().map_err(|e| e.to_string()),
        };
        if let Err(e) = result {
            eprintln!("flush: {e}");
        }
    }
}

/// The route's handler around a build's `handle`.
async fn respond<F: std::future::Future<Output = u64>>(handle: impl Fn(u64) -> F) -> String {
    let id = SERVED.fetch_add(1, Ordering::Relaxed);
    handle(id).await.to_string()
}

/// The export threads' names as `/proc` shows them (15 bytes at most): `traced`'s, and the SDK batch
/// processor's (the stock build's gRPC client runs on the application's runtime, so its sends are not in it).
const EXPORT_THREADS: [&str; 2] = ["traced-export", "OpenTelemetry.T"];

/// CPU time of every thread of this process so far, and where it went.
#[derive(Clone, Copy, Default)]
struct Cpu {
    /// Time spent on a CPU, every thread, in ns: the first field of each thread's schedstat.
    total_ns: u64,
    /// Of which the export threads' ([`EXPORT_THREADS`]).
    export_ns: u64,
    /// Context switches, every thread: voluntary ones are mostly waits (a sleeping thread woken).
    switches: u64,
}

impl Cpu {
    fn now() -> Cpu {
        let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
        let mut cpu = Cpu::default();
        for task in tasks.filter_map(Result::ok) {
            let read = |file: &str| std::fs::read_to_string(task.path().join(file)).ok();
            let (Some(schedstat), Some(stat), Some(status)) =
                (read("schedstat"), read("stat"), read("status"))
            else {
                continue; // The thread ended meanwhile.
            };
            let ns: u64 = schedstat
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            cpu.total_ns += ns;
            // `pid (comm) state ...`: the name may hold spaces and parentheses.
            let name = match (stat.find('('), stat.rfind(')')) {
                (Some(open), Some(close)) => &stat[open + 1..close],
                _ => continue,
            };
            if EXPORT_THREADS.contains(&name) {
                cpu.export_ns += ns;
            }
            cpu.switches += status
                .lines()
                .filter(|line| line.contains("ctxt_switches:"))
                .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
        cpu
    }

    /// What was spent since `start`, as `key=value` pairs for the `WINDOW` line.
    fn since(self, start: Cpu) -> String {
        format!(
            "cpu_ns={} export_ns={} switches={}",
            self.total_ns - start.total_ns,
            self.export_ns.saturating_sub(start.export_ns),
            self.switches.saturating_sub(start.switches)
        )
    }
}

/// The server span a stock application writes by hand: the attributes `TraceLayer` records, the caller's
/// context from the headers, the response status at the end.
async fn stock_server_span(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let (server_address, server_port) = match host.rsplit_once(':') {
        Some((address, port)) => (address, port.parse::<i64>().ok()),
        None => (host, None),
    };
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = %format!("{method} {}", route.as_deref().unwrap_or("")),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        http.route = route.as_deref(),
        http.response.status_code = tracing::field::Empty,
        url.path = request.uri().path(),
        url.scheme = "http",
        server.address = server_address,
        server.port = server_port,
        client.address = peer.map(|p| p.ip().to_string()),
        network.peer.address = peer.map(|p| p.ip().to_string()),
        network.peer.port = peer.map(|p| i64::from(p.port())),
        user_agent.original = request
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|a| a.to_str().ok()),
        network.protocol.version = "1.1",
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&Headers(request.headers()))
    });
    let _ = span.set_parent(parent);
    let response = next.run(request).instrument(span.clone()).await;
    span.record(
        "http.response.status_code",
        i64::from(response.status().as_u16()),
    );
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}

/// The request headers as OpenTelemetry's propagators read them.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
