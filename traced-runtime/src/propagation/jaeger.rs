//! Jaeger: `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}` and `uberctx-{key}` baggage.
//!
//! Ids are hex of variable length (up to 32 and 16 digits), left-padded with zeros; either case is accepted, as
//! Jaeger clients do. The URL-encoded form (`%3A` for `:`) is accepted too. Flag 0x01 is sampled; 0x02 (debug)
//! also counts as sampled. Baggage values are percent-decoded on extract and percent-encoded on inject; a baggage
//! key keeps the case of its `uberctx-{key}` header name (HTTP/2 delivers header names in lowercase).
//!
//! ```
//! use std::collections::HashMap;
//! use opentelemetry::propagation::TextMapPropagator;
//! use opentelemetry::trace::TraceContextExt;
//! use traced::propagation::JaegerPropagator;
//!
//! let mut headers = HashMap::new();
//! headers.insert("uber-trace-id".to_owned(), "abc:def:0:1".to_owned());
//! let cx = JaegerPropagator::new().extract(&headers);
//! let span = cx.span();
//! assert_eq!(span.span_context().trace_id().to_string(), "00000000000000000000000000000abc");
//! assert!(span.span_context().is_sampled());
//! ```

use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use super::baggage::{decode, encode, is_token, with_entries, Entry, MAX_BYTES, MAX_MEMBERS};
use super::{parse_hex, OWS};

/// The trace header.
pub const JAEGER_HEADER: &str = "uber-trace-id";
/// The prefix of baggage headers.
pub const JAEGER_BAGGAGE_PREFIX: &str = "uberctx-";

const DEBUG_FLAG: u8 = 0x02;
/// The longest valid `uber-trace-id`: 32, 16 and 16 hex digits and 2 of flags, with three `%3A` separators.
const MAX_UBER_TRACE_ID_LEN: usize = 32 + 16 + 16 + 2 + 3 * 3;

/// The Jaeger propagator (`OTEL_PROPAGATORS=jaeger`).
#[derive(Clone, Debug)]
pub struct JaegerPropagator {
    fields: [String; 1],
}

impl JaegerPropagator {
    /// Creates the propagator.
    pub fn new() -> Self {
        JaegerPropagator {
            fields: [JAEGER_HEADER.to_owned()],
        }
    }
}

impl Default for JaegerPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl TextMapPropagator for JaegerPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        inject_span_context(cx.span().span_context(), injector);
        inject_baggage(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let cx = match extract_span_context(extractor) {
            Some(span_context) => cx.with_remote_span_context(span_context),
            None => cx.clone(),
        };
        with_entries(&cx, extract_baggage(extractor))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Writes `{trace-id:032x}:{span-id:016x}:0:{flags}` for a valid span context; the parent id is deprecated in
/// Jaeger and always written as `0`.
pub(crate) fn inject_span_context(span_context: &SpanContext, injector: &mut dyn Injector) {
    if !span_context.is_valid() {
        return;
    }
    let flags = if span_context.is_sampled() { "1" } else { "0" };
    injector.set(
        JAEGER_HEADER,
        format!(
            "{:032x}:{:016x}:0:{flags}",
            span_context.trace_id(),
            span_context.span_id()
        ),
    );
}

/// Writes each baggage entry as `uberctx-{key}`, value percent-encoded.
pub(crate) fn inject_baggage(cx: &Context, injector: &mut dyn Injector) {
    // Sorted: keys that differ only in case share one header name, and the same one must win every time.
    let mut entries: Vec<_> = cx.baggage().iter().collect();
    entries.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    for (key, (value, _metadata)) in entries {
        if is_token(key.as_str()) {
            injector.set(
                &format!("{JAEGER_BAGGAGE_PREFIX}{}", key.as_str()),
                encode(value.as_str()),
            );
        }
    }
}

/// Reads `uber-trace-id`; `None` when missing or invalid.
pub(crate) fn extract_span_context(extractor: &dyn Extractor) -> Option<SpanContext> {
    parse_uber_trace_id(extractor.get(JAEGER_HEADER)?)
}

/// Parses `{trace-id}:{span-id}:{parent-span-id}:{flags}`, also with `:` URL-encoded as `%3A`.
pub fn parse_uber_trace_id(header: &str) -> Option<SpanContext> {
    let header = header.trim_matches(OWS);
    // Longer than the longest valid header cannot be valid: refused before it is decoded (an 80 KB value made
    // of `%3A` was copied twice).
    if header.len() > MAX_UBER_TRACE_ID_LEN {
        return None;
    }
    let decoded;
    let header = if header.contains('%') {
        decoded = header.replace("%3A", ":").replace("%3a", ":");
        decoded.as_str()
    } else {
        header
    };
    let mut parts = header.split(':');
    let (trace_id, span_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || span_id.len() > 16 || parent_id.len() > 16 || flags.len() > 2 {
        return None;
    }
    let trace_id = parse_hex(trace_id, false).filter(|&id| id != 0)?;
    // At most 16 hex digits: fits in a u64.
    let span_id = parse_hex(span_id, false).filter(|&id| id != 0)? as u64;
    parse_hex(parent_id, false)?;
    let flags = parse_hex(flags, false)? as u8;
    let sampled = flags & (TraceFlags::SAMPLED.to_u8() | DEBUG_FLAG) != 0;
    Some(SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::NOT_SAMPLED.with_sampled(sampled),
        true,
        TraceState::NONE,
    ))
}

/// The `uberctx-{key}` headers (prefix matched case-insensitively) as baggage entries, in order of header name,
/// within the W3C Baggage limits: reading stops after 64 entries or at the first one that would take key and
/// value past 8192 bytes, so a flood of headers costs what a full baggage does (1,000 `uberctx-*` headers took
/// 1.9 times as long as the same bytes in headers no propagator reads, decoding all of them to keep 64).
pub(crate) fn extract_baggage(extractor: &dyn Extractor) -> Vec<Entry> {
    let mut names: Vec<&str> = extractor
        .keys()
        .into_iter()
        .filter(|name| {
            name.get(..JAEGER_BAGGAGE_PREFIX.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(JAEGER_BAGGAGE_PREFIX))
        })
        .collect();
    // Carrier key order is arbitrary (hash maps): sorted, the same entries are kept and a repeated key resolves
    // the same way every time.
    names.sort_unstable_by_key(|name| (&name[JAEGER_BAGGAGE_PREFIX.len()..], *name));
    let mut entries: Vec<Entry> = Vec::new();
    let mut bytes = 0;
    for name in names {
        let key = &name[JAEGER_BAGGAGE_PREFIX.len()..];
        if !is_token(key) {
            continue;
        }
        let Some(value) = extractor.get(name) else {
            continue;
        };
        let value = value.trim_matches(OWS);
        bytes += key.len() + value.len();
        if bytes > MAX_BYTES || entries.len() == MAX_MEMBERS {
            break;
        }
        // The key keeps the case of the header name: lowercasing it would turn a W3C baggage key `Z`, also sent
        // as `uberctx-Z`, into a second entry `z` on the next hop.
        entries.push((key.to_owned(), decode(value), String::new()));
    }
    entries
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn carrier(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn uber_trace_id_table() {
        /// Trace id, span id, sampled.
        type Expected = (&'static str, &'static str, bool);
        #[rustfmt::skip]
        let cases: &[(&str, Option<Expected>)] = &[
            ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
                Some(("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true))),
            ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:0",
                Some(("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", false))),
            ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:03",
                Some(("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true))),
            ("a3ce929d0e0e4736:f067aa0ba902b7:5:2",
                Some(("0000000000000000a3ce929d0e0e4736", "00f067aa0ba902b7", true))),
            ("ABC:DEF:0:1", Some(("00000000000000000000000000000abc", "0000000000000def", true))),
            ("abc%3Adef%3A0%3A1", Some(("00000000000000000000000000000abc", "0000000000000def", true))),
            ("abc%3adef%3a0%3a1", Some(("00000000000000000000000000000abc", "0000000000000def", true))),
            (" abc:def:0:1 ", Some(("00000000000000000000000000000abc", "0000000000000def", true))),
            ("", None),
            ("abc:def:0", None),
            ("abc:def:0:1:extra", None),
            ("0:def:0:1", None),
            ("abc:0:0:1", None),
            ("abc:def:0:", None),
            ("abc:def:0:100", None),
            ("abc:def::1", None),
            ("abc:def:xyz:1", None),
            ("+abc:def:0:1", None),
            ("abc:-def:0:1", None),
            ("abc: def:0:1", None),
            ("4bf92f3577b34da6a3ce929d0e0e47361:def:0:1", None),
            ("abc:00f067aa0ba902b71:0:1", None),
            ("abc%3Adef%2C0%3A1", None),
        ];
        for (header, expected) in cases {
            let got = parse_uber_trace_id(header).map(|sc| {
                assert!(sc.is_remote());
                (
                    sc.trace_id().to_string(),
                    sc.span_id().to_string(),
                    sc.is_sampled(),
                )
            });
            let expected = expected.map(|(t, s, f)| (t.to_owned(), s.to_owned(), f));
            assert_eq!(got, expected, "{header:?}");
        }
    }

    #[test]
    fn baggage_headers_are_read_and_decoded() {
        let map = carrier(&[
            ("uber-trace-id", "abc:def:0:1"),
            ("uberctx-user", "alice%20smith"),
            ("UberCtx-Tenant", "t1"),
            ("uberctx-", "no key"),
            ("uberctx-bad key", "x"),
            ("other", "y"),
        ]);
        let entries = extract_baggage(&map);
        // The HashMap extractor only finds lowercase keys, so "UberCtx-Tenant" is listed but not readable here;
        // MapExtractor (case-insensitive) reads it.
        assert_eq!(
            entries,
            [("user".to_owned(), "alice smith".to_owned(), String::new())]
        );
        let entries = extract_baggage(&crate::propagation::MapExtractor(&map));
        assert_eq!(
            entries,
            [
                ("Tenant".to_owned(), "t1".to_owned(), String::new()),
                ("user".to_owned(), "alice smith".to_owned(), String::new()),
            ]
        );

        let cx = JaegerPropagator::new().extract_with_context(&Context::new(), &map);
        assert_eq!(
            cx.baggage().get("user").map(|v| v.as_str()),
            Some("alice smith")
        );
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "00000000000000000000000000000abc"
        );
    }

    #[test]
    fn baggage_headers_stop_at_64_entries_and_8192_bytes() {
        let flood: Vec<(String, String)> = (0..1_000)
            .map(|i| (format!("uberctx-k{i:04}"), "v".to_owned()))
            .collect();
        let entries = extract_baggage(&crate::propagation::MapExtractor(&flood));
        assert_eq!(entries.len(), 64);
        assert_eq!(
            (entries[0].0.as_str(), entries[63].0.as_str()),
            ("k0000", "k0063")
        );

        // Keys and values count towards 8192 bytes; the entry that would pass them is not read, nor those after.
        let big = |key: &str, len: usize| (format!("uberctx-{key}"), "x".repeat(len));
        let headers = vec![big("a", 8190), big("b", 1), big("c", 1)];
        let keys: Vec<String> = extract_baggage(&crate::propagation::MapExtractor(&headers))
            .into_iter()
            .map(|(key, _, _)| key)
            .collect();
        assert_eq!(keys, ["a"]);
        let headers = vec![big("a", 8191)];
        assert_eq!(
            extract_baggage(&crate::propagation::MapExtractor(&headers)).len(),
            1
        );
    }

    #[test]
    fn uber_trace_id_longer_than_the_longest_valid_one_is_refused_unread() {
        let longest = format!(
            "{}%3A{}%3A{}%3A03",
            "a".repeat(32),
            "b".repeat(16),
            "c".repeat(16)
        );
        assert_eq!(longest.len(), MAX_UBER_TRACE_ID_LEN);
        assert!(parse_uber_trace_id(&longest).is_some());
        assert_eq!(parse_uber_trace_id(&format!("0{longest}")), None);
        assert_eq!(parse_uber_trace_id(&"%3A".repeat(30_000)), None);
    }

    #[test]
    fn inject_trace_and_baggage() {
        let sc = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let cx = Context::new()
            .with_remote_span_context(sc)
            .with_baggage([opentelemetry::KeyValue::new("user", "a b")]);
        let mut out = HashMap::new();
        JaegerPropagator::new().inject_context(&cx, &mut out);
        assert_eq!(
            out,
            carrier(&[
                (
                    "uber-trace-id",
                    "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"
                ),
                ("uberctx-user", "a%20b"),
            ])
        );
        let mut none = HashMap::new();
        JaegerPropagator::new().inject_context(&Context::new(), &mut none);
        assert!(none.is_empty());
    }
}
