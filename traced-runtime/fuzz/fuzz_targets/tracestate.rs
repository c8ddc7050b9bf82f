//! `tracestate`: never panics; what parses formats back within the W3C limits (32 members).
#![no_main]

use libfuzzer_sys::fuzz_target;
use traced_runtime::propagation::trace_context::{format_tracestate, parse_tracestate};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(state) = parse_tracestate(header) {
        let formatted = format_tracestate(&state);
        assert!(formatted.split(',').filter(|m| !m.is_empty()).count() <= 32);
        assert!(parse_tracestate(&formatted).is_some());
    }
});
