//! B3 (Zipkin): the single `b3` header and the `X-B3-*` headers.
//!
//! Extraction reads both encodings whatever the propagator injects, the single header first (the OpenTelemetry
//! B3 rule). A 64-bit trace id is left-padded with zeros to 128 bits. Debug (`d`, `X-B3-Flags: 1`) counts as
//! sampled. A sampling decision without ids (`b3: 0`) cannot be expressed as an OpenTelemetry span context, so it
//! extracts nothing. Header names are written in lowercase, which HTTP/2 requires and HTTP/1 ignores.
//!
//! ```
//! use std::collections::HashMap;
//! use opentelemetry::propagation::TextMapPropagator;
//! use opentelemetry::trace::TraceContextExt;
//! use traced::propagation::B3Propagator;
//!
//! let mut headers = HashMap::new();
//! headers.insert("b3".to_owned(), "a3ce929d0e0e4736-00f067aa0ba902b7-1".to_owned());
//! let cx = B3Propagator::single_header().extract(&headers);
//! assert_eq!(
//!     cx.span().span_context().trace_id().to_string(),
//!     "0000000000000000a3ce929d0e0e4736"
//! );
//! ```

use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use super::{parse_hex, OWS};

/// The single header.
pub const B3_SINGLE_HEADER: &str = "b3";
/// Multi-header trace id.
pub const B3_TRACE_ID_HEADER: &str = "x-b3-traceid";
/// Multi-header span id.
pub const B3_SPAN_ID_HEADER: &str = "x-b3-spanid";
/// Multi-header sampling decision.
pub const B3_SAMPLED_HEADER: &str = "x-b3-sampled";
/// Multi-header debug flag.
pub const B3_FLAGS_HEADER: &str = "x-b3-flags";
/// Multi-header parent span id (read and validated, never written: OpenTelemetry does not propagate it).
pub const B3_PARENT_SPAN_ID_HEADER: &str = "x-b3-parentspanid";

/// The longest valid single header: 32-digit trace id, span id, sampling flag and parent span id.
const MAX_SINGLE_LEN: usize = 32 + 1 + 16 + 1 + 1 + 1 + 16;

/// Which B3 encoding a [`B3Propagator`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum B3Encoding {
    /// `b3: {trace-id}-{span-id}-{sampled}` (`OTEL_PROPAGATORS=b3`).
    SingleHeader,
    /// `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` (`OTEL_PROPAGATORS=b3multi`).
    MultipleHeaders,
}

/// The B3 propagator.
#[derive(Clone, Debug)]
pub struct B3Propagator {
    encoding: B3Encoding,
    fields: Vec<String>,
}

impl B3Propagator {
    /// A propagator that writes `encoding` and reads both.
    pub fn new(encoding: B3Encoding) -> Self {
        let fields = match encoding {
            B3Encoding::SingleHeader => vec![B3_SINGLE_HEADER],
            B3Encoding::MultipleHeaders => {
                vec![B3_TRACE_ID_HEADER, B3_SPAN_ID_HEADER, B3_SAMPLED_HEADER]
            }
        };
        B3Propagator {
            encoding,
            fields: fields.into_iter().map(str::to_owned).collect(),
        }
    }

    /// Writes the single `b3` header.
    pub fn single_header() -> Self {
        Self::new(B3Encoding::SingleHeader)
    }

    /// Writes the `x-b3-*` headers.
    pub fn multiple_headers() -> Self {
        Self::new(B3Encoding::MultipleHeaders)
    }

    /// The encoding this propagator writes.
    pub fn encoding(&self) -> B3Encoding {
        self.encoding
    }
}

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        inject_span_context(self.encoding, cx.span().span_context(), injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extract_span_context(extractor) {
            Some(span_context) => cx.with_remote_span_context(span_context),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Writes `span_context` in `encoding`, if it is valid.
pub(crate) fn inject_span_context(
    encoding: B3Encoding,
    span_context: &SpanContext,
    injector: &mut dyn Injector,
) {
    if !span_context.is_valid() {
        return;
    }
    let trace_id = format!("{:032x}", span_context.trace_id());
    let span_id = format!("{:016x}", span_context.span_id());
    let sampled = if span_context.is_sampled() { "1" } else { "0" };
    match encoding {
        B3Encoding::SingleHeader => {
            injector.set(B3_SINGLE_HEADER, format!("{trace_id}-{span_id}-{sampled}"));
        }
        B3Encoding::MultipleHeaders => {
            injector.set(B3_TRACE_ID_HEADER, trace_id);
            injector.set(B3_SPAN_ID_HEADER, span_id);
            injector.set(B3_SAMPLED_HEADER, sampled.to_owned());
        }
    }
}

/// The single header if present, else the multiple headers. A present but invalid single header does not fall
/// back: the sender meant it.
pub(crate) fn extract_span_context(extractor: &dyn Extractor) -> Option<SpanContext> {
    match extractor.get(B3_SINGLE_HEADER) {
        Some(single) => parse_single(single),
        None => parse_multi(extractor),
    }
}

/// `{trace-id}-{span-id}[-{sampling}[-{parent-span-id}]]`; `None` for a sampling-only value.
pub fn parse_single(header: &str) -> Option<SpanContext> {
    let header = header.trim_matches(OWS);
    // Longer than the longest valid header cannot be valid: refused before it is split.
    if header.len() > MAX_SINGLE_LEN {
        return None;
    }
    let mut parts = header.split('-');
    let trace_id = parse_trace_id(parts.next()?)?;
    let span_id = parse_span_id(parts.next()?)?;
    let flags = match parts.next() {
        None => TraceFlags::NOT_SAMPLED, // deferred: no decision yet
        Some(sampling) => parse_sampling(sampling)?,
    };
    if let Some(parent) = parts.next() {
        parse_span_id(parent)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(remote(trace_id, span_id, flags))
}

fn parse_multi(extractor: &dyn Extractor) -> Option<SpanContext> {
    let trace_id = parse_trace_id(extractor.get(B3_TRACE_ID_HEADER)?.trim_matches(OWS))?;
    let span_id = parse_span_id(extractor.get(B3_SPAN_ID_HEADER)?.trim_matches(OWS))?;
    if let Some(parent) = extractor.get(B3_PARENT_SPAN_ID_HEADER) {
        parse_span_id(parent.trim_matches(OWS))?;
    }
    let debug = match extractor.get(B3_FLAGS_HEADER).map(|f| f.trim_matches(OWS)) {
        None => false,
        Some("1") => true,
        Some("0") => false,
        Some(_) => return None,
    };
    let sampled = match extractor
        .get(B3_SAMPLED_HEADER)
        .map(|s| s.trim_matches(OWS))
    {
        None => false,
        // `true`/`false` are what older Zipkin clients sent.
        Some("1") | Some("true") => true,
        Some("0") | Some("false") => false,
        Some(_) => return None,
    };
    let flags = TraceFlags::NOT_SAMPLED.with_sampled(sampled || debug);
    Some(remote(trace_id, span_id, flags))
}

fn remote(trace_id: TraceId, span_id: SpanId, flags: TraceFlags) -> SpanContext {
    SpanContext::new(trace_id, span_id, flags, true, TraceState::NONE)
}

/// 16 or 32 lowercase hex digits, not all zero.
fn parse_trace_id(s: &str) -> Option<TraceId> {
    if s.len() != 16 && s.len() != 32 {
        return None;
    }
    parse_hex(s, true).filter(|&id| id != 0).map(TraceId::from)
}

/// 16 lowercase hex digits, not all zero.
fn parse_span_id(s: &str) -> Option<SpanId> {
    if s.len() != 16 {
        return None;
    }
    // 16 hex digits fit in a u64.
    parse_hex(s, true)
        .filter(|&id| id != 0)
        .map(|id| SpanId::from(id as u64))
}

fn parse_sampling(s: &str) -> Option<TraceFlags> {
    match s {
        "0" => Some(TraceFlags::NOT_SAMPLED),
        "1" | "d" => Some(TraceFlags::SAMPLED),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
    const SPAN: &str = "e457b5a2e4d86bd1";
    const PARENT: &str = "05e3ac9a4f6e3b90";

    fn carrier(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn ids(sc: &SpanContext) -> (String, String, bool) {
        (
            sc.trace_id().to_string(),
            sc.span_id().to_string(),
            sc.is_sampled(),
        )
    }

    #[test]
    fn single_header_table() {
        let t64 = "64fe8b2a57d3eff7";
        let padded = "000000000000000064fe8b2a57d3eff7";
        let cases: Vec<(String, Option<(&str, bool)>)> = vec![
            // The longest valid header.
            (format!("{TRACE}-{SPAN}-1-{PARENT}"), Some((TRACE, true))),
            (format!("{TRACE}-{SPAN}-1"), Some((TRACE, true))),
            (format!("{TRACE}-{SPAN}-d"), Some((TRACE, true))),
            (format!("{TRACE}-{SPAN}-0"), Some((TRACE, false))),
            (format!("{TRACE}-{SPAN}"), Some((TRACE, false))),
            (format!(" {TRACE}-{SPAN}-1 "), Some((TRACE, true))),
            (format!("{t64}-{SPAN}-1"), Some((padded, true))),
            ("0".to_owned(), None),
            ("1".to_owned(), None),
            ("d".to_owned(), None),
            (String::new(), None),
            (format!("{TRACE}-{SPAN}-2"), None),
            (format!("{TRACE}-{SPAN}-true"), None),
            (format!("{TRACE}-{SPAN}-1-{PARENT}-x"), None),
            (format!("{TRACE}-{SPAN}-1-abc"), None),
            (format!("{TRACE}-{SPAN}-"), None),
            (format!("{}-{SPAN}-1", TRACE.to_uppercase()), None),
            (format!("{}-{SPAN}-1", &TRACE[..31]), None),
            (format!("{}-{SPAN}-1", &TRACE[..20]), None),
            (format!("{TRACE}-{}-1", &SPAN[..15]), None),
            (format!("{}-{SPAN}-1", "0".repeat(32)), None),
            (format!("{TRACE}-{}-1", "0".repeat(16)), None),
            (format!("+{}-{SPAN}-1", &TRACE[1..]), None),
            // Longer than the longest valid header: refused before it is split.
            (format!("{TRACE}-{SPAN}-1-{PARENT}-"), None),
            (format!("{TRACE}-{SPAN}").repeat(2_000), None),
        ];
        for (header, expected) in cases {
            let sc = extract_span_context(&carrier(&[("b3", &header)]));
            let got = sc.as_ref().map(|sc| {
                assert!(sc.is_remote());
                assert_eq!(sc.span_id().to_string(), SPAN);
                (sc.trace_id().to_string(), sc.is_sampled())
            });
            let expected = expected.map(|(t, s)| (t.to_owned(), s));
            assert_eq!(got, expected, "{header:?}");
        }
    }

    #[test]
    fn multi_header_table() {
        let zeros = "0".repeat(16);
        /// Headers, and the expected trace id and sampled flag.
        type Case<'a> = (Vec<(&'a str, &'a str)>, Option<(&'a str, bool)>);
        let cases: Vec<Case<'_>> = vec![
            (
                vec![
                    ("X-B3-TraceId", TRACE),
                    ("X-B3-SpanId", SPAN),
                    ("X-B3-Sampled", "1"),
                ],
                Some((TRACE, true)),
            ),
            (
                vec![
                    ("x-b3-traceid", TRACE),
                    ("x-b3-spanid", SPAN),
                    ("x-b3-sampled", "0"),
                    ("x-b3-parentspanid", PARENT),
                ],
                Some((TRACE, false)),
            ),
            (
                vec![("x-b3-traceid", TRACE), ("x-b3-spanid", SPAN)],
                Some((TRACE, false)),
            ),
            (
                vec![
                    ("x-b3-traceid", TRACE),
                    ("x-b3-spanid", SPAN),
                    ("x-b3-flags", "1"),
                ],
                Some((TRACE, true)),
            ),
            (
                vec![
                    ("x-b3-traceid", TRACE),
                    ("x-b3-spanid", SPAN),
                    ("x-b3-sampled", "true"),
                ],
                Some((TRACE, true)),
            ),
            (
                vec![("x-b3-traceid", "64fe8b2a57d3eff7"), ("x-b3-spanid", SPAN)],
                Some(("000000000000000064fe8b2a57d3eff7", false)),
            ),
            (vec![("x-b3-traceid", TRACE)], None),
            (vec![("x-b3-spanid", SPAN)], None),
            (
                vec![
                    ("x-b3-traceid", TRACE),
                    ("x-b3-spanid", SPAN),
                    ("x-b3-sampled", "yes"),
                ],
                None,
            ),
            (
                vec![
                    ("x-b3-traceid", TRACE),
                    ("x-b3-spanid", SPAN),
                    ("x-b3-flags", "2"),
                ],
                None,
            ),
            (
                vec![
                    ("x-b3-traceid", TRACE),
                    ("x-b3-spanid", SPAN),
                    ("x-b3-parentspanid", "xyz"),
                ],
                None,
            ),
            (vec![("x-b3-traceid", "abc"), ("x-b3-spanid", SPAN)], None),
            (vec![("x-b3-traceid", TRACE), ("x-b3-spanid", &zeros)], None),
        ];
        for (headers, expected) in cases {
            // The opentelemetry HashMap extractor lowercases lookups; the stored keys must be lowercase too.
            let lowered: Vec<(String, &str)> = headers
                .iter()
                .map(|(k, v)| (k.to_lowercase(), *v))
                .collect();
            let map: HashMap<String, String> = lowered
                .iter()
                .map(|(k, v)| (k.clone(), (*v).to_owned()))
                .collect();
            let got =
                extract_span_context(&map).map(|sc| (sc.trace_id().to_string(), sc.is_sampled()));
            let expected = expected.map(|(t, s)| (t.to_owned(), s));
            assert_eq!(got, expected, "{headers:?}");
        }
    }

    #[test]
    fn single_header_wins_over_multi() {
        let other = "11111111111111111111111111111111";
        let map = carrier(&[
            ("b3", &format!("{TRACE}-{SPAN}-1")),
            ("x-b3-traceid", other),
            ("x-b3-spanid", SPAN),
        ]);
        let sc = extract_span_context(&map).unwrap();
        assert_eq!(sc.trace_id().to_string(), TRACE);
        // An invalid single header does not fall back to the multi headers.
        let map = carrier(&[
            ("b3", "garbage"),
            ("x-b3-traceid", other),
            ("x-b3-spanid", SPAN),
        ]);
        assert_eq!(extract_span_context(&map), None);
    }

    #[test]
    fn inject_both_encodings() {
        let sc = SpanContext::new(
            TraceId::from_hex(TRACE).unwrap(),
            SpanId::from_hex(SPAN).unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let mut single = HashMap::new();
        inject_span_context(B3Encoding::SingleHeader, &sc, &mut single);
        assert_eq!(single, carrier(&[("b3", &format!("{TRACE}-{SPAN}-1"))]));

        let mut multi = HashMap::new();
        inject_span_context(B3Encoding::MultipleHeaders, &sc, &mut multi);
        assert_eq!(
            multi,
            carrier(&[
                ("x-b3-traceid", TRACE),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "1")
            ])
        );

        // Round trip keeps ids and decision.
        let back = extract_span_context(&multi).unwrap();
        assert_eq!(ids(&back), (TRACE.to_owned(), SPAN.to_owned(), true));

        let unsampled = SpanContext::new(
            TraceId::from_hex(TRACE).unwrap(),
            SpanId::from_hex(SPAN).unwrap(),
            TraceFlags::NOT_SAMPLED,
            false,
            TraceState::NONE,
        );
        let mut single = HashMap::new();
        inject_span_context(B3Encoding::SingleHeader, &unsampled, &mut single);
        assert_eq!(single["b3"], format!("{TRACE}-{SPAN}-0"));

        let mut none = HashMap::new();
        inject_span_context(B3Encoding::SingleHeader, &SpanContext::NONE, &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn fields_follow_the_encoding() {
        assert_eq!(
            B3Propagator::single_header().fields().collect::<Vec<_>>(),
            ["b3"]
        );
        assert_eq!(
            B3Propagator::multiple_headers()
                .fields()
                .collect::<Vec<_>>(),
            ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled"]
        );
    }
}
