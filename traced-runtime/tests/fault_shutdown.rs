//! Shutdown with the collector dead or black-holing: the process exits within the export timeout + 1 s, on a
//! tokio multi-thread runtime, a current-thread runtime and without a runtime.
//!
//! Each case runs this test binary again as a child (`child` below, selected by environment variables) that
//! installs the global pipeline, ends spans, drops the guard and returns; the parent times the child from
//! spawn to exit and kills it if it overruns.
//!
//! With the default settings (a 30 s export timeout), a short-lived program whose collector is down exits at
//! once: a refused connection is not retried at shutdown, and the exit wait is bounded by
//! `TRACED_SHUTDOWN_TIMEOUT` (5 s by default); its `main() -> Result` gets `Ok` from `guard.shutdown()`.

mod fault_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fault_support::config_for;
use traced_runtime::config::Protocol;
use traced_test_support::{free_addr, Fault, Receiver};

const EXPORT_TIMEOUT: Duration = Duration::from_secs(1);
const MODE: &str = "TRACED_FAULT_CHILD_MODE";
const PROTOCOL: &str = "TRACED_FAULT_CHILD_PROTOCOL";
const ADDR: &str = "TRACED_FAULT_CHILD_ADDR";

/// A short-lived program as users write it: everything from the environment, `?` on the shutdown.
fn program() -> Result<(), traced_runtime::Error> {
    let guard = traced_runtime::init()?;
    for i in 0..1_000 {
        let _span = tracing::info_span!("work", i).entered();
    }
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    let result = guard.shutdown();
    eprintln!("shutdown took {} ms", start.elapsed().as_millis());
    result
}

/// The child: does nothing unless the parent set [`MODE`].
#[test]
fn child() {
    let Ok(mode) = std::env::var(MODE) else {
        return;
    };
    if mode == "program" {
        if let Err(e) = program() {
            // What `fn main() -> Result` does with the error.
            eprintln!("Error: {e}");
            std::process::exit(1);
        }
        return;
    }
    let protocol = match std::env::var(PROTOCOL).unwrap().as_str() {
        "grpc" => Protocol::Grpc,
        _ => Protocol::HttpProtobuf,
    };
    let addr = std::env::var(ADDR).unwrap().parse().unwrap();
    let config = config_for(protocol, addr, EXPORT_TIMEOUT);
    let work = move || {
        let guard = config.init().expect("pipeline");
        for i in 0..1_000 {
            let _span = tracing::info_span!("work", i).entered();
        }
        // Let a batch be in flight when the guard goes.
        std::thread::sleep(Duration::from_millis(100));
        drop(guard);
    };
    match mode.as_str() {
        "multi-thread" => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { work() }),
        "current-thread" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { work() }),
        _ => work(),
    }
}

/// Runs the child and returns how long it lived; kills it past a generous bound.
fn run_child(mode: &str, protocol: Protocol, addr: std::net::SocketAddr) -> Duration {
    let start = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads", "1"])
        .env(MODE, mode)
        .env(
            PROTOCOL,
            if protocol == Protocol::Grpc {
                "grpc"
            } else {
                "http"
            },
        )
        .env(ADDR, addr.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the child failed: {status}");
            return start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The child's whole life (start-up, 100 ms of work, shutdown) must fit in the export timeout + 1 s.
fn exits_in_time(mode: &str, protocol: Protocol, black_hole: bool) {
    let _hole;
    let addr = if black_hole {
        let collector = Receiver::start();
        collector.fail(Fault::Hang, usize::MAX);
        let addr = collector.addr;
        _hole = Some(collector);
        addr
    } else {
        _hole = None;
        free_addr()
    };
    let lived = run_child(mode, protocol, addr);
    eprintln!("{mode} {protocol:?} black_hole={black_hole}: exited after {lived:?}");
    assert!(
        lived < EXPORT_TIMEOUT + Duration::from_secs(1),
        "{mode} {protocol:?}: the process lived {lived:?}"
    );
}

macro_rules! cases {
    ($($name:ident: $mode:literal, $protocol:ident, $black_hole:literal;)*) => {
        $(
            #[test]
            fn $name() {
                exits_in_time($mode, Protocol::$protocol, $black_hole);
            }
        )*
    };
}

cases! {
    dead_grpc_multi_thread: "multi-thread", Grpc, false;
    dead_grpc_current_thread: "current-thread", Grpc, false;
    dead_grpc_no_runtime: "none", Grpc, false;
    dead_http_multi_thread: "multi-thread", HttpProtobuf, false;
    dead_http_current_thread: "current-thread", HttpProtobuf, false;
    dead_http_no_runtime: "none", HttpProtobuf, false;
    black_hole_grpc_multi_thread: "multi-thread", Grpc, true;
    black_hole_grpc_current_thread: "current-thread", Grpc, true;
    black_hole_grpc_no_runtime: "none", Grpc, true;
    black_hole_http_multi_thread: "multi-thread", HttpProtobuf, true;
    black_hole_http_current_thread: "current-thread", HttpProtobuf, true;
    black_hole_http_no_runtime: "none", HttpProtobuf, true;
}

/// Runs [`program`] in a child with the OTLP endpoint and `env` in its environment; returns how long it lived
/// and its stderr, after checking it exited with 0.
fn run_program(
    protocol: Protocol,
    addr: std::net::SocketAddr,
    env: &[(&str, &str)],
) -> (Duration, String) {
    let endpoint = format!("http://{addr}");
    let protocol = if protocol == Protocol::Grpc {
        "grpc"
    } else {
        "http/protobuf"
    };
    let start = Instant::now();
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "child", "--nocapture", "--test-threads", "1"])
        .env(MODE, "program")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .env_remove("TRACED_SHUTDOWN_TIMEOUT")
        .env_remove("OTEL_BSP_EXPORT_TIMEOUT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().unwrap();
    let output = child.wait_with_output().unwrap();
    let lived = start.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "main() returned an error (exit {}): {stderr}",
        output.status
    );
    (lived, stderr)
}

/// The collector is down and every setting is the default (export timeout 30 s): the program exits at once,
/// with `Ok`, and one warning line says how many spans were lost.
fn down_with_the_defaults(protocol: Protocol) {
    let (lived, stderr) = run_program(protocol, free_addr(), &[]);
    let warning = stderr
        .lines()
        .find(|l| l.contains("spans were not exported"))
        .unwrap_or_else(|| panic!("no loss warning in {stderr}"));
    let shutdown: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("shutdown took "))
        .and_then(|l| l.strip_suffix(" ms"))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no shutdown time in {stderr}"));
    eprintln!(
        "{protocol:?}, collector down, defaults: shutdown took {shutdown} ms, the process {lived:?}; {warning}"
    );
    // Not the 30 s of the export timeout, nor the 5 s of the shutdown timeout: a refused connection is not
    // retried at exit. (The process as a whole also starts up, on a machine shared with other tests.)
    assert!(
        shutdown < 1_000,
        "{protocol:?}: shutdown took {shutdown} ms"
    );
    assert!(
        lived < Duration::from_secs(10),
        "{protocol:?}: the program lived {lived:?}"
    );
}

#[test]
fn grpc_collector_down_with_the_defaults_exits_at_once() {
    down_with_the_defaults(Protocol::Grpc);
}

#[test]
fn http_collector_down_with_the_defaults_exits_at_once() {
    down_with_the_defaults(Protocol::HttpProtobuf);
}

/// A black hole with the defaults: the exit waits the shutdown timeout (5 s), not the export timeout (30 s);
/// `TRACED_SHUTDOWN_TIMEOUT` shortens it.
fn black_hole_bounded_by_the_shutdown_timeout(protocol: Protocol) {
    let hole = Receiver::start();
    hole.fail(Fault::Hang, usize::MAX);
    let (default, _) = run_program(protocol, hole.addr, &[]);
    let (short, _) = run_program(protocol, hole.addr, &[("TRACED_SHUTDOWN_TIMEOUT", "1000")]);
    eprintln!(
        "{protocol:?}, black hole: exited after {default:?} (defaults), {short:?} (TRACED_SHUTDOWN_TIMEOUT=1000)"
    );
    assert!(
        default < Duration::from_secs(5) + Duration::from_millis(1_500),
        "{default:?}"
    );
    assert!(
        short < Duration::from_secs(1) + Duration::from_millis(1_500),
        "{short:?}"
    );
}

#[test]
fn grpc_black_hole_exit_is_bounded_by_the_shutdown_timeout() {
    black_hole_bounded_by_the_shutdown_timeout(Protocol::Grpc);
}

#[test]
fn http_black_hole_exit_is_bounded_by_the_shutdown_timeout() {
    black_hole_bounded_by_the_shutdown_timeout(Protocol::HttpProtobuf);
}
