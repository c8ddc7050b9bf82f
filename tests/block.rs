//! `traced::span!` around sync and async blocks: the same records as `#[traced]` (value, error, panic, duration,
//! cancellation), asserted on exported spans.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]

mod common;

use std::time::Duration;

use common::{attr, capture, capture_async, exceptions, get, string};
use opentelemetry::trace::Status;
use opentelemetry::Value;

#[derive(Debug, thiserror::Error)]
#[error("no stock for {0}")]
struct NoStock(u32);

#[test]
fn sync_block_returns_its_value_and_records_fields() {
    let n = 3_u32;
    let (value, spans) = capture(
        || traced::span!("reserve", item.id = n, note = "x"; { Ok::<u32, NoStock>(n + 1) }),
    );
    assert_eq!(value.unwrap(), 4);
    let span = spans.one("reserve");
    assert_eq!(get(span, "item.id"), &Value::I64(3));
    assert_eq!(string(span, "note"), "x");
    assert_eq!(span.status, Status::Unset);
    assert!(matches!(get(span, "duration_ms"), Value::F64(ms) if *ms >= 0.0));
}

#[test]
fn sync_block_error_sets_status_and_exception() {
    let (value, spans) = capture(|| traced::span!("reserve"; { Err::<u32, NoStock>(NoStock(9)) }));
    assert!(value.is_err());
    let span = spans.one("reserve");
    assert_eq!(span.status, Status::error("no stock for 9"));
    assert_eq!(string(span, "error.type"), "block::NoStock");
    assert_eq!(exceptions(span).len(), 1);
}

fn explode(n: u32) -> u32 {
    assert!(n == 0, "boom {n}");
    n
}

#[test]
fn sync_block_panic_is_recorded_and_continues() {
    let (caught, spans) =
        capture(|| std::panic::catch_unwind(|| traced::span!("explode"; { explode(1) })));
    let payload = caught.expect_err("the panic must continue");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("boom 1")
    );
    let span = spans.one("explode");
    assert_eq!(string(span, "error.type"), "panic");
    assert_eq!(span.status, Status::error("boom 1"));
}

#[test]
fn async_block_covers_its_run() {
    let ((), spans) = capture_async(|| {
        traced::span!("wait", attempt = 2; async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
        })
    });
    let span = spans.one("wait");
    assert_eq!(get(span, "attempt"), &Value::I64(2));
    assert!(matches!(get(span, "duration_ms"), Value::F64(ms) if *ms >= 20.0));
    assert!(attr(span, "cancelled").is_none());
}

#[test]
fn async_block_error_and_cancellation() {
    let (result, spans) = capture_async(|| async {
        let failed = traced::span!("fetch"; async { Err::<(), NoStock>(NoStock(1)) }).await;
        let never = traced::span!("stuck"; async { std::future::pending::<()>().await });
        let timed_out = tokio::time::timeout(Duration::from_millis(5), never).await;
        (failed, timed_out.is_err())
    });
    assert!(result.0.is_err());
    assert!(result.1, "the pending block must time out");
    assert_eq!(spans.one("fetch").status, Status::error("no stock for 1"));
    let stuck = spans.one("stuck");
    assert_eq!(get(stuck, "cancelled"), &Value::Bool(true));
    assert_eq!(stuck.status, Status::Unset);
}
