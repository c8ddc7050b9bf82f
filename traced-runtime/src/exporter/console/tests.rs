use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use opentelemetry_sdk::Resource;

use super::waterfall::{format_duration, render, Completeness};
use super::{colour_wanted, ConsoleExporter};

const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const OTHER_TRACE: u128 = 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c;

/// Somewhere in 2023, so that the tests do not depend on the clock.
fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(ms)
}

/// A span of `TRACE` from `start_ms` to `end_ms`; `parent` 0 means a root.
fn span(id: u64, parent: u64, name: &'static str, start_ms: u64, end_ms: u64) -> SpanData {
    span_in(TRACE, id, parent, name, start_ms, end_ms)
}

fn span_in(trace: u128, id: u64, parent: u64, name: &'static str, start_ms: u64, end_ms: u64) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::from(parent),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed(name),
        start_time: at(start_ms),
        end_time: at(end_ms),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: Default::default(),
    }
}

fn with(mut span: SpanData, attributes: Vec<KeyValue>) -> SpanData {
    span.attributes = attributes;
    span
}

fn kind(mut span: SpanData, kind: SpanKind) -> SpanData {
    span.span_kind = kind;
    span
}

fn failed(mut span: SpanData, description: &'static str) -> SpanData {
    span.status = Status::error(description);
    span
}

fn event(mut span: SpanData, name: &'static str, ms: u64, attributes: Vec<KeyValue>) -> SpanData {
    span.events.events.push(Event::new(name, at(ms), attributes, 0));
    span
}

/// What the exporter wrote, shared with the test.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<u8>>>);

impl Output {
    /// Everything written since the last call.
    fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn exporter() -> (ConsoleExporter, Output) {
    let output = Output::default();
    (ConsoleExporter::with_writer(Box::new(output.clone()), false), output)
}

fn export(exporter: &ConsoleExporter, batch: Vec<SpanData>) -> OTelSdkResult {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(exporter.export(batch))
}

/// The trace of the module documentation: a request, a database call, a failed payment with an exception.
fn checkout() -> Vec<SpanData> {
    vec![
        with(
            kind(span(1, 0, "GET /checkout", 0, 120), SpanKind::Server),
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.route", "/checkout"),
                KeyValue::new("http.response.status_code", 500),
                KeyValue::new("code.filepath", "src/main.rs"),
            ],
        ),
        with(span(2, 1, "load_cart", 30, 60), vec![KeyValue::new("cart.items", 3)]),
        with(
            kind(span(3, 2, "SELECT carts", 35, 55), SpanKind::Client),
            vec![KeyValue::new("db.system.name", "postgresql")],
        ),
        event(
            with(
                failed(kind(span(4, 1, "charge", 60, 120), SpanKind::Client), "card declined"),
                vec![KeyValue::new("error.type", "CardDeclined")],
            ),
            "exception",
            118,
            vec![
                KeyValue::new("exception.type", "CardDeclined"),
                KeyValue::new("exception.message", "insufficient funds"),
            ],
        ),
    ]
}

#[test]
fn sample() {
    print!("{}", render(&checkout(), Some("checkout"), Completeness::Complete, false));
    print!("{}", render(&checkout(), Some("checkout"), Completeness::Complete, true));
    let _ = (OTHER_TRACE, format_duration, colour_wanted, OTelSdkError::AlreadyShutdown, Resource::builder_empty());
}
