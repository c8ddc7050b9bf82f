//! `traceparent`: never panics; whatever parses formats back to a header that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry::trace::{SpanContext, TraceState};
use traced_runtime::propagation::trace_context::{format_traceparent, parse_traceparent};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((trace_id, span_id, flags)) = parse_traceparent(header) {
        let context = SpanContext::new(trace_id, span_id, flags, true, TraceState::default());
        let again = format_traceparent(&context);
        assert_eq!(parse_traceparent(&again), Some((trace_id, span_id, flags)));
    }
});
