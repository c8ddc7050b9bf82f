//! The application's own `Debug` and `Display` panicking while `traced` records a value: the process must not
//! abort (a panic while the span's state is locked used to poison it, and the span's close panicked again during
//! unwinding: SIGABRT), the caller's code goes on, and the span still ends and is exported.

use std::fmt;

use opentelemetry::Value;
use traced::testing::capture;

/// A value whose `Debug` panics.
struct Explodes;

impl fmt::Debug for Explodes {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug exploded")
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

fn event_attr<'a>(event: &'a opentelemetry::trace::Event, key: &str) -> Option<&'a Value> {
    event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

#[test]
fn a_panicking_debug_in_an_event_is_recorded_as_a_placeholder() {
    let (after, captured) = capture(|| {
        let span = tracing::info_span!("outer");
        let _entered = span.enter();
        tracing::info!(v = ?Explodes, "with a hostile value");
        "the code went on"
    });
    assert_eq!(after, "the code went on");
    let outer = captured.span("outer");
    let event = &outer.events()[0];
    assert_eq!(event.name, "with a hostile value");
    assert_eq!(
        event_attr(event, "v"),
        Some(&Value::from("<Debug panicked>"))
    ); // The log record of the event too.
    let logs = captured.logs();
    assert_eq!(logs[0].attr("v"), Some(&Value::from("<Debug panicked>")));
}

#[test]
fn a_panicking_debug_recorded_on_a_span_is_a_placeholder() {
    let ((), captured) = capture(|| {
        let span = tracing::info_span!("recorded", v = tracing::field::Empty);
        span.record("v", tracing::field::debug(Explodes));
    });
    assert_eq!(
        captured.span("recorded").attr("v"),
        Some(&Value::from("<Debug panicked>"))
    );
}

#[test]
fn a_panicking_display_of_an_error_field_is_a_placeholder() {
    let ((), captured) = capture(|| {
        let span = tracing::info_span!("failing");
        let _entered = span.enter();
        let error: &(dyn std::error::Error + 'static) = &BadError;
        tracing::error!(error, "it failed");
    });
    let failing = captured.span("failing");
    let event = &failing.events()[0];
    assert_eq!(
        event_attr(event, "exception.message"),
        Some(&Value::from("<Display panicked>"))
    );
    let logs = captured.logs();
    assert_eq!(
        logs[0].attr("error"),
        Some(&Value::from("<Display panicked>"))
    );
}
