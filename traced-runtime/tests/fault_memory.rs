//! Memory stays bounded while the collector black-holes: the queue is bounded, so ending many more spans than
//! it holds does not grow the process. Alone in its binary, so no other test moves the resident set size.

mod fault_support;

use std::time::Duration;

use fault_support::config_for;
use traced_runtime::config::Protocol;
use traced_test_support::{rss_bytes, Fault, Receiver};
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn memory_is_bounded_while_the_collector_black_holes() {
    let hole = Receiver::start();
    hole.fail(Fault::Hang, usize::MAX);
    let mut config = config_for(Protocol::Grpc, hole.addr, Duration::from_millis(500));
    config.batch.max_queue_size = 2_048;
    let (layer, guard) = config.layer().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    // Each span carries 1 KiB, so a leak of the spans would show.
    let payload = "x".repeat(1_024);
    let emit = |n: u64| {
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..n {
                let _span = tracing::info_span!("work", i, payload = payload.as_str()).entered();
            }
        })
    };
    // Fill the queue and the allocator's pools first.
    emit(10_000);
    let before = rss_bytes();
    emit(100_000);
    let after = rss_bytes();
    let grown = after.saturating_sub(before);
    drop(dispatch);
    let (_, stats) = guard.shutdown_with_stats();
    eprintln!(
        "RSS before {} KiB, after 100k more spans {} KiB (+{} KiB); {stats:?}",
        before / 1024,
        after / 1024,
        grown / 1024
    );
    assert_eq!(stats.exported + stats.dropped + stats.failed, 110_000);
    assert!(stats.dropped > 90_000, "{stats:?}");
    // 100k spans of 1 KiB would be 100 MiB; the queue holds 2 MiB of them.
    assert!(grown < 32 * 1024 * 1024, "RSS grew by {} KiB", grown / 1024);
}
