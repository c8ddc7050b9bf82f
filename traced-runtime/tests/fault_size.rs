//! Requests under a size bound: a batch larger than `TRACED_MAX_EXPORT_BYTES` (4 MiB by default, what gRPC
//! collectors accept) is split, a span larger than the bound on its own is dropped and counted as failed, and
//! a collector's refusal of a message for its size is never retried. Through rotel (a real collector, with its
//! 4 MiB gRPC limit) and the in-process receiver.
//!
//! Needs `rotel-agent`: `ROTEL_AGENT` (set by `.ci/test`) or `pip install rotel`. Fails, never skips, without it.

mod fault_support;

use std::fmt;
use std::time::{Duration, Instant};

use fault_support::config_for;
use prost::Message as _;
use traced_runtime::config::{Config, Protocol};
use traced_runtime::Stats;
use traced_test_support::{free_addr, rotel_agent, Payload, Receiver, Rotel};
use tracing_subscriber::layer::SubscriberExt;

const MIB: usize = 1024 * 1024;

/// An error whose `Display` writes 5 MB, as a service's error wrapping a whole response body might.
#[derive(Debug)]
struct Huge;

impl fmt::Display for Huge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chunk = "x".repeat(1_000);
        for _ in 0..5_000 {
            f.write_str(&chunk)?;
        }
        Ok(())
    }
}

impl std::error::Error for Huge {}

#[traced_runtime::traced(crate = traced_runtime)]
fn charge(order: u64) -> Result<u64, Huge> {
    if order % 2_000 == 1_999 {
        Err(Huge)
    } else {
        Ok(order)
    }
}

/// 60 spans named `big` of 200 KB each: 12 MB, three times the bound, in one batch.
fn big_spans() {
    let value = "v".repeat(200_000);
    for i in 0..60 {
        let _span = tracing::info_span!("big", i, value = value.as_str()).entered();
    }
}

/// Runs `spans` under a thread-local subscriber of `config`'s pipeline and shuts it down.
fn run(config: Config, spans: impl FnOnce()) -> (Stats, Duration) {
    let (layer, guard) = config.layer().expect("pipeline");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), spans);
    let start = Instant::now();
    let (result, stats) = guard.shutdown_with_stats();
    result.expect("shutdown");
    (stats, start.elapsed())
}

/// A pipeline → rotel (gRPC, its default 4 MiB limit) → the in-process receiver.
struct ViaRotel {
    receiver: Receiver,
    _rotel: Rotel,
    config: Config,
}

fn via_rotel(export_timeout: Duration) -> ViaRotel {
    let receiver = Receiver::start();
    let (grpc, http) = (free_addr(), free_addr());
    let rotel = Rotel::start(&rotel_agent(), grpc, http, receiver.addr);
    let mut config = config_for(Protocol::Grpc, grpc, export_timeout);
    config.batch.max_queue_size = 20_000;
    config.batch.max_export_batch_size = 512;
    ViaRotel {
        receiver,
        _rotel: rotel,
        config,
    }
}

/// The storm of issue 19: an `Err` whose `Display` writes 5 MB every 2,000 spans among 10,000, with
/// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=4096`. Every span is delivered: the error texts are cut to the limit
/// (status description included) and no request passes rotel's limit. Before, each such span sank its whole
/// batch, retried until the export timeout.
#[test]
fn an_error_storm_through_rotel_delivers_every_span() {
    let mut path = via_rotel(Duration::from_secs(10));
    path.config.limits.attribute_value_length = Some(4096);
    let (stats, _) = run(path.config, || {
        for order in 0..10_000 {
            let _ = charge(order);
        }
    });
    let arrived = path.receiver.settle(10_000, Duration::from_millis(500));
    eprintln!("error storm via rotel: {arrived} of 10,000 arrived; {stats:?}");
    assert_eq!(
        (stats.exported, stats.dropped, stats.failed),
        (10_000, 0, 0),
        "{stats:?}"
    );
    assert_eq!(arrived, 10_000);
}

/// 60 spans of 200 KB each (no length limit): 12 MB in one batch, split into requests rotel accepts.
#[test]
fn a_batch_over_the_bound_is_split_and_delivered_through_rotel() {
    let mut path = via_rotel(Duration::from_secs(10));
    path.config.batch.schedule_delay = Duration::from_secs(60);
    let (stats, _) = run(path.config, big_spans);
    let arrived = path.receiver.settle(60, Duration::from_millis(500));
    eprintln!("12 MB batch via rotel: {arrived} of 60 arrived; {stats:?}");
    assert_eq!(
        (stats.exported, stats.failed, stats.retries),
        (60, 0, 0),
        "{stats:?}"
    );
    assert_eq!(arrived, 60);
}

/// The same bytes in one request (the bound raised to 64 MiB): rotel refuses it for its size, and the refusal is
/// not retried: the batch fails at once instead of at the export timeout.
#[test]
fn a_size_refusal_is_not_retried() {
    let mut path = via_rotel(Duration::from_secs(10));
    path.config.batch.schedule_delay = Duration::from_secs(60);
    path.config.batch.max_export_bytes = 64 * MIB;
    let (stats, took) = run(path.config, big_spans);
    eprintln!("one 12 MB request to rotel: shutdown took {took:?}; {stats:?}");
    assert_eq!(
        (stats.exported, stats.failed, stats.retries),
        (0, 60, 0),
        "{stats:?}"
    );
    let error = stats.last_error.unwrap();
    assert!(error.contains("TRACED_MAX_EXPORT_BYTES"), "{error}");
    assert!(took < Duration::from_secs(5), "retried: {took:?}");
}

/// Against the in-process receiver (which takes up to 64 MiB, so only the bound splits): no request is over
/// 4 MiB, and a span of 5 MB on its own is dropped and counted as failed, never sent.
fn requests_stay_under_the_bound(protocol: Protocol) {
    let receiver = Receiver::start();
    let mut config = config_for(protocol, receiver.addr, Duration::from_secs(10));
    config.batch.schedule_delay = Duration::from_secs(60);
    config.batch.max_export_batch_size = 512;
    let huge = "h".repeat(5_000_000);
    let (stats, _) = run(config, || {
        big_spans();
        let _span = tracing::info_span!("huge", value = huge.as_str()).entered();
    });
    let sizes: Vec<usize> = receiver
        .received()
        .iter()
        .filter_map(|r| match &r.payload {
            Some(Payload::Traces(request)) => Some(request.encoded_len()),
            _ => None,
        })
        .collect();
    eprintln!("{protocol:?}: request sizes {sizes:?}; {stats:?}");
    assert!(sizes.len() >= 3, "{sizes:?}");
    assert!(sizes.iter().all(|size| *size <= 4 * MIB), "{sizes:?}");
    assert_eq!(
        (stats.exported, stats.failed, stats.retries),
        (60, 1, 0),
        "{stats:?}"
    );
    assert_eq!(receiver.span_count(), 60);
    assert!(receiver.spans().iter().all(|s| s.name == "big"));
    let error = stats.last_error.unwrap();
    assert!(error.contains("over the export size bound"), "{error}");
}

#[test]
fn grpc_requests_stay_under_the_bound() {
    requests_stay_under_the_bound(Protocol::Grpc);
}

#[test]
fn http_requests_stay_under_the_bound() {
    requests_stay_under_the_bound(Protocol::HttpProtobuf);
}
