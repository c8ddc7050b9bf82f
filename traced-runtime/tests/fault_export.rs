//! Export under failure, over gRPC and HTTP, against a collector that is absent, killed and restarted,
//! throttling (with and without a hint), refusing for good, slow, or black-holing.
//!
//! Every test checks the accounting invariant: each span ended is exported, dropped (queue full) or failed
//! (export gave up), once the guard is shut down.

mod fault_support;

use std::time::{Duration, Instant};

use fault_support::config_for;
use traced_runtime::config::{Config, Protocol};
use traced_runtime::{Guard, Stats};
use traced_test_support::{free_addr, Fault, Receiver};
use tracing_subscriber::layer::SubscriberExt;

/// A pipeline under a thread-local subscriber.
struct App {
    dispatch: tracing::Dispatch,
    guard: Guard,
    ended: u64,
}

impl App {
    fn start(config: Config) -> App {
        let (layer, guard) = config.layer().expect("pipeline");
        App {
            dispatch: tracing::Dispatch::new(tracing_subscriber::registry().with(layer)),
            guard,
            ended: 0,
        }
    }

    /// Ends `n` spans named `name`; returns the mean time per span.
    fn emit(&mut self, name: &'static str, n: u64) -> Duration {
        let start = Instant::now();
        tracing::dispatcher::with_default(&self.dispatch, || {
            for i in 0..n {
                let _span = match name {
                    "before" => tracing::info_span!("before", i),
                    "during" => tracing::info_span!("during", i),
                    "after" => tracing::info_span!("after", i),
                    _ => tracing::info_span!("work", i),
                }
                .entered();
            }
        });
        self.ended += n;
        start.elapsed() / n as u32
    }

    fn wait_stats(&self, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
        let start = Instant::now();
        loop {
            let stats = self.guard.stats();
            if done(&stats) {
                return stats;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{what}: {stats:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Shuts down; returns the final stats and how long the shutdown took, after checking the invariant.
    fn finish(self) -> (Stats, Duration) {
        let App {
            dispatch,
            guard,
            ended,
        } = self;
        drop(dispatch);
        let start = Instant::now();
        let (_, stats) = guard.shutdown_with_stats();
        let took = start.elapsed();
        assert_eq!(
            accounted(&stats),
            ended,
            "every span ended is exported, dropped or failed: {stats:?}"
        );
        (stats, took)
    }
}

/// `config` sending exactly one batch once `n` spans are queued (no timer in between to split it).
fn one_batch_of(n: usize, mut config: Config) -> Config {
    config.batch.max_export_batch_size = n;
    config.batch.schedule_delay = Duration::from_secs(60);
    config
}

fn accounted(stats: &Stats) -> u64 {
    stats.exported + stats.dropped + stats.failed
}

/// The collector is not there at start: exports fail and are retried, the app does not notice, and spans ended
/// after it comes up arrive.
fn absent_at_start_then_recovers(protocol: Protocol) {
    let addr = free_addr();
    // Time for a few retries within one export even on a loaded machine, where a connection attempt alone can
    // take a good part of a shorter timeout.
    let mut app = App::start(config_for(protocol, addr, Duration::from_secs(2)));
    app.emit("before", 300);
    let stats = app.wait_stats("failures counted", |s| s.failed > 0);
    assert!(stats.retries > 0, "{stats:?}");
    assert!(!app.guard.healthy());
    assert!(stats.last_error.is_some(), "{stats:?}");
    assert!(stats.last_error_at.is_some());
    let collector = Receiver::start_on(addr);
    // Whatever was in flight finishes failing, then new spans go through.
    app.wait_stats("retries done", |s| s.exported + s.failed + s.dropped == 300);
    app.emit("after", 300);
    let arrived = || {
        collector
            .spans()
            .iter()
            .filter(|s| s.name == "after")
            .count()
    };
    let start = Instant::now();
    while arrived() < 300 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(arrived(), 300);
    assert!(app.guard.healthy());
    let (stats, _) = app.finish();
    // Every span counted exported arrived. An attempt under way when the collector came up may have reached it
    // and still been cut at the export's deadline before its answer came back: counted failed, received anyway.
    let received = collector.span_count() as u64;
    assert!(
        stats.exported <= received && received <= stats.exported + stats.failed,
        "received {received}: {stats:?}"
    );
    assert!(stats.exported >= 300, "{stats:?}");
}

/// Killed mid-run, restarted on the same port: spans ended while it was down are retried or counted, the
/// spans ended after it is back arrive.
fn killed_mid_run_then_back(protocol: Protocol) {
    let collector = Receiver::start();
    let mut app = App::start(config_for(
        protocol,
        collector.addr,
        Duration::from_millis(500),
    ));
    app.emit("before", 100);
    assert_eq!(collector.wait_for(100, Duration::from_secs(10)), 100);
    let stopped = collector.stop();
    app.emit("during", 100);
    app.wait_stats("failures counted", |s| s.failed > 0);
    let collector = stopped.restart();
    app.wait_stats("in-flight done", |s| accounted(s) == 200);
    app.emit("after", 100);
    let arrived = || {
        collector
            .spans()
            .iter()
            .filter(|s| s.name == "after")
            .count()
    };
    let start = Instant::now();
    while arrived() < 100 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(arrived(), 100);
    let (stats, _) = app.finish();
    // As in `absent_at_start_then_recovers`: an attempt cut at its deadline may have arrived all the same.
    let received = collector.span_count() as u64;
    assert!(
        stats.exported <= received && received <= stats.exported + stats.failed,
        "received {received}: {stats:?}"
    );
    assert!(stats.exported >= 100, "{stats:?}");
}

/// Throttled twice with a hint of one second (HTTP 429 + `Retry-After: 1`, gRPC RESOURCE_EXHAUSTED +
/// `RetryInfo`): retried no sooner than asked, nothing lost.
fn throttled_with_hint(protocol: Protocol) {
    let collector = Receiver::start();
    collector.fail(Fault::Status(429, Some(Duration::from_secs(1))), 2);
    let mut app = App::start(one_batch_of(
        50,
        config_for(protocol, collector.addr, Duration::from_secs(5)),
    ));
    app.emit("work", 50);
    assert_eq!(collector.wait_for(50, Duration::from_secs(10)), 50);
    let arrivals = collector.arrivals();
    assert_eq!(
        arrivals.len(),
        3,
        "two throttled attempts, then one accepted"
    );
    for pair in arrivals.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(950),
            "retried after {:?}, before the hint",
            pair[1] - pair[0]
        );
    }
    let (stats, _) = app.finish();
    assert_eq!((stats.exported, stats.failed, stats.retries), (50, 0, 2));
}

/// HTTP 503 / gRPC UNAVAILABLE without a hint: retried with backoff, nothing lost.
fn unavailable_then_back(protocol: Protocol) {
    let collector = Receiver::start();
    collector.fail(Fault::Status(503, None), 3);
    let mut app = App::start(config_for(
        protocol,
        collector.addr,
        Duration::from_secs(10),
    ));
    app.emit("work", 50);
    assert_eq!(collector.wait_for(50, Duration::from_secs(15)), 50);
    let (stats, _) = app.finish();
    assert_eq!((stats.exported, stats.failed, stats.retries), (50, 0, 3));
    assert!(
        stats.last_error.is_none(),
        "retried failures are not export errors"
    );
}

/// 400/401/403 (INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED): never retried, counted as failed.
fn permanent_errors_are_not_retried(protocol: Protocol) {
    for status in [400, 401, 403] {
        let collector = Receiver::start();
        collector.fail(
            Fault::Status(status, Some(Duration::from_millis(10))),
            usize::MAX,
        );
        let mut app = App::start(one_batch_of(
            10,
            config_for(protocol, collector.addr, Duration::from_secs(10)),
        ));
        app.emit("work", 10);
        let stats = app.wait_stats("failure counted", |s| s.failed == 10);
        assert_eq!(stats.retries, 0, "{status}: {stats:?}");
        assert!(!app.guard.healthy());
        let (stats, took) = app.finish();
        assert_eq!(stats.failed, 10);
        assert!(took < Duration::from_secs(1), "{took:?}");
        assert_eq!(collector.requests(), 1, "{status}: one request, no retry");
    }
}

/// Slower than usual but within the timeout: everything arrives, nothing is retried.
fn slow_collector(protocol: Protocol) {
    let collector = Receiver::start();
    collector.fail(Fault::Slow(Duration::from_millis(300)), usize::MAX);
    let mut app = App::start(config_for(protocol, collector.addr, Duration::from_secs(5)));
    app.emit("work", 500);
    let (stats, _) = app.finish();
    assert_eq!((stats.exported, stats.failed, stats.retries), (500, 0, 0));
    assert_eq!(collector.span_count(), 500);
}

/// The best of three rounds of `n` spans: the mean time per span.
fn per_span(app: &mut App, n: u64) -> Duration {
    (0..3).map(|_| app.emit("work", n)).min().unwrap()
}

/// Accepting connections and never answering: the application's per-span cost does not change, the queue
/// stays bounded (overflow counted as dropped), and shutdown takes at most the export timeout (+ 1 s).
fn black_hole(protocol: Protocol) {
    let healthy = Receiver::start();
    let mut app = App::start(config_for(protocol, healthy.addr, Duration::from_secs(5)));
    let baseline = per_span(&mut app, 2_000);
    app.finish();

    let timeout = Duration::from_secs(1);
    let hole = Receiver::start();
    hole.fail(Fault::Hang, usize::MAX);
    let mut config = config_for(protocol, hole.addr, timeout);
    config.batch.max_queue_size = 512;
    let mut app = App::start(config);
    let down = per_span(&mut app, 2_000);
    let stats = app.guard.stats();
    assert!(stats.dropped > 0, "the queue is bounded: {stats:?}");
    // The counts add up while exports hang, not only after shutdown: the held spans are `queued`.
    assert!(stats.queued > 0, "{stats:?}");
    assert_eq!(accounted(&stats) + stats.queued, app.ended, "{stats:?}");
    let (stats, took) = app.finish();
    eprintln!("{protocol:?} per span: healthy {baseline:?}, black hole {down:?}; shutdown {took:?}; {stats:?}");
    // Loose bounds on purpose (two cores shared with other tests): what they catch is the application waiting
    // on the collector, which costs milliseconds per span and seconds at shutdown, not a noisy microsecond.
    assert!(
        down < baseline * 5 + Duration::from_micros(100),
        "per-span cost while black-holed {down:?} vs healthy {baseline:?}"
    );
    assert!(
        took < timeout + Duration::from_secs(2),
        "shutdown took {took:?}"
    );
    assert_eq!(stats.exported, 0);
}

macro_rules! over {
    ($protocol:ident, $module:ident) => {
        mod $module {
            use super::*;

            #[test]
            fn absent_at_start_then_recovers() {
                super::absent_at_start_then_recovers(Protocol::$protocol);
            }

            #[test]
            fn killed_mid_run_then_back() {
                super::killed_mid_run_then_back(Protocol::$protocol);
            }

            #[test]
            fn throttled_with_hint() {
                super::throttled_with_hint(Protocol::$protocol);
            }

            #[test]
            fn unavailable_then_back() {
                super::unavailable_then_back(Protocol::$protocol);
            }

            #[test]
            fn permanent_errors_are_not_retried() {
                super::permanent_errors_are_not_retried(Protocol::$protocol);
            }

            #[test]
            fn slow_collector() {
                super::slow_collector(Protocol::$protocol);
            }

            #[test]
            fn black_hole() {
                super::black_hole(Protocol::$protocol);
            }
        }
    };
}

over!(Grpc, grpc);
over!(HttpProtobuf, http);
