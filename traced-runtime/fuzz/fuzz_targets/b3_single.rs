//! B3 single header (`b3: {trace}-{span}-{sampled}-{parent}`): never panics; a parsed context is valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use traced_runtime::propagation::b3::parse_single;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(context) = parse_single(header) {
        assert!(context.is_valid());
    }
});
