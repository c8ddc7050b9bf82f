//! W3C Trace Context Level 2: the `traceparent` and `tracestate` headers.
//!
//! Stricter than `opentelemetry-rust` 0.33 on purpose: exact field lengths, lowercase hex only, no signs or inner
//! whitespace, version `ff` refused, and the `random` flag (0x02) kept so a re-injected header still carries it.
//! `tracestate` keys follow the Level 2 grammar (`@` anywhere after the first character), a repeated key keeps
//! its first value instead of losing the header, and keys the crate's `TraceState` refuses are still forwarded.
//! The W3C conformance harness (Level 2, strict) passes 41 of 41 tests: `bash .ci/w3c`.
//!
//! ```
//! use std::collections::HashMap;
//! use opentelemetry::propagation::TextMapPropagator;
//! use opentelemetry::trace::TraceContextExt;
//! use traced::propagation::TraceContextPropagator;
//!
//! let mut headers = HashMap::new();
//! headers.insert(
//!     "traceparent".to_owned(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_owned(),
//! );
//! let cx = TraceContextPropagator::new().extract(&headers);
//! let span = cx.span();
//! assert!(span.span_context().is_remote());
//! assert_eq!(span.span_context().trace_flags().to_u8(), 0x03); // sampled + random
//! ```

use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use super::{get_all, parse_hex, OWS};

/// The `traceparent` header name.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE_HEADER: &str = "tracestate";

/// The flag bits this version of the specification defines: sampled (0x01) and random (0x02). Other bits are
/// reserved and must be sent as zero.
pub const KNOWN_FLAGS: u8 = 0x03;
/// The `random` trace flag (Level 2): the trace id's right 7 bytes are random.
pub const RANDOM_FLAG: u8 = 0x02;

/// A `traceparent` is exactly this long in version `00`, and at least this long in any later version.
const TRACEPARENT_LEN: usize = 55;
/// At most this many list members in a `tracestate`.
const MAX_TRACESTATE_MEMBERS: usize = 32;
/// At most this many characters in a `tracestate` key, and in a value.
const MAX_KEY_LEN: usize = 256;
const MAX_VALUE_LEN: usize = 256;
/// The longest combined `tracestate` read: 32 members of the longest key and value, with their separators. A
/// longer one is padding or invalid, and is dropped without being read (an 80 KB header of commas would otherwise
/// cost 80,000 empty members).
const MAX_TRACESTATE_INPUT: usize =
    MAX_TRACESTATE_MEMBERS * (MAX_KEY_LEN + 1 + MAX_VALUE_LEN) + MAX_TRACESTATE_MEMBERS - 1;
/// Outgoing `tracestate` is cut to at most this many characters.
const MAX_TRACESTATE_LEN: usize = 512;
/// When cutting, entries longer than this go first.
const LONG_ENTRY_LEN: usize = 128;

/// The W3C Trace Context propagator (`OTEL_PROPAGATORS=tracecontext`).
#[derive(Clone, Debug)]
pub struct TraceContextPropagator {
    fields: [String; 2],
}

impl TraceContextPropagator {
    /// Creates the propagator.
    pub fn new() -> Self {
        TraceContextPropagator {
            fields: [TRACEPARENT_HEADER.to_owned(), TRACESTATE_HEADER.to_owned()],
        }
    }
}

impl Default for TraceContextPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        inject(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extract_remote(extractor) {
            Some(remote) => remote.into_context(cx),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Reads `traceparent` and `tracestate`; `None` when `traceparent` is missing or invalid.
pub(crate) fn extract_remote(extractor: &dyn Extractor) -> Option<Remote> {
    // Two traceparent headers cannot be combined and neither can be trusted over the other: the W3C test suite
    // expects a new trace then.
    // The one value `get_all` found is the header: no second lookup. An extractor whose `get_all` does not know
    // the key may still `get` it.
    let header = match get_all(extractor, TRACEPARENT_HEADER)[..] {
        [one] => one,
        [] => extractor.get(TRACEPARENT_HEADER)?,
        _ => return None,
    };
    let (trace_id, span_id, flags) = parse_traceparent(header)?;
    // An invalid tracestate is dropped as a whole; the trace itself continues.
    let members = parse_members(&get_all(extractor, TRACESTATE_HEADER)).unwrap_or_default();
    let (trace_state, held) = hold(&members);
    let received = (held < members.len()).then(|| ReceivedTraceState {
        trace_id,
        held: trace_state.clone(),
        members: members
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
    });
    Some(Remote {
        span_context: SpanContext::new(trace_id, span_id, flags, true, trace_state),
        received,
    })
}

/// A remote parent read from `traceparent` and `tracestate`.
#[derive(Debug)]
pub(crate) struct Remote {
    pub(crate) span_context: SpanContext,
    /// Set when `TraceState` could not hold every member received.
    received: Option<ReceivedTraceState>,
}

impl Remote {
    /// `cx` with this remote parent (and the members `TraceState` refused beside it).
    pub(crate) fn into_context(self, cx: &Context) -> Context {
        let cx = cx.with_remote_span_context(self.span_context);
        match self.received {
            Some(received) => cx.with_value(received),
            None => cx,
        }
    }
}

impl From<SpanContext> for Remote {
    fn from(span_context: SpanContext) -> Self {
        Remote {
            span_context,
            received: None,
        }
    }
}

/// A received `tracestate` that opentelemetry's `TraceState` could not hold whole: 0.33 refuses keys the W3C
/// grammar allows (`foo@@bar`, `foo@bar@baz`, a part after `@` of 14 or more characters) and offers no way around
/// its check. The whole list travels beside the span context in the `Context`, which every span started under it
/// inherits, and is written back on inject as long as the trace state is still the one received (a sampler or
/// the code may have changed it since; then only what `TraceState` holds goes out). Spans exported to a
/// collector carry what `TraceState` holds.
#[derive(Clone, Debug, PartialEq)]
struct ReceivedTraceState {
    trace_id: TraceId,
    /// What `TraceState` holds of it.
    held: TraceState,
    /// Every member, in order.
    members: Vec<(String, String)>,
}

/// True when `cx` carries a received `tracestate` beside its span context.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn holds_received_state(cx: &Context) -> bool {
    cx.get::<ReceivedTraceState>().is_some()
}

/// The members `TraceState` accepts, as one, and how many they are.
fn hold(members: &[(&str, &str)]) -> (TraceState, usize) {
    let held: Vec<(&str, &str)> = members
        .iter()
        .copied()
        .filter(|member| TraceState::from_key_value([*member]).is_ok())
        .collect();
    let count = held.len();
    (TraceState::from_key_value(held).unwrap_or_default(), count)
}

/// Writes `traceparent` (version `00`) and a non-empty `tracestate` for the valid span context of `cx`.
pub(crate) fn inject(cx: &Context, injector: &mut dyn Injector) {
    let span = cx.span();
    let span_context = span.span_context();
    if !span_context.is_valid() {
        return;
    }
    injector.set(TRACEPARENT_HEADER, format_traceparent(span_context));
    let trace_state = match cx.get::<ReceivedTraceState>() {
        Some(received)
            if received.trace_id == span_context.trace_id()
                && &received.held == span_context.trace_state() =>
        {
            format_members(
                received
                    .members
                    .iter()
                    .map(|(key, value)| (key.as_str(), value.as_str())),
            )
        }
        _ => format_tracestate(span_context.trace_state()),
    };
    if !trace_state.is_empty() {
        injector.set(TRACESTATE_HEADER, trace_state);
    }
}

/// The version `00` header for `span_context`, with the reserved flag bits cleared.
pub fn format_traceparent(span_context: &SpanContext) -> String {
    // Written into a byte array: `format!`'s padded hex of a `u128` was most of the cost of the response's
    // header, and `String::push` a char at a time still about 600 instructions.
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    write_hex(&mut out[3..35], &span_context.trace_id().to_bytes());
    write_hex(&mut out[36..52], &span_context.span_id().to_bytes());
    write_hex(
        &mut out[53..],
        &[span_context.trace_flags().to_u8() & KNOWN_FLAGS],
    );
    String::from_utf8(out.to_vec()).expect("hex digits and dashes are ASCII")
}

/// Lowercase hex, two digits a byte, into `out` (twice as long as `bytes`).
fn write_hex(out: &mut [u8], bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

/// Parses a `traceparent` value into trace id, parent id and flags (reserved bits cleared).
///
/// Surrounding spaces and tabs are ignored; everything else must match the specification exactly.
pub fn parse_traceparent(header: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let header = header.trim_matches(OWS);
    let bytes = header.as_bytes();
    if bytes.len() < TRACEPARENT_LEN || !header.is_ascii() {
        return None;
    }
    let version = parse_hex(&header[0..2], true)?;
    if version == 0xff {
        return None;
    }
    // Version 00 has exactly four fields; a later version may append fields after a `-`.
    if version == 0 && bytes.len() != TRACEPARENT_LEN {
        return None;
    }
    if bytes.len() > TRACEPARENT_LEN && bytes[TRACEPARENT_LEN] != b'-' {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let trace_id = parse_hex(&header[3..35], true)?;
    let span_id = parse_hex(&header[36..52], true)?;
    let flags = parse_hex(&header[53..55], true)?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    // Lengths were checked above, so the narrowing casts are exact.
    Some((
        TraceId::from(trace_id),
        SpanId::from(span_id as u64),
        TraceFlags::new(flags as u8 & KNOWN_FLAGS),
    ))
}

/// Parses a (combined) `tracestate` value into what `TraceState` can hold of it; `None` when the header is
/// invalid (see [`valid_tracestate_key`] and [`valid_tracestate_value`]), has more than 32 members or is longer
/// than 32 maximal members. Empty members are skipped; a repeated key keeps its first value.
///
/// opentelemetry 0.33's `TraceState` refuses some keys the W3C grammar allows (two `@`, or 14 or more characters
/// after the `@`): those members alone are left out here. [`TraceContextPropagator`] keeps them through a request.
pub fn parse_tracestate(header: &str) -> Option<TraceState> {
    parse_members(&[header]).map(|members| hold(&members).0)
}

/// The members of the `tracestate` header values, combined in order, as the W3C grammar reads them.
///
/// The whole header is dropped (`None`) when a member is invalid or there are more than 32 members; a repeated
/// key keeps its first value, as the specification lets a vendor drop a duplicate rather than the header. The
/// cost is bounded by what a maximal valid header costs: the length is checked before anything is read, and
/// reading stops at the 33rd member.
fn parse_members<'a>(values: &[&'a str]) -> Option<Vec<(&'a str, &'a str)>> {
    let length = values.iter().map(|value| value.len() + 1).sum::<usize>();
    if length > MAX_TRACESTATE_INPUT + 1 {
        return None;
    }
    let mut members: Vec<(&str, &str)> = Vec::new();
    let mut read = 0;
    for member in values.iter().flat_map(|value| value.split(',')) {
        let member = member.trim_matches(OWS);
        if member.is_empty() {
            continue;
        }
        read += 1;
        if read > MAX_TRACESTATE_MEMBERS {
            return None;
        }
        let (key, value) = member.split_once('=')?;
        if !valid_tracestate_key(key) || !valid_tracestate_value(value) {
            return None;
        }
        if !members.iter().any(|(k, _)| *k == key) {
            members.push((key, value));
        }
    }
    Some(members)
}

/// The outgoing `tracestate`, at most 512 characters: whole entries are removed, first those longer than 128
/// characters (longest first), then from the end of the list.
pub fn format_tracestate(trace_state: &TraceState) -> String {
    format_members(trace_state.into_iter())
}

/// [`format_tracestate`] of a list of members.
fn format_members<'a>(members: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut entries: Vec<String> = members
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    let header_len = |entries: &[String]| {
        entries.iter().map(String::len).sum::<usize>() + entries.len().saturating_sub(1)
    };
    while header_len(&entries) > MAX_TRACESTATE_LEN {
        // max_by_key returns the last of equal maxima: among equally long entries the right-most goes first.
        let longest = entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.len() > LONG_ENTRY_LEN)
            .max_by_key(|(_, entry)| entry.len())
            .map(|(index, _)| index);
        match longest {
            Some(index) => {
                entries.remove(index);
            }
            None => {
                entries.pop();
            }
        }
    }
    entries.join(",")
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )` with `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`:
/// 1-256 characters, `@` anywhere after the first one and any number of times (the older `tenant@system` split,
/// with its 241 and 14 character parts, is gone from the specification).
pub fn valid_tracestate_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    match bytes.split_first() {
        Some((&first, rest)) if bytes.len() <= MAX_KEY_LEN => {
            (first.is_ascii_lowercase() || first.is_ascii_digit())
                && rest.iter().all(|&b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
                })
        }
        _ => false,
    }
}

/// 1-256 printable ASCII characters other than `,` and `=`, not ending in a space.
pub fn valid_tracestate_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_VALUE_LEN
        && !value.ends_with(' ')
        && value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn traceparent_is_written_as_the_specification_spells_it() {
        for (trace, span, flags) in [
            (1_u128, 1_u64, 0_u8),
            (u128::MAX, u64::MAX, 0xff),
            (
                0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
                0x00f0_67aa_0ba9_02b7,
                1,
            ),
        ] {
            let span_context = SpanContext::new(
                TraceId::from(trace),
                SpanId::from(span),
                TraceFlags::new(flags),
                false,
                Default::default(),
            );
            // The specification's format, with the flags it does not define cleared.
            let expected = format!("00-{trace:032x}-{span:016x}-{:02x}", flags & KNOWN_FLAGS);
            assert_eq!(format_traceparent(&span_context), expected);
        }
    }
    const SPAN_ID: &str = "00f067aa0ba902b7";

    fn carrier(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn span_context_of(extractor: &dyn Extractor) -> Option<SpanContext> {
        extract_remote(extractor).map(|remote| remote.span_context)
    }

    fn extract(pairs: &[(&str, &str)]) -> Option<SpanContext> {
        span_context_of(&carrier(pairs))
    }

    fn inject_span_context(span_context: &SpanContext) -> HashMap<String, String> {
        inject_context(&Context::new().with_remote_span_context(span_context.clone()))
    }

    fn inject_context(cx: &Context) -> HashMap<String, String> {
        let mut out = HashMap::new();
        inject(cx, &mut out);
        out
    }

    /// What the propagator sends on after receiving `tracestate` (with a valid traceparent).
    fn forwarded(tracestate: &str) -> Option<String> {
        let traceparent = format!("00-{TRACE_ID}-{SPAN_ID}-01");
        let headers = carrier(&[("traceparent", &traceparent), ("tracestate", tracestate)]);
        let cx = TraceContextPropagator::new().extract(&headers);
        inject_context(&cx).remove("tracestate")
    }

    #[test]
    fn valid_traceparent_forms() {
        let trace_id = TraceId::from_hex(TRACE_ID).unwrap();
        let span_id = SpanId::from_hex(SPAN_ID).unwrap();
        #[rustfmt::skip]
        let cases: &[(&str, u8)] = &[
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0x01),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 0x00),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02", 0x02),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", 0x03),
            // Reserved bits are cleared, the known ones kept.
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", 0x03),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09", 0x01),
            // Surrounding optional whitespace.
            ("  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t", 0x01),
            // Later versions: exactly 55 chars, or more after a `-`.
            ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0x01),
            ("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", 0x01),
            ("fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-", 0x00),
        ];
        for (header, flags) in cases {
            let sc = extract(&[("traceparent", header)])
                .unwrap_or_else(|| panic!("{header:?} should be valid"));
            assert_eq!(sc.trace_id(), trace_id, "{header:?}");
            assert_eq!(sc.span_id(), span_id, "{header:?}");
            assert_eq!(sc.trace_flags().to_u8(), *flags, "{header:?}");
            assert!(sc.is_remote(), "{header:?}");
        }
    }

    #[test]
    fn invalid_traceparent_forms() {
        #[rustfmt::skip]
        let cases: &[&str] = &[
            "",
            "00",
            "00-1-1-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // Version 00 with extra fields or trailing characters.
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            // A later version must continue with `-`.
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            // Uppercase hex.
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            // All-zero ids.
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // Wrong field lengths.
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // Signs, whitespace and other separators inside fields.
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-+0f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-+1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa 0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7.01",
            // Non-hex and non-ASCII.
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473é-00f067aa0ba902b7-01",
        ];
        for header in cases {
            assert_eq!(extract(&[("traceparent", header)]), None, "{header:?}");
        }
        assert_eq!(extract(&[]), None);
    }

    #[test]
    fn tracestate_is_parsed_and_combined_only_with_a_valid_traceparent() {
        let traceparent = format!("00-{TRACE_ID}-{SPAN_ID}-01");
        let sc = extract(&[
            ("traceparent", &traceparent),
            ("tracestate", "foo=1, bar=2 ,,"),
        ])
        .unwrap();
        assert_eq!(sc.trace_state().header(), "foo=1,bar=2");

        let sc = extract(&[(
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        )]);
        assert_eq!(sc, None);

        // Multiple header values are combined in order.
        let values = vec!["a=1,b=2".to_owned(), "c=3".to_owned()];
        struct Multi(String, Vec<String>);
        impl Extractor for Multi {
            fn get(&self, key: &str) -> Option<&str> {
                (key == TRACEPARENT_HEADER).then_some(self.0.as_str())
            }
            fn keys(&self) -> Vec<&str> {
                vec![TRACEPARENT_HEADER, TRACESTATE_HEADER]
            }
            fn get_all(&self, key: &str) -> Option<Vec<&str>> {
                (key == TRACESTATE_HEADER).then(|| self.1.iter().map(String::as_str).collect())
            }
        }
        let sc = span_context_of(&Multi(traceparent, values)).unwrap();
        assert_eq!(sc.trace_state().header(), "a=1,b=2,c=3");
    }

    #[test]
    fn tracestate_keys_follow_the_level_2_grammar() {
        let longest = "k".repeat(256);
        let too_long = "k".repeat(257);
        // The keys the old tenant@system split refused: 241 + `@` + 14, 242 + `@v`, `t@` + 15.
        let old_tenant_limit = format!("{}@{}", "t".repeat(241), "v".repeat(14));
        let long_tenant = format!("{}@v", "t".repeat(242));
        let long_system = format!("t@{}", "v".repeat(15));
        let longest_with_at = format!("{}@", "t".repeat(255));
        #[rustfmt::skip]
        let valid: &[&str] = &[
            "a", "0", "foo", "0foo", "a_-*/b", "tenant@sys", "0t@s_-*/", "foo@", "foo@@bar", "foo@bar@baz",
            "t@0sys", "t@_", "t@@", &longest, &old_tenant_limit, &long_tenant, &long_system, &longest_with_at,
        ];
        for key in valid {
            assert!(valid_tracestate_key(key), "{key:?} is valid");
        }
        #[rustfmt::skip]
        let invalid: &[&str] = &[
            "", "@", "@foo", "_foo", "-foo", "*foo", "/foo", "Foo", "fOo", "foo.bar", "foo bar", "foo=", "foo,",
            "é", "fooé", &too_long, &format!("{longest}@"),
        ];
        for key in invalid {
            assert!(!valid_tracestate_key(key), "{key:?} is invalid");
        }
    }

    #[test]
    fn tracestate_members() {
        let long_value = format!("k={}", "v".repeat(256));
        let too_long_value = format!("k={}", "v".repeat(257));
        let thirty_two: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        let thirty_three: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        let thirty_two = thirty_two.join(",");
        let thirty_three = thirty_three.join(",");
        // A duplicate is a member too: 32 distinct keys and one repeated make 33.
        let thirty_two_and_a_duplicate = format!("{thirty_two},k0=again");
        #[rustfmt::skip]
        let cases: Vec<(&str, Option<&str>)> = vec![
            ("", Some("")),
            (" , ,\t", Some("")),
            ("foo=bar", Some("foo=bar")),
            ("0foo=bar", Some("0foo=bar")),
            ("a_-*/b=c", Some("a_-*/b=c")),
            ("tenant@sys=v", Some("tenant@sys=v")),
            ("0t@s_-*/=v", Some("0t@s_-*/=v")),
            ("foo=bar baz", Some("foo=bar baz")),
            ("foo= bar", Some("foo= bar")),
            ("foo=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~", Some("foo=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~")),
            // A key alone, no `=`.
            ("foo", None),
            // One invalid key or value drops the whole header.
            ("Foo=bar", None),
            ("ok=1,_foo=bar", None),
            ("foo.bar=baz,ok=1", None),
            ("@foo=1,bar=2", None),
            ("=bar", None),
            ("foo=", None),
            // A space before `,` is optional whitespace around the member, not part of the value.
            ("foo=bar ,x=1", Some("foo=bar,x=1")),
            ("foo=b=r", None),
            ("foo=bär", None),
            ("foo=b\u{7f}", None),
            // Duplicate keys keep the header: the first value stays, the later ones are dropped.
            ("foo=1,foo=1", Some("foo=1")),
            ("foo=1,foo=2", Some("foo=1")),
            ("foo=1,bar=2,foo=3,baz=4", Some("foo=1,bar=2,baz=4")),
            // 32 members are fine, 33 are not.
            (&thirty_two, Some(&thirty_two)),
            (&thirty_three, None),
            (&thirty_two_and_a_duplicate, None),
            (&long_value, Some(&long_value)),
            (&too_long_value, None),
        ];
        for (header, expected) in &cases {
            assert_eq!(
                parse_tracestate(header).map(|ts| ts.header()).as_deref(),
                *expected,
                "{header:?}"
            );
        }
        assert!(!valid_tracestate_value("bar "));
        assert!(valid_tracestate_value(" bar"));
    }

    #[test]
    fn tracestate_longer_than_32_maximal_members_is_dropped_unread() {
        let member = |i: usize| format!("{:0>256}={}", i, "v".repeat(256));
        let maximal: Vec<String> = (0..32).map(member).collect();
        let maximal = maximal.join(",");
        assert_eq!(maximal.len(), MAX_TRACESTATE_INPUT);
        assert_eq!(
            parse_members(&[&maximal]).map(|members| members.len()),
            Some(32)
        );
        // Split over two header values, the separator between them counts as one.
        let comma = maximal.find(',').unwrap();
        let (first, rest) = (&maximal[..comma], &maximal[comma + 1..]);
        assert_eq!(
            parse_members(&[first, rest]).map(|members| members.len()),
            Some(32)
        );
        // One byte more, even of optional whitespace or empty members, and nothing is read.
        assert_eq!(parse_members(&[&format!("{maximal},")]), None);
        assert_eq!(parse_members(&[&",".repeat(80_000)]), None);
        assert_eq!(parse_members(&[&",".repeat(1_000)]), Some(Vec::new()));
    }

    #[test]
    fn tracestate_keys_trace_state_cannot_hold_are_forwarded() {
        let old_tenant_limit = format!("{}@{}", "t".repeat(241), "v".repeat(14));
        let long_system = format!("t@{}", "v".repeat(15));
        #[rustfmt::skip]
        let cases: Vec<String> = vec![
            "foo@=1,bar=2".to_owned(),
            "foo@@bar=1,bar=2".to_owned(),
            "foo@bar@baz=1,bar=2".to_owned(),
            format!("foo=1,{old_tenant_limit}=1"),
            format!("foo=1,{long_system}=1"),
        ];
        for header in &cases {
            assert_eq!(
                forwarded(header).as_deref(),
                Some(header.as_str()),
                "{header:?}"
            );
        }
        // `TraceState` alone holds the members it accepts; the span context carries that much.
        let traceparent = format!("00-{TRACE_ID}-{SPAN_ID}-01");
        let sc = extract(&[
            ("traceparent", &traceparent),
            ("tracestate", "a=1,t@abcdefghijklmn=2,b=3"),
        ])
        .unwrap();
        assert_eq!(sc.trace_state().header(), "a=1,b=3");
        assert_eq!(
            forwarded("a=1,t@abcdefghijklmn=2,b=3").as_deref(),
            Some("a=1,t@abcdefghijklmn=2,b=3")
        );
        // Duplicates are dropped on the way; the 512-character cut applies to the whole list.
        assert_eq!(
            forwarded("foo@@bar=1,foo@@bar=2,x=3").as_deref(),
            Some("foo@@bar=1,x=3")
        );
        let long: Vec<String> = (0..10)
            .map(|i| format!("k{i}@@x={}", "v".repeat(92)))
            .collect();
        let sent = forwarded(&long.join(",")).unwrap();
        assert_eq!(sent, long[..5].join(","));
    }

    #[test]
    fn received_tracestate_is_forwarded_only_while_it_is_the_span_contexts() {
        let traceparent = format!("00-{TRACE_ID}-{SPAN_ID}-01");
        let headers = carrier(&[
            ("traceparent", &traceparent),
            ("tracestate", "foo@@bar=1,a=2"),
        ]);
        let received = TraceContextPropagator::new().extract(&headers);
        let span = received.span();
        let parent = span.span_context();

        // A child span of the same trace inherits the trace state, and the context: the whole list goes on.
        let child = SpanContext::new(
            parent.trace_id(),
            SpanId::from_hex("1111111111111111").unwrap(),
            parent.trace_flags(),
            false,
            parent.trace_state().clone(),
        );
        let out = inject_context(&received.with_remote_span_context(child.clone()));
        assert_eq!(out["tracestate"], "foo@@bar=1,a=2");
        assert_eq!(
            out["traceparent"],
            format!("00-{TRACE_ID}-1111111111111111-01")
        );

        // The trace state was changed (a sampler, the code): what TraceState holds goes out.
        let changed = SpanContext::new(
            child.trace_id(),
            child.span_id(),
            child.trace_flags(),
            false,
            child.trace_state().insert("mine", "x").unwrap(),
        );
        let out = inject_context(&received.with_remote_span_context(changed));
        assert_eq!(out["tracestate"], "mine=x,a=2");

        // Another trace started under the same context does not take the received list.
        let other = SpanContext::new(
            TraceId::from_hex("11111111111111111111111111111111").unwrap(),
            child.span_id(),
            child.trace_flags(),
            false,
            child.trace_state().clone(),
        );
        let out = inject_context(&received.with_remote_span_context(other));
        assert_eq!(out["tracestate"], "a=2");
    }

    #[test]
    fn two_traceparent_headers_are_invalid() {
        let traceparent = format!("00-{TRACE_ID}-{SPAN_ID}-01");
        let one = vec![("traceparent".to_owned(), traceparent.clone())];
        let sc = span_context_of(&crate::propagation::MapExtractor(&one)).unwrap();
        assert_eq!(sc.span_id(), SpanId::from_hex(SPAN_ID).unwrap());
        let two = vec![
            ("traceparent".to_owned(), traceparent.clone()),
            ("Traceparent".to_owned(), traceparent),
        ];
        assert_eq!(
            span_context_of(&crate::propagation::MapExtractor(&two)),
            None
        );
    }

    #[test]
    fn invalid_tracestate_is_dropped_but_trace_continues() {
        let traceparent = format!("00-{TRACE_ID}-{SPAN_ID}-01");
        let sc = extract(&[("traceparent", &traceparent), ("tracestate", "ok=1,BAD=2")]).unwrap();
        assert_eq!(sc.trace_id(), TraceId::from_hex(TRACE_ID).unwrap());
        assert_eq!(sc.trace_state(), &TraceState::NONE);
    }

    #[test]
    fn inject_writes_version_00_and_keeps_random_flag() {
        let ts = TraceState::from_key_value([("vendor", "x")]).unwrap();
        let sc = SpanContext::new(
            TraceId::from_hex(TRACE_ID).unwrap(),
            SpanId::from_hex(SPAN_ID).unwrap(),
            TraceFlags::new(0x02 | 0x01 | 0x80),
            false,
            ts,
        );
        let out = inject_span_context(&sc);
        assert_eq!(out["traceparent"], format!("00-{TRACE_ID}-{SPAN_ID}-03"));
        assert_eq!(out["tracestate"], "vendor=x");

        // Extract, then inject again: the random flag survives.
        let header = format!("cc-{TRACE_ID}-{SPAN_ID}-02-future");
        let sc = extract(&[("traceparent", &header)]).unwrap();
        let out = inject_span_context(&sc);
        assert_eq!(out["traceparent"], format!("00-{TRACE_ID}-{SPAN_ID}-02"));
        assert!(!out.contains_key("tracestate"));
    }

    #[test]
    fn inject_skips_invalid_span_context() {
        assert!(inject_span_context(&SpanContext::NONE).is_empty());
    }

    #[test]
    fn tracestate_truncation_removes_long_entries_first_then_from_the_end() {
        // 5 entries of 100 chars + 1 of 200: 5*100 + 200 + 5 commas = 705 > 512.
        let mut members: Vec<(String, String)> =
            (0..5).map(|i| (format!("k{i}"), "v".repeat(97))).collect();
        members.insert(2, ("long".to_owned(), "x".repeat(195)));
        let ts = TraceState::from_key_value(members.clone()).unwrap();
        let header = format_tracestate(&ts);
        // Dropping the 200-char entry leaves 504 chars: fits.
        assert_eq!(header.len(), 504);
        assert!(!header.contains("long="));
        assert!(header.starts_with("k0=") && header.ends_with(&"v".repeat(97)));

        // Two long entries of different sizes: the longest goes first, then the next, then from the end.
        let members = vec![
            ("a".to_owned(), "1".repeat(150)),
            ("b".to_owned(), "2".repeat(200)),
            ("c".to_owned(), "3".repeat(100)),
            ("d".to_owned(), "4".repeat(100)),
            ("e".to_owned(), "5".repeat(100)),
        ];
        let ts = TraceState::from_key_value(members).unwrap();
        let header = format_tracestate(&ts);
        // 152+202+102*3+4 = 664 > 512; without b: 152+306+3 = 461.
        assert_eq!(header.len(), 461);
        assert!(header.starts_with("a=1") && !header.contains("b=2"));

        // Only short entries: cut from the end.
        let members: Vec<(String, String)> =
            (0..10).map(|i| (format!("k{i}"), "v".repeat(97))).collect();
        let ts = TraceState::from_key_value(members).unwrap();
        let header = format_tracestate(&ts);
        // 10 entries of 100 chars: 5 fit (504 chars).
        assert_eq!(header.split(',').count(), 5);
        assert!(header.starts_with("k0=") && header.contains("k4=") && !header.contains("k5="));

        // Under the limit: unchanged.
        let ts = TraceState::from_key_value([("a", "1"), ("b", "2")]).unwrap();
        assert_eq!(format_tracestate(&ts), "a=1,b=2");
    }

    #[test]
    fn fields_name_both_headers() {
        let propagator = TraceContextPropagator::new();
        assert_eq!(
            propagator.fields().collect::<Vec<_>>(),
            ["traceparent", "tracestate"]
        );
    }
}
