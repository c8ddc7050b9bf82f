//! Stack per level of a recursive async fn (boxed at the recursive call), every level a sampled span exported to
//! a real collector (rotel over OTLP/gRPC, forwarding to a counting sink), each mode in a child process of its
//! own (this binary, re-executed with `--child`):
//!
//! - `plain`: the same fn without instrumentation, the baseline;
//! - `traced`: `#[traced]` through its own pipeline; its guard's counts must show every span exported;
//! - `stock`: `#[tracing::instrument]` + tracing-opentelemetry + the SDK batch processor + the tonic exporter;
//! - `fastrace`: `#[fastrace::trace]` under one root + the fastrace-opentelemetry reporter over the same exporter.
//!
//! The recursion runs on a thread with tokio's worker stack (2 MiB) in a current-thread runtime: the bytes per
//! level come from 1,000 levels (the address of a local at the deepest level against the top), then 10,000
//! levels say whether the mode fits that stack at all (a child that overflows aborts: "no").
//!
//! Run: `cargo bench --bench recursion`.

mod support;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::{field, SPAN_NAME};
use traced::config::Protocol;

/// tokio's default worker stack.
const WORKER_STACK: usize = 2 << 20;
/// The depth the bytes per level are measured at, and the one that must fit.
const MEASURED: u64 = 1_000;
const DEEP: u64 = 10_000;
const MODES: [&str; 4] = ["plain", "traced", "stock", "fastrace"];

static DEEPEST: AtomicUsize = AtomicUsize::new(0);

/// The address of a local of the calling frame: how deep the stack is there.
#[inline(never)]
fn depth() -> usize {
    let here = 0u8;
    std::hint::black_box(&here) as *const u8 as usize
}

async fn plain(n: u64) -> u64 {
    if n == 0 {
        DEEPEST.store(depth(), Ordering::Relaxed);
        return 0;
    }
    Box::pin(plain(n - 1)).await + 1
}

#[traced::traced(name = "work")]
async fn traced_level(n: u64) -> u64 {
    if n == 0 {
        DEEPEST.store(depth(), Ordering::Relaxed);
        return 0;
    }
    Box::pin(traced_level(n - 1)).await + 1
}

#[tracing::instrument(name = "work", skip_all)]
async fn instrument_level(n: u64) -> u64 {
    if n == 0 {
        DEEPEST.store(depth(), Ordering::Relaxed);
        return 0;
    }
    Box::pin(instrument_level(n - 1)).await + 1
}

#[fastrace::trace(name = "work")]
async fn fastrace_level(n: u64) -> u64 {
    if n == 0 {
        DEEPEST.store(depth(), Ordering::Relaxed);
        return 0;
    }
    Box::pin(fastrace_level(n - 1)).await + 1
}

type Level = fn(u64) -> Pin<Box<dyn Future<Output = u64> + Send>>;

fn level(mode: &str) -> Level {
    match mode {
        "plain" => |n| Box::pin(plain(n)),
        "traced" => |n| Box::pin(traced_level(n)),
        "stock" => |n| Box::pin(instrument_level(n)),
        "fastrace" => |n| Box::pin(fastrace_level(n)),
        other => panic!("unknown mode {other}"),
    }
}

fn main() {
    if let Some(args) = support::child_args() {
        return child(&args);
    }
    let sink = support::sink();
    let mut rows = Vec::new();
    for mode in MODES {
        let rotel = support::start_rotel(&sink);
        let endpoint = format!("http://{}", rotel.grpc);
        let before = sink.span_count();
        let result = support::run_child(&[mode.to_owned(), endpoint.clone(), MEASURED.to_string()]);
        let bytes: u64 = field(&result, "bytes_per_level");
        if mode != "plain" {
            let expected = before + MEASURED as usize + 1;
            let received = sink.settle(expected, Duration::from_secs(2));
            assert_eq!(received, expected, "{mode}: spans lost on the way");
            if mode == "traced" {
                let exported: u64 = field(&result, "exported");
                let dropped: u64 = field(&result, "dropped");
                let failed: u64 = field(&result, "failed");
                println!("traced guard: exported={exported} dropped={dropped} failed={failed}");
                assert_eq!(
                    (exported, dropped, failed),
                    (MEASURED + 1, 0, 0),
                    "traced lost spans"
                );
            }
        }
        let fits = fits(mode, &endpoint);
        drop(rotel);
        println!("{mode}: {bytes} B per level, {DEEP} levels in 2 MiB: {fits}");
        rows.push((mode, bytes, fits));
    }
    let plain = rows[0].1.max(1);
    println!("\nrecursion summary: stack per level of a boxed recursive async fn, every level a sampled span");
    println!("| mode | B per level | / plain | {DEEP} levels in a 2 MiB worker stack |");
    println!("|---|---:|---:|---|");
    for (mode, bytes, fits) in &rows {
        println!(
            "| {mode} | {bytes} | {:.1}x | {} |",
            *bytes as f64 / plain as f64,
            if *fits { "yes" } else { "no (stack overflow)" }
        );
    }
}

/// Whether `DEEP` levels of `mode` run to completion (a stack overflow aborts the child).
fn fits(mode: &str, endpoint: &str) -> bool {
    let exe = std::env::current_exe().expect("the bench binary");
    Command::new(exe)
        .args(["--child", mode, endpoint, &DEEP.to_string()])
        .output()
        .expect("cannot run the bench child")
        .status
        .success()
}

/// One run: `mode endpoint levels`.
fn child(args: &[String]) {
    let [mode, endpoint, levels] = args else {
        panic!("usage: --child plain|traced|stock|fastrace ENDPOINT LEVELS");
    };
    let levels: u64 = levels.parse().expect("levels");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = runtime.handle().clone();
    let run = level(mode);
    let mut extra = String::new();
    let bytes = match mode.as_str() {
        "plain" => recurse(run, levels, false),
        "traced" => {
            let guard = support::install_traced(Protocol::Grpc, endpoint, "bench-recursion");
            let bytes = recurse(run, levels, false);
            let (result, stats) = guard.shutdown_with_stats();
            if let Err(e) = result {
                eprintln!("shutdown: {e}");
            }
            extra = format!(
                "exported={} dropped={} failed={}",
                stats.exported, stats.dropped, stats.failed
            );
            bytes
        }
        "stock" => {
            let provider = support::install_stock(
                support::tonic_exporter(&runtime, endpoint),
                "bench-recursion",
            );
            let bytes = recurse(run, levels, false);
            if let Err(e) = provider.shutdown() {
                eprintln!("shutdown: {e}");
            }
            bytes
        }
        "fastrace" => {
            let reporter = fastrace_opentelemetry::OpenTelemetryReporter::new(
                support::tonic_exporter(&runtime, endpoint),
                Cow::Owned(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name("bench-recursion")
                        .build(),
                ),
                opentelemetry::InstrumentationScope::builder("bench").build(),
            )
            // The tonic exporter needs its runtime to make progress.
            .with_block_on(move |export| handle.block_on(export));
            fastrace::set_reporter(reporter, fastrace::collector::Config::default());
            // fastrace records nothing without a root; the root is not named `work`, so the sink counts the
            // levels only.
            let bytes = recurse(run, levels, true);
            fastrace::flush();
            bytes
        }
        other => panic!("unknown mode {other}"),
    };
    assert_eq!(SPAN_NAME, "work");
    println!("RESULT bytes_per_level={bytes} {extra}");
}

/// Runs `levels` levels of `run` on a thread with a worker's stack, in a current-thread runtime (under a fastrace
/// root with `fastrace_root`); returns the bytes of stack per level. The subscriber of the calling thread goes
/// along.
fn recurse(run: Level, levels: u64, fastrace_root: bool) -> u64 {
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                let root = fastrace_root.then(|| {
                    fastrace::Span::root("root", fastrace::collector::SpanContext::random())
                });
                let _parent = root.as_ref().map(fastrace::Span::set_local_parent);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("a runtime");
                let top = depth();
                assert_eq!(runtime.block_on(run(levels)), levels);
                ((top - DEEPEST.load(Ordering::Relaxed)) / levels as usize) as u64
            })
        })
        .expect("a thread")
        .join()
        .expect("the recursion")
}
