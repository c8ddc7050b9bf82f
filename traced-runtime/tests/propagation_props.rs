//! Properties of every format: injecting what was extracted is stable, ids and values survive the round trip,
//! and no input makes extraction panic.

use std::collections::HashMap;

use opentelemetry::baggage::{Baggage, BaggageExt, KeyValueMetadata};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
use proptest::prelude::*;
use traced_runtime::config::PropagatorKind;
use traced_runtime::propagation::{MapExtractor, MapInjector, Propagator};

const ALL: [PropagatorKind; 5] = [
    PropagatorKind::TraceContext,
    PropagatorKind::Baggage,
    PropagatorKind::B3,
    PropagatorKind::B3Multi,
    PropagatorKind::Jaeger,
];

fn inject(p: &Propagator, cx: &Context) -> Vec<(String, String)> {
    let mut out = Vec::new();
    p.inject_context(cx, &mut MapInjector(&mut out));
    out.sort();
    out
}

fn extract(p: &Propagator, headers: &[(String, String)]) -> Context {
    p.extract_with_context(&Context::new(), &MapExtractor(headers))
}

/// inject(extract(h)) == inject(extract(inject(extract(h)))), and returns the first injection.
fn assert_stable(p: &Propagator, headers: &[(String, String)]) -> Vec<(String, String)> {
    let first = inject(p, &extract(p, headers));
    let second = inject(p, &extract(p, &first));
    assert_eq!(first, second, "input {headers:?}");
    first
}

/// `( lcalpha / DIGIT ) 0*255 ( keychar )`, `@` among the keychars: short keys, keys with `@` anywhere after the
/// first character (several, or 14 and more characters after one, which opentelemetry's `TraceState` refuses and
/// the propagator still forwards), and keys of up to 256 characters.
fn tracestate_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9_*/-]{0,20}",
        "[a-z0-9][a-z0-9_*/@-]{0,20}",
        "[a-z0-9][a-z0-9_*/-]{0,10}@[a-z0-9_*/@-]{0,30}",
        "[a-z0-9][a-z0-9_*/@-]{200,255}",
    ]
}

fn tracestate_value() -> impl Strategy<Value = String> {
    // Printable ASCII without `,` and `=`, not ending in a space.
    "[ -+\\--<>-~]{0,40}[!-+\\--<>-~]"
}

fn tracestate() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map(tracestate_key(), tracestate_value(), 0..=32)
        .prop_map(|members| members.into_iter().collect())
}

fn span_context() -> impl Strategy<Value = (u128, u64, u8)> {
    (1..=u128::MAX, 1..=u64::MAX, 0..=3u8)
}

fn header(key: &str, value: impl Into<String>) -> (String, String) {
    (key.to_owned(), value.into())
}

proptest! {
    #[test]
    fn traceparent_and_tracestate_round_trip((trace, span, flags) in span_context(), members in tracestate()) {
        let p = Propagator::from_kinds(&[PropagatorKind::TraceContext]);
        let traceparent = format!("00-{trace:032x}-{span:016x}-{flags:02x}");
        let tracestate = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let input = vec![header("traceparent", traceparent.clone()), header("tracestate", tracestate.clone())];

        let cx = extract(&p, &input);
        let span_ref = cx.span();
        let sc = span_ref.span_context();
        prop_assert_eq!(sc.trace_id(), TraceId::from(trace));
        prop_assert_eq!(sc.span_id(), SpanId::from(span));
        prop_assert_eq!(sc.trace_flags().to_u8(), flags);
        prop_assert!(sc.is_remote());

        let out = assert_stable(&p, &input);
        prop_assert_eq!(&out.iter().find(|(k, _)| k == "traceparent").unwrap().1, &traceparent);
        let sent = out.iter().find(|(k, _)| k == "tracestate").map(|(_, v)| v.as_str()).unwrap_or("");
        prop_assert!(sent.len() <= 512);
        if tracestate.len() <= 512 {
            prop_assert_eq!(sent, tracestate.as_str());
        } else {
            // Truncation keeps whole entries, in their original order.
            let original: Vec<&str> = tracestate.split(',').collect();
            let mut rest = original.iter();
            for entry in sent.split(',').filter(|e| !e.is_empty()) {
                prop_assert!(rest.any(|o| o == &entry), "{} not an original entry in order", entry);
            }
        }
    }

    #[test]
    fn tracestate_with_repeated_keys_forwards_the_first_of_each(
        members in prop::collection::vec((prop::sample::select(vec!["a", "b@c", "d@@e", "f"]), tracestate_value()), 1..=32),
    ) {
        let p = Propagator::from_kinds(&[PropagatorKind::TraceContext]);
        let tracestate = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let input = vec![
            header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            header("tracestate", tracestate),
        ];
        let mut first: Vec<String> = Vec::new();
        for (key, value) in &members {
            if !first.iter().any(|m| m.split('=').next() == Some(key)) {
                first.push(format!("{key}={value}"));
            }
        }
        let out = assert_stable(&p, &input);
        let sent = out.iter().find(|(k, _)| k == "tracestate").map(|(_, v)| v.clone());
        prop_assert_eq!(sent, Some(first.join(",")));
    }

    #[test]
    fn b3_and_jaeger_round_trip((trace, span, flags) in span_context(), kind in prop::sample::select(vec![
        PropagatorKind::B3, PropagatorKind::B3Multi, PropagatorKind::Jaeger,
    ])) {
        let p = Propagator::from_kinds(&[kind]);
        let sc = SpanContext::new(TraceId::from(trace), SpanId::from(span), TraceFlags::new(flags & 1), false, TraceState::NONE);
        let headers = inject(&p, &Context::new().with_remote_span_context(sc));
        let out = assert_stable(&p, &headers);
        prop_assert_eq!(&out, &headers);
        let cx = extract(&p, &headers);
        let span_ref = cx.span();
        let back = span_ref.span_context();
        prop_assert_eq!(back.trace_id(), TraceId::from(trace));
        prop_assert_eq!(back.span_id(), SpanId::from(span));
        prop_assert_eq!(back.is_sampled(), flags & 1 == 1);
    }

    #[test]
    fn b3_single_64_bit_trace_ids_are_left_padded(trace in 1..=u64::MAX, span in 1..=u64::MAX) {
        let p = Propagator::from_kinds(&[PropagatorKind::B3]);
        let input = vec![header("b3", format!("{trace:016x}-{span:016x}-1"))];
        let cx = extract(&p, &input);
        prop_assert_eq!(cx.span().span_context().trace_id(), TraceId::from(u128::from(trace)));
        let out = assert_stable(&p, &input);
        prop_assert_eq!(&out[0].1, &format!("{:032x}-{span:016x}-1", u128::from(trace)));
    }

    #[test]
    fn baggage_values_survive_encoding(
        entries in prop::collection::btree_map("[A-Za-z0-9!#$&'*+.^_`|~-]{1,12}", any::<String>(), 0..20),
        properties in prop::option::of("[a-z]{1,5}(=[a-z0-9%]{1,5})?(;[a-z]{1,5})?"),
    ) {
        let p = Propagator::from_kinds(&[PropagatorKind::Baggage]);
        let metadata = properties.unwrap_or_default();
        let baggage: Baggage = entries
            .iter()
            .map(|(k, v)| KeyValueMetadata::new(k.clone(), v.clone(), metadata.clone()))
            .collect();
        let headers = inject(&p, &Context::new().with_baggage(baggage));
        let out = assert_stable(&p, &headers);
        prop_assert_eq!(&out, &headers);
        if let Some((_, value)) = headers.first() {
            // Only baggage-octets on the wire, no partial member over the limit.
            prop_assert!(value.len() <= 8192);
            prop_assert!(value.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'));
        }
        let cx = extract(&p, &headers);
        for (key, value) in &entries {
            let got = cx.baggage().get_with_metadata(key.as_str()).cloned();
            let (got_value, got_metadata) = got.expect("every short entry fits");
            prop_assert_eq!(got_value.as_str(), value.as_str());
            prop_assert_eq!(got_metadata.as_str(), metadata.as_str());
        }
    }

    #[test]
    fn baggage_is_cut_at_64_whole_members(count in 0..100usize) {
        let p = Propagator::from_kinds(&[PropagatorKind::Baggage]);
        let header_value = (0..count).map(|i| format!("key{i:03}=value{i}")).collect::<Vec<_>>().join(",");
        let headers = vec![header("baggage", header_value)];
        let out = assert_stable(&p, &headers);
        let sent = out.first().map(|(_, v)| v.split(',').count()).unwrap_or(0);
        prop_assert_eq!(sent, count.min(64));
        if let Some((_, value)) = out.first() {
            for member in value.split(',') {
                prop_assert!(member.starts_with("key") && member.contains("=value"), "{}", member);
            }
        }
    }

    #[test]
    fn any_string_headers_never_panic_and_reinjection_is_stable(
        values in prop::collection::vec(
            (prop::sample::select(vec![
                "traceparent", "Tracestate", "baggage", "b3", "X-B3-TraceId", "x-b3-spanid", "x-b3-sampled",
                "x-b3-flags", "x-b3-parentspanid", "uber-trace-id", "uberctx-k", "UBERCTX-é", "uberctx-",
            ]), any::<String>()),
            0..8,
        ),
    ) {
        let p = Propagator::from_kinds(&ALL);
        let headers: Vec<(String, String)> = values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_stable(&p, &headers);
    }

    #[test]
    fn near_valid_headers_never_panic_and_reinjection_is_stable(
        traceparent in "[0-9a-fA-F+ -]{0,3}-[0-9a-f+-]{30,34}-[0-9a-f ]{14,17}-[0-9a-fx]{0,3}(-.{0,4})?",
        tracestate in "([a-z0-9@*/_ -]{0,6}=[ -~]{0,6},?){0,5}",
        baggage in "([A-Za-z%;=, ]{0,6}=[%0-9A-Fa-f ;=,]{0,8},?){0,5}",
        b3 in "[0-9a-f]{0,33}-[0-9a-f]{0,17}(-[01dx])?(-[0-9a-f]{0,17})?",
        jaeger in "[0-9a-fA-F]{0,33}(:|%3A|%3a)[0-9a-f]{0,17}(:|%3A)[0-9a-f]{0,3}(:|%3a)[0-9a-f]{0,3}",
        order in Just(ALL.to_vec()).prop_shuffle(),
    ) {
        let p = Propagator::from_kinds(&order);
        let headers = vec![
            header("traceparent", traceparent),
            header("tracestate", tracestate),
            header("baggage", baggage),
            header("b3", b3),
            header("uber-trace-id", jaeger),
        ];
        assert_stable(&p, &headers);
    }
}

#[cfg(feature = "http")]
mod header_map {
    use super::*;
    use traced_runtime::propagation::{HeaderExtractor, HeaderInjector};

    proptest! {
    #[test]
    fn arbitrary_bytes_in_header_maps_never_panic(
        values in prop::collection::vec((prop::sample::select(vec![
            "traceparent", "tracestate", "baggage", "b3", "x-b3-traceid", "uber-trace-id", "uberctx-k",
        ]), prop::collection::vec(any::<u8>(), 0..80)), 0..8),
    ) {
        let p = Propagator::from_kinds(&ALL);
        let mut headers = http::HeaderMap::new();
        for (name, bytes) in values {
            if let Ok(value) = http::HeaderValue::from_bytes(&bytes) {
                headers.append(name, value);
            }
        }
        let cx = p.extract_with_context(&Context::new(), &HeaderExtractor(&headers));
        let mut out = http::HeaderMap::new();
        p.inject_context(&cx, &mut HeaderInjector(&mut out));
        let again = p.extract_with_context(&Context::new(), &HeaderExtractor(&out));
        let (before, after) = (cx.span(), again.span());
        prop_assert_eq!(after.span_context(), before.span_context());
    }
    }
}

#[test]
fn extracting_an_empty_carrier_changes_nothing() {
    let p = Propagator::from_kinds(&ALL);
    let empty: HashMap<String, String> = HashMap::new();
    let cx = p.extract_with_context(&Context::new(), &MapExtractor(&empty));
    assert!(!cx.span().span_context().is_valid());
    assert_eq!(cx.baggage().len(), 0);
    assert!(inject(&p, &cx).is_empty());
}
