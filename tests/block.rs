//! `traced::span!` around sync and async blocks: the same records as `#[traced]` (value, error, panic, duration,
//! cancellation), asserted on exported spans.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]

mod common;

use std::time::Duration;

use common::{capture, capture_async};
use opentelemetry::trace::Status;
use opentelemetry::Value;
use traced_test_support::span::{attr, exceptions, get, string};

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

// ---------------------------------------------------------------------------------------------------------------
// One list of keys: a `span!` block carries what a `#[traced]` fn carries, with the same OTLP types.

#[traced::traced]
fn fn_ok() -> Result<u32, NoStock> {
    Ok(1)
}

#[traced::traced]
fn fn_err() -> Result<u32, NoStock> {
    Err(NoStock(2))
}

#[traced::traced]
async fn fn_async() -> Result<u32, NoStock> {
    Ok(3)
}

fn block_ok() -> Result<u32, NoStock> {
    traced::span!("block_ok"; { Ok(1) })
}

fn block_err() -> Result<u32, NoStock> {
    traced::span!("block_err"; { Err(NoStock(2)) })
}

async fn block_async() -> Result<u32, NoStock> {
    traced::span!("block_async"; async move { Ok(3) }).await
}

/// Each attribute key with the name of its OTLP value type.
fn shape(
    span: &opentelemetry_sdk::trace::SpanData,
) -> std::collections::BTreeMap<String, &'static str> {
    span.attributes
        .iter()
        .map(|kv| {
            let kind = match &kv.value {
                Value::Bool(_) => "bool",
                Value::I64(_) => "i64",
                Value::F64(_) => "f64",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                _ => "other",
            };
            (kv.key.as_str().to_owned(), kind)
        })
        .collect()
}

#[test]
fn block_and_fn_spans_carry_the_same_keys_with_the_same_types() {
    let (_, spans) = capture_async(|| async {
        (
            fn_ok(),
            block_ok(),
            fn_err(),
            block_err(),
            fn_async().await,
            block_async().await,
        )
    });
    for (of_fn, of_block) in [
        ("fn_ok", "block_ok"),
        ("fn_err", "block_err"),
        ("fn_async", "block_async"),
    ] {
        let (of_fn, of_block) = (spans.one(of_fn), spans.one(of_block));
        assert_eq!(
            shape(of_fn),
            shape(of_block),
            "{} against {}",
            of_fn.name,
            of_block.name
        );
        assert_eq!(of_fn.events.len(), of_block.events.len());
    }
    for key in ["code.line.number", "code.column.number"] {
        assert!(
            matches!(get(spans.one("block_ok"), key), Value::I64(n) if *n > 0),
            "{key}"
        );
    }
}

#[test]
fn block_names_the_fn_it_is_written_in() {
    let (_, spans) = capture_async(|| async { (fn_ok(), block_ok(), block_async().await) });
    assert_eq!(
        string(spans.one("fn_ok"), "code.function.name"),
        "block::fn_ok"
    );
    assert_eq!(
        string(spans.one("block_ok"), "code.function.name"),
        "block::block_ok"
    );
    // Inside the async fn's state machine (`block_async::{{closure}}`) and the block's own `async move`.
    assert_eq!(
        string(spans.one("block_async"), "code.function.name"),
        "block::block_async"
    );
    assert_eq!(string(spans.one("block_ok"), "code.file.path"), file!());
}
