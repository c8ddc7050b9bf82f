//! `baggage`: the percent-decoder and the whole header extraction never panic; the outgoing header keeps the
//! W3C limits (64 members, 8192 bytes).
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use traced_runtime::propagation::baggage::{decode, encode, format_baggage};
use traced_runtime::propagation::BaggagePropagator;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let decoded = decode(header);
    assert_eq!(decode(&encode(&decoded)), decoded);
    let carrier = HashMap::from([("baggage".to_owned(), header.to_owned())]);
    let cx = BaggagePropagator::new().extract(&carrier);
    let outgoing = format_baggage(cx.baggage());
    assert!(outgoing.len() <= 8192);
    assert!(outgoing.split(',').filter(|m| !m.is_empty()).count() <= 64);
});
