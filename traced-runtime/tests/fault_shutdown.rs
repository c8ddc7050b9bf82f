//! Shutdown with the collector dead or black-holing: the process exits within the export timeout + 1 s, on a
//! tokio multi-thread runtime, a current-thread runtime and without a runtime.
//!
//! Each case runs this test binary again as a child (`child` below, selected by environment variables) that
//! installs the global pipeline, ends spans, drops the guard and returns; the parent times the child from
//! spawn to exit and kills it if it overruns.

mod fault_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fault_support::{config_for, free_addr, Collector, Fault};
use traced_runtime::config::Protocol;

const EXPORT_TIMEOUT: Duration = Duration::from_secs(1);
const MODE: &str = "TRACED_FAULT_CHILD_MODE";
const PROTOCOL: &str = "TRACED_FAULT_CHILD_PROTOCOL";
const ADDR: &str = "TRACED_FAULT_CHILD_ADDR";

/// The child: does nothing unless the parent set [`MODE`].
#[test]
fn child() {
    let Ok(mode) = std::env::var(MODE) else {
        return;
    };
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
        let collector = Collector::start(protocol);
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
