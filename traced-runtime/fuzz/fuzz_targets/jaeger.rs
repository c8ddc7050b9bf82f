//! Jaeger `uber-trace-id` (`{trace}:{span}:{parent}:{flags}`): never panics; a parsed context is valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use traced_runtime::propagation::jaeger::parse_uber_trace_id;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(context) = parse_uber_trace_id(header) {
        assert!(context.is_valid());
    }
});
