//! `fork()` after `init()`: the child has the parent's memory but not its export thread. It notices (its pid
//! changed), starts a pipeline of its own, exports and counts its spans, and shuts down at once; the parent's
//! spans are exported by the parent alone, never twice.
//!
//! The test binary runs itself as the application (`app` below), which forks; the receiver stays here.
#![allow(unsafe_code)] // `fork` and `waitpid` in the test only; the library has no `unsafe`.

mod fault_support;

use std::process::Command;
use std::time::{Duration, Instant};

use fault_support::config_for;
use traced_runtime::config::Protocol;
use traced_test_support::Receiver;

const APP: &str = "TRACED_FORK_APP";

fn emit(name: &'static str, n: u64) {
    for i in 0..n {
        let _span = match name {
            "parent_before" => tracing::info_span!("parent_before", i),
            "parent_queued" => tracing::info_span!("parent_queued", i),
            "parent_after" => tracing::info_span!("parent_after", i),
            _ => tracing::info_span!("child", i),
        }
        .entered();
    }
}

/// The application: its pipeline exports to the receiver at `APP`, with an export timeout of 10 s.
#[test]
fn app() {
    let Ok(addr) = std::env::var(APP) else {
        return;
    };
    let mut config = config_for(
        Protocol::Grpc,
        addr.parse().unwrap(),
        Duration::from_secs(10),
    );
    config.batch.schedule_delay = Duration::from_secs(60);
    let guard = config.init().expect("init");
    emit("parent_before", 100);
    guard.force_flush().expect("flush");
    // Still queued when the process forks: the parent's to export.
    emit("parent_queued", 50);
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed"),
        0 => {
            emit("child", 300);
            let start = Instant::now();
            let (result, stats) = guard.shutdown_with_stats();
            let took = start.elapsed();
            println!(
                "CHILD shutdown_ms={} ok={} exported={} dropped={} failed={} queued={}",
                took.as_millis(),
                result.is_ok(),
                stats.exported,
                stats.dropped,
                stats.failed,
                stats.queued
            );
            // Not the test harness's exit: it belongs to the parent.
            unsafe { libc::_exit(0) };
        }
        child => {
            let mut status = 0;
            assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "the forked child failed: {status}"
            );
            emit("parent_after", 100);
            let (result, stats) = guard.shutdown_with_stats();
            result.expect("parent shutdown");
            println!(
                "PARENT exported={} dropped={} failed={}",
                stats.exported, stats.dropped, stats.failed
            );
        }
    }
}

/// `key=value` of a line of the app's output.
fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        .parse()
        .unwrap()
}

#[test]
fn a_forked_child_exports_through_a_pipeline_of_its_own() {
    let receiver = Receiver::start();
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "app", "--nocapture", "--test-threads=1"])
        .env(APP, receiver.addr.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "app failed:\n{stdout}\n{stderr}");
    // The harness may print `test app ... ` before a line.
    let line = |tag: &str| {
        stdout
            .lines()
            .find_map(|l| l.find(tag).map(|at| &l[at..]))
            .unwrap_or_else(|| panic!("no {tag} line:\n{stdout}\n{stderr}"))
    };
    let (child, parent) = (line("CHILD "), line("PARENT "));
    let arrived = |name: &str| receiver.spans().iter().filter(|s| s.name == name).count() as u64;
    eprintln!(
        "{child}\n{parent}\nreceived: parent_before {}, parent_queued {}, parent_after {}, child {}\n{}",
        arrived("parent_before"),
        arrived("parent_queued"),
        arrived("parent_after"),
        arrived("child"),
        stderr.lines().filter(|l| l.starts_with("traced:")).collect::<Vec<_>>().join("\n")
    );
    // The parent's spans once each: the child did not export its copy of the parent's queue.
    assert_eq!(
        (
            arrived("parent_before"),
            arrived("parent_queued"),
            arrived("parent_after")
        ),
        (100, 50, 100)
    );
    assert_eq!(field(parent, "exported"), 250, "{parent}");
    // The child exported what it counted as exported, and counted every span it ended: the spans queued when
    // it noticed the fork (the parent's 50 among them) are counted as dropped.
    assert!(child.contains("ok=true"), "{child}");
    assert_eq!(field(child, "exported"), arrived("child"), "{child}");
    assert!(arrived("child") > 0, "{child}");
    assert_eq!(field(child, "queued"), 0, "{child}");
    assert_eq!(
        field(child, "exported") + field(child, "dropped") + field(child, "failed"),
        300 + 50,
        "{child}"
    );
    // Its shutdown did not wait for an export thread that is not there (10 s export timeout).
    assert!(field(child, "shutdown_ms") < 2_000, "{child}");
}
