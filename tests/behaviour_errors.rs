//! How `#[traced]` records failures on the exported span: an `Err` of any `Result` spelling, `err(Debug)` and
//! `err(off)`, panics (sync and async, which still propagate unchanged), and futures dropped before completion.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]

mod common;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use common::{capture, capture_async};
use opentelemetry::trace::Status;
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use traced::traced;
use traced_test_support::span::{attr, event_attr, exceptions, get, string};

/// The root cause.
#[derive(Debug, thiserror::Error)]
#[error("disk full")]
struct DiskFull;

/// An error with a two-level `source()` chain.
#[derive(Debug, thiserror::Error)]
enum SaveError {
    #[error("cannot save order {0}")]
    Write(u32, #[source] WriteError),
}

/// The middle of the chain.
#[derive(Debug, thiserror::Error)]
#[error("write failed")]
struct WriteError(#[source] DiskFull);

type R<T> = Result<T, SaveError>;

fn save_error() -> SaveError {
    SaveError::Write(7, WriteError(DiskFull))
}

/// Asserts the span failed with `message`: status, `error.type`, and one `exception` event that says the same.
fn assert_failed(span: &SpanData, error_type: &str, message: &str) {
    assert_eq!(span.status, Status::error(message.to_owned()), "status");
    assert_eq!(string(span, "error.type"), error_type, "error.type");
    let events = exceptions(span);
    assert_eq!(events.len(), 1, "one exception event: {:?}", span.events);
    let event = events[0];
    assert_eq!(
        event_attr(&event.attributes, "exception.type"),
        Some(&Value::from(error_type.to_owned())),
        "exception.type"
    );
    assert_eq!(
        event_attr(&event.attributes, "exception.message"),
        Some(&Value::from(message.to_owned())),
        "exception.message"
    );
}

/// Asserts nothing about an error was recorded.
fn assert_not_failed(span: &SpanData) {
    assert_eq!(span.status, Status::Unset, "status of {:?}", span.name);
    assert_eq!(attr(span, "error.type"), None);
    assert_eq!(attr(span, "error.chain"), None);
    assert!(exceptions(span).is_empty(), "events: {:?}", span.events);
}

// ---------------------------------------------------------------------------------------------------------------
// Err of every Result spelling

#[traced]
fn plain_result(fail: bool) -> Result<u32, SaveError> {
    if fail {
        return Err(save_error());
    }
    Ok(1)
}

#[traced]
fn alias_result(fail: bool) -> R<u32> {
    let value = plain_result(false)?;
    if fail {
        Err(save_error())
    } else {
        Ok(value)
    }
}

#[traced]
fn io_result() -> io::Result<Vec<u8>> {
    std::fs::read("/nonexistent/traced-test")
}

#[traced]
fn anyhow_result() -> anyhow::Result<()> {
    use anyhow::Context as _;
    Err(save_error()).context("checkout failed")
}

#[traced]
fn boxed_result() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err(Box::new(save_error()))
}

#[traced]
async fn async_result() -> R<()> {
    tokio::task::yield_now().await;
    Err(save_error())
}

#[test]
fn err_of_a_result_fails_the_span_with_display_and_source_chain() {
    let (result, spans) = capture(|| plain_result(true));
    assert!(result.is_err());
    let span = spans.one("plain_result");
    assert_failed(span, "behaviour_errors::SaveError", "cannot save order 7");
    assert_eq!(string(span, "error.chain"), "write failed\ndisk full");
    let event = exceptions(span)[0];
    assert_eq!(
        event_attr(&event.attributes, "exception.stacktrace"),
        Some(&Value::from("write failed\ndisk full")),
        "the chain also travels with the event"
    );
}

#[test]
fn ok_leaves_the_status_unset() {
    let (result, spans) = capture(|| plain_result(false));
    assert_eq!(result.unwrap(), 1);
    assert_not_failed(spans.one("plain_result"));
}

#[test]
fn err_of_a_type_alias_is_recorded() {
    let (result, spans) = capture(|| alias_result(true));
    assert!(result.is_err());
    // The inner call succeeded and stays clean; the alias fn failed.
    assert_not_failed(spans.one("plain_result"));
    let span = spans.one("alias_result");
    assert_failed(span, "behaviour_errors::SaveError", "cannot save order 7");
    assert_eq!(string(span, "error.chain"), "write failed\ndisk full");
}

#[test]
fn err_of_io_result_is_recorded() {
    let (result, spans) = capture(io_result);
    let error = result.unwrap_err();
    let span = spans.one("io_result");
    assert_failed(span, "std::io::error::Error", &error.to_string());
}

#[test]
fn err_of_anyhow_result_is_recorded_with_its_context_chain() {
    let (result, spans) = capture(anyhow_result);
    assert!(result.is_err());
    let span = spans.one("anyhow_result");
    assert_failed(span, "anyhow::Error", "checkout failed");
    assert_eq!(
        string(span, "error.chain"),
        "cannot save order 7\nwrite failed\ndisk full"
    );
}

#[test]
fn err_of_a_boxed_dyn_error_is_recorded_with_its_chain() {
    let (result, spans) = capture(boxed_result);
    assert!(result.is_err());
    let span = spans.one("boxed_result");
    assert_failed(span, "alloc::boxed::Box", "cannot save order 7");
    assert_eq!(string(span, "error.chain"), "write failed\ndisk full");
}

#[test]
fn err_of_an_async_fn_is_recorded() {
    let (result, spans) = capture_async(async_result);
    assert!(result.is_err());
    let span = spans.one("async_result");
    assert_failed(span, "behaviour_errors::SaveError", "cannot save order 7");
    assert_eq!(string(span, "error.chain"), "write failed\ndisk full");
}

/// Only `Display`, not `std::error::Error`.
struct DisplayOnly;

impl fmt::Display for DisplayOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("display only")
    }
}

/// Only `Debug`.
#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct DebugOnly {
    code: u8,
}

#[traced]
fn display_error() -> Result<(), DisplayOnly> {
    Err(DisplayOnly)
}

#[traced]
fn debug_error() -> Result<(), DebugOnly> {
    Err(DebugOnly { code: 4 })
}

#[test]
fn err_that_is_not_std_error_is_recorded_with_display_or_debug() {
    let ((), spans) = capture(|| {
        assert!(display_error().is_err());
        assert!(debug_error().is_err());
    });
    let span = spans.one("display_error");
    assert_failed(span, "behaviour_errors::DisplayOnly", "display only");
    assert_eq!(attr(span, "error.chain"), None, "no source() to walk");
    assert_failed(
        spans.one("debug_error"),
        "behaviour_errors::DebugOnly",
        "DebugOnly { code: 4 }",
    );
}

#[traced(err(Debug))]
fn debug_mode() -> R<()> {
    Err(save_error())
}

#[traced(err(off))]
fn off_mode() -> R<()> {
    Err(save_error())
}

#[test]
fn err_debug_describes_the_error_with_debug() {
    let (result, spans) = capture(debug_mode);
    assert!(result.is_err());
    let span = spans.one("debug_mode");
    assert_failed(
        span,
        "behaviour_errors::SaveError",
        &format!("{:?}", save_error()),
    );
    assert_eq!(string(span, "error.chain"), "write failed\ndisk full");
}

#[test]
fn err_off_records_nothing() {
    let (result, spans) = capture(off_mode);
    assert!(result.is_err(), "the fn still returns its Err");
    assert_not_failed(spans.one("off_mode"));
}

// ---------------------------------------------------------------------------------------------------------------
// Panics

#[traced]
fn panics_with_string(n: u32) -> u32 {
    if n > 0 {
        panic!("boom {n}");
    }
    n
}

#[traced]
fn panics_with_str() {
    panic!("static boom");
}

#[traced]
async fn panics_while_polled() -> u32 {
    tokio::task::yield_now().await;
    panic!("async boom");
}

#[traced]
fn panics_in_returned_future() -> impl Future<Output = u32> {
    async {
        tokio::task::yield_now().await;
        panic!("future boom")
    }
}

#[traced]
fn diverges(code: u32) -> ! {
    panic!("gave up with {code}")
}

#[traced]
fn panics_before_returning_a_future(fail: bool) -> impl Future<Output = u32> {
    assert!(!fail, "refused at the call");
    async { 1 }
}

/// The message of a panic payload.
fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .expect("a string payload")
}

fn assert_panicked(span: &SpanData, message: &str) {
    assert_failed(span, "panic", message);
}

#[test]
fn panic_in_a_sync_fn_fails_the_span_and_propagates_unchanged() {
    let ((), spans) = capture(|| {
        let payload = catch_unwind(|| panics_with_string(3)).unwrap_err();
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "boom 3");
        let payload = catch_unwind(panics_with_str).unwrap_err();
        assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "static boom");
    });
    assert_panicked(spans.one("panics_with_string"), "boom 3");
    assert_panicked(spans.one("panics_with_str"), "static boom");
    let span = spans.one("panics_with_str");
    assert!(
        matches!(get(span, "duration_ms"), Value::F64(_)),
        "duration closed on panic"
    );
}

#[test]
fn panic_in_a_diverging_fn_fails_the_span_and_propagates_unchanged() {
    let ((), spans) = capture(|| {
        let payload = catch_unwind(|| diverges(9)).unwrap_err();
        assert_eq!(message(&*payload), "gave up with 9");
    });
    let span = spans.one("diverges");
    assert_panicked(span, "gave up with 9");
    assert!(matches!(get(span, "duration_ms"), Value::F64(_)));
}

#[test]
fn panic_at_the_call_of_an_impl_future_fn_fails_the_span_and_propagates_unchanged() {
    let ((), spans) = capture(|| {
        let payload = catch_unwind(|| panics_before_returning_a_future(true))
            .err()
            .expect("the call panicked");
        assert_eq!(message(&*payload), "refused at the call");
    });
    assert_panicked(
        spans.one("panics_before_returning_a_future"),
        "refused at the call",
    );
}

#[test]
fn panic_while_polling_an_async_fn_fails_the_span_and_propagates_unchanged() {
    let ((), spans) = capture(|| {
        let rt = common::runtime();
        let payload =
            catch_unwind(AssertUnwindSafe(|| rt.block_on(panics_while_polled()))).unwrap_err();
        assert_eq!(message(&*payload), "async boom");
        let payload = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(panics_in_returned_future())
        }))
        .unwrap_err();
        assert_eq!(message(&*payload), "future boom");
    });
    assert_panicked(spans.one("panics_while_polled"), "async boom");
    assert_panicked(spans.one("panics_in_returned_future"), "future boom");
    assert_eq!(attr(spans.one("panics_while_polled"), "cancelled"), None);
}

#[traced]
async fn panics_three_levels_down() -> u32 {
    tokio::task::yield_now().await;
    panic!("deep boom")
}

#[traced]
async fn middle_level() -> u32 {
    panics_three_levels_down().await + 1
}

#[traced]
async fn top_level() -> u32 {
    middle_level().await + 1
}

#[traced]
fn blocks_on_a_panicking_future() -> u32 {
    common::runtime().block_on(middle_level())
}

#[test]
fn a_panic_deep_in_nested_async_fns_fails_every_span_with_its_message() {
    // Only the outermost poll catches: the inner ones hand their spans to it as they unwind.
    let ((), spans) = capture(|| {
        let rt = common::runtime();
        let payload = catch_unwind(AssertUnwindSafe(|| rt.block_on(top_level()))).unwrap_err();
        assert_eq!(message(&*payload), "deep boom");
        // Beneath a sync body's catch.
        let payload = catch_unwind(blocks_on_a_panicking_future).unwrap_err();
        assert_eq!(message(&*payload), "deep boom");
    });
    for name in ["top_level", "blocks_on_a_panicking_future"] {
        assert_panicked(spans.one(name), "deep boom");
    }
    for name in ["middle_level", "panics_three_levels_down"] {
        let all = spans.all(name);
        assert_eq!(all.len(), 2, "{name}");
        for span in all {
            assert_panicked(span, "deep boom");
            assert!(matches!(get(span, "duration_ms"), Value::F64(_)));
            assert_eq!(attr(span, "cancelled"), None);
        }
    }
    // Closed innermost first, each inside its parent.
    let inner = spans.all("panics_three_levels_down")[0];
    let middle = spans.all("middle_level")[0];
    assert_eq!(inner.parent_span_id, middle.span_context.span_id());
    assert!(inner.end_time <= middle.end_time);
}

#[traced]
async fn panics_at_once() -> u32 {
    panic!("caught boom")
}

/// Polls a panicking `#[traced]` future once under a `catch_unwind` of its own and carries on.
#[traced]
async fn catches_what_it_polls() -> bool {
    let mut inner = std::pin::pin!(panics_at_once());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(&mut cx))).is_err()
}

#[test]
fn a_panic_caught_by_the_user_beneath_an_async_span_still_fails_the_inner_span() {
    let (caught, spans) = capture(|| common::runtime().block_on(catches_what_it_polls()));
    assert!(caught);
    assert_not_failed(spans.one("catches_what_it_polls"));
    let inner = spans.one("panics_at_once");
    // Its message never reached `traced` (no catch of ours saw the payload): the span says it panicked.
    assert_eq!(string(inner, "error.type"), "panic");
    assert!(
        matches!(inner.status, Status::Error { .. }),
        "{:?}",
        inner.status
    );
    assert_eq!(exceptions(inner).len(), 1);
    assert!(matches!(get(inner, "duration_ms"), Value::F64(_)));
}

// ---------------------------------------------------------------------------------------------------------------
// Cancellation

#[traced]
async fn never_ready() -> R<()> {
    std::future::pending::<()>().await;
    Ok(())
}

#[traced]
fn never_ready_later() -> impl Future<Output = ()> {
    std::future::pending()
}

#[traced]
fn never_ready_boxed() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move { std::future::pending::<()>().await })
}

#[traced]
async fn completes() -> u32 {
    tokio::task::yield_now().await;
    5
}

fn assert_cancelled(span: &SpanData) {
    assert_eq!(
        get(span, "cancelled"),
        &Value::Bool(true),
        "{:?}",
        span.name
    );
    assert_not_failed(span);
    assert!(
        matches!(get(span, "duration_ms"), Value::F64(_)),
        "duration closed on drop"
    );
}

#[test]
fn future_dropped_before_completion_is_marked_cancelled_without_error() {
    let ((), spans) = capture_async(|| async {
        let limit = Duration::from_millis(5);
        assert!(tokio::time::timeout(limit, never_ready()).await.is_err());
        assert!(tokio::time::timeout(limit, never_ready_later())
            .await
            .is_err());
        tokio::select! {
            () = never_ready_boxed() => unreachable!(),
            n = completes() => assert_eq!(n, 5),
        }
    });
    assert_cancelled(spans.one("never_ready"));
    assert_cancelled(spans.one("never_ready_later"));
    assert_cancelled(spans.one("never_ready_boxed"));
    let done = spans.one("completes");
    assert_eq!(attr(done, "cancelled"), None, "completed, not cancelled");
    assert_not_failed(done);
}

#[test]
fn future_dropped_before_its_first_poll_is_marked_cancelled() {
    // The span of a `fn -> impl Future` or a boxed future starts at the call: dropping the future unpolled
    // cancels it. (An `async fn` starts its span at the first poll, so it has none to cancel.)
    let ((), spans) = capture(|| {
        drop(never_ready_later());
        drop(never_ready_boxed());
        drop(never_ready());
    });
    assert_cancelled(spans.one("never_ready_later"));
    assert_cancelled(spans.one("never_ready_boxed"));
    assert_eq!(spans.names(), ["never_ready_later", "never_ready_boxed"]);
}
