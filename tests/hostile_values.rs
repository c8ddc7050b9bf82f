//! The application's own `Debug` and `Display` panicking while `#[traced]` records an argument, a field, a return
//! value or an error (issue 19.2, 19.3).
//!
//! Under any subscriber, tracing_subscriber's fmt layer included (it formats while it holds the span's state), the
//! panic must not abort the process, and recording must not change what the fn returns: the value is recorded as
//! `<Debug panicked>` / `<Display panicked>`. Before, a test here died of SIGABRT ("panic in a destructor during
//! cleanup"), which is why these tests have a binary of their own.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]

mod common;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::capture;
use opentelemetry::trace::Status;
use opentelemetry::Value;
use traced::traced;
use traced_test_support::span::{attr, event_attr, exceptions};
use tracing_subscriber::layer::SubscriberExt;

/// A value whose `Debug` panics.
struct BadDebug;

impl fmt::Debug for BadDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug exploded")
    }
}

/// A value whose `Display` panics (recorded with `Display`, the probe's second choice).
struct BadDisplay;

impl fmt::Display for BadDisplay {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display exploded")
    }
}

/// An error whose `Display` panics.
#[derive(Debug)]
struct BadError;

impl fmt::Display for BadError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display exploded")
    }
}

impl std::error::Error for BadError {}

#[traced(ret)]
fn returns_bad_debug() -> BadDebug {
    BadDebug
}

#[traced(ret)]
async fn returns_bad_debug_async() -> BadDebug {
    BadDebug
}

#[traced(args(value, shown))]
fn takes_bad_values(value: &BadDebug, shown: &BadDisplay) -> u32 {
    let _ = (value, shown);
    7
}

#[traced(fields(value = ?BadDebug, shown = %BadDisplay))]
fn with_bad_fields() -> u32 {
    8
}

#[traced]
fn fails_badly() -> Result<u32, BadError> {
    Err(BadError)
}

#[traced(err(Debug))]
fn fails_with_bad_debug() -> Result<u32, BadDebug> {
    Err(BadDebug)
}

#[traced(err(Display))]
fn fails_with_bad_display() -> Result<u32, BadDisplay> {
    Err(BadDisplay)
}

/// Runs `body` under a registry with tracing_subscriber's fmt layer (all levels, written nowhere), which formats
/// every field of a span while it holds the span's extensions.
fn under_fmt<R>(body: impl FnOnce() -> R) -> R {
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::sink)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE),
    );
    tracing::subscriber::with_default(subscriber, body)
}

fn poll_once<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the future has nothing to wait for"),
    }
}

#[test]
fn a_return_value_whose_debug_panics_does_not_abort_under_the_fmt_layer() {
    let returned = catch_unwind(|| under_fmt(|| matches!(returns_bad_debug(), BadDebug)));
    assert!(matches!(returned, Ok(true)), "the fn returned its value");
    let returned =
        catch_unwind(|| under_fmt(|| matches!(poll_once(returns_bad_debug_async()), BadDebug)));
    assert!(
        matches!(returned, Ok(true)),
        "the async fn returned its value"
    );
}

#[test]
fn arguments_and_fields_whose_formatting_panics_do_not_abort_under_the_fmt_layer() {
    let returned = catch_unwind(|| under_fmt(|| takes_bad_values(&BadDebug, &BadDisplay)));
    assert!(matches!(returned, Ok(7)), "{returned:?}");
    let returned = catch_unwind(|| under_fmt(with_bad_fields));
    assert!(matches!(returned, Ok(8)), "{returned:?}");
}

#[test]
fn a_return_value_whose_debug_panics_is_recorded_as_a_placeholder() {
    let (returned, spans) = capture(|| {
        let sync = matches!(returns_bad_debug(), BadDebug);
        let async_ = matches!(poll_once(returns_bad_debug_async()), BadDebug);
        sync && async_
    });
    assert!(returned);
    for name in ["returns_bad_debug", "returns_bad_debug_async"] {
        let span = spans.one(name);
        assert_eq!(
            attr(span, "return.value"),
            Some(&Value::from("<Debug panicked>")),
            "{name}"
        );
        assert_eq!(
            span.status,
            Status::Unset,
            "{name}: a panic in Debug is no error of the fn"
        );
    }
}

#[test]
fn arguments_and_fields_whose_formatting_panics_are_recorded_as_placeholders() {
    let (returned, spans) =
        capture(|| (takes_bad_values(&BadDebug, &BadDisplay), with_bad_fields()));
    assert_eq!(returned, (7, 8));
    for name in ["takes_bad_values", "with_bad_fields"] {
        let span = spans.one(name);
        assert_eq!(
            attr(span, "value"),
            Some(&Value::from("<Debug panicked>")),
            "{name}"
        );
        assert_eq!(
            attr(span, "shown"),
            Some(&Value::from("<Display panicked>")),
            "{name}"
        );
    }
}

#[test]
fn an_error_whose_display_panics_is_returned_and_recorded_with_a_placeholder() {
    let (returned, spans) = capture(|| {
        catch_unwind(AssertUnwindSafe(|| {
            (
                fails_badly().is_err(),
                fails_with_bad_debug().is_err(),
                fails_with_bad_display().is_err(),
            )
        }))
    });
    assert!(
        matches!(returned, Ok((true, true, true))),
        "each fn returned its Err, no panic"
    );
    for (name, placeholder) in [
        ("fails_badly", "<Display panicked>"),
        ("fails_with_bad_debug", "<Debug panicked>"),
        ("fails_with_bad_display", "<Display panicked>"),
    ] {
        let span = spans.one(name);
        assert_eq!(span.status, Status::error(placeholder), "{name}");
        let events = exceptions(span);
        assert_eq!(events.len(), 1, "{name}: one exception event");
        assert_eq!(
            event_attr(&events[0].attributes, "exception.message"),
            Some(&Value::from(placeholder)),
            "{name}"
        );
    }
}

#[test]
fn an_error_whose_display_panics_is_returned_under_the_fmt_layer() {
    let returned = catch_unwind(|| under_fmt(|| fails_badly().is_err()));
    assert!(matches!(returned, Ok(true)), "{returned:?}");
}
