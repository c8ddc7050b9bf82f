//! W3C Trace Context Level 2: the `traceparent` and `tracestate` headers.
//!
//! Stricter than `opentelemetry-rust` 0.33 on purpose: exact field lengths, lowercase hex only, no signs or inner
//! whitespace, version `ff` refused, and the `random` flag (0x02) kept so a re-injected header still carries it.
//!
//! ```
//! use std::collections::HashMap;
//! use opentelemetry::propagation::TextMapPropagator;
//! use opentelemetry::trace::TraceContextExt;
//! use traced_runtime::propagation::TraceContextPropagator;
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
        inject_span_context(cx.span().span_context(), injector);
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

/// Reads `traceparent` and `tracestate`; `None` when `traceparent` is missing or invalid.
pub(crate) fn extract_span_context(extractor: &dyn Extractor) -> Option<SpanContext> {
    // Two traceparent headers cannot be combined and neither can be trusted over the other: the W3C test suite
    // expects a new trace then.
    if get_all(extractor, TRACEPARENT_HEADER).len() > 1 {
        return None;
    }
    let (trace_id, span_id, flags) = parse_traceparent(extractor.get(TRACEPARENT_HEADER)?)?;
    let values = get_all(extractor, TRACESTATE_HEADER);
    // An invalid tracestate is dropped as a whole; the trace itself continues.
    let trace_state = parse_tracestate(&values.join(",")).unwrap_or_default();
    Some(SpanContext::new(
        trace_id,
        span_id,
        flags,
        true,
        trace_state,
    ))
}

/// Writes `traceparent` (version `00`) and a non-empty `tracestate` for a valid span context.
pub(crate) fn inject_span_context(span_context: &SpanContext, injector: &mut dyn Injector) {
    if !span_context.is_valid() {
        return;
    }
    injector.set(TRACEPARENT_HEADER, format_traceparent(span_context));
    let trace_state = format_tracestate(span_context.trace_state());
    if !trace_state.is_empty() {
        injector.set(TRACESTATE_HEADER, trace_state);
    }
}

/// The version `00` header for `span_context`, with the reserved flag bits cleared.
pub fn format_traceparent(span_context: &SpanContext) -> String {
    format!(
        "00-{:032x}-{:016x}-{:02x}",
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags().to_u8() & KNOWN_FLAGS
    )
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

/// Parses a (combined) `tracestate` value; `None` when any member is invalid, a key repeats, or there are more
/// than 32 members. Empty members are allowed and skipped.
pub fn parse_tracestate(header: &str) -> Option<TraceState> {
    let mut members: Vec<(&str, &str)> = Vec::new();
    for member in header.split(',') {
        let member = member.trim_matches(OWS);
        if member.is_empty() {
            continue;
        }
        let (key, value) = member.split_once('=')?;
        if !valid_tracestate_key(key) || !valid_tracestate_value(value) {
            return None;
        }
        if members.iter().any(|(k, _)| *k == key) || members.len() == MAX_TRACESTATE_MEMBERS {
            return None;
        }
        members.push((key, value));
    }
    // opentelemetry 0.33's TraceState refuses a 14-character system id, which the specification allows (an off-by-one
    // in its key check). It offers no way around its check, so such members alone are left out.
    members.retain(|member| TraceState::from_key_value([*member]).is_ok());
    TraceState::from_key_value(members).ok()
}

/// The outgoing `tracestate`, at most 512 characters: whole entries are removed, first those longer than 128
/// characters (longest first), then from the end of the list.
pub fn format_tracestate(trace_state: &TraceState) -> String {
    let mut entries: Vec<String> = trace_state
        .into_iter()
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

/// Characters allowed after the first one in a key (or in the tenant and system parts).
fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
}

/// `simple-key` (1-256 chars, starting with a lowercase letter or digit) or `tenant@system` (tenant 1-241 chars
/// starting with a lowercase letter or digit, system 1-14 chars starting with a lowercase letter).
pub fn valid_tracestate_key(key: &str) -> bool {
    let part_ok = |part: &str, max: usize, digit_first: bool| {
        let bytes = part.as_bytes();
        match bytes.first() {
            Some(&first) if bytes.len() <= max => {
                (first.is_ascii_lowercase() || (digit_first && first.is_ascii_digit()))
                    && bytes[1..].iter().all(|&b| is_key_char(b))
            }
            _ => false,
        }
    };
    match key.split_once('@') {
        None => part_ok(key, 256, true),
        Some((tenant, system)) => part_ok(tenant, 241, true) && part_ok(system, 14, false),
    }
}

/// 1-256 printable ASCII characters other than `,` and `=`, not ending in a space.
pub fn valid_tracestate_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 256
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
    const SPAN_ID: &str = "00f067aa0ba902b7";

    fn carrier(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn extract(pairs: &[(&str, &str)]) -> Option<SpanContext> {
        extract_span_context(&carrier(pairs))
    }

    fn inject(span_context: &SpanContext) -> HashMap<String, String> {
        let mut out = HashMap::new();
        inject_span_context(span_context, &mut out);
        out
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
        let sc = extract_span_context(&Multi(traceparent, values)).unwrap();
        assert_eq!(sc.trace_state().header(), "a=1,b=2,c=3");
    }

    #[test]
    fn tracestate_members() {
        let long_key = "k".repeat(256);
        let too_long_key = "k".repeat(257);
        let tenant = format!("{}@sys", "t".repeat(241));
        let long_tenant = format!("{}@sys", "t".repeat(242));
        let long_value = format!("k={}", "v".repeat(256));
        let too_long_value = format!("k={}", "v".repeat(257));
        let thirty_two: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        let thirty_three: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        let thirty_two = thirty_two.join(",");
        let thirty_three = thirty_three.join(",");
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
            (&long_key, None), // no `=`
            (&tenant, None),
            // Invalid keys.
            ("Foo=bar", None),
            ("_foo=bar", None),
            ("foo.bar=baz", None),
            ("@sys=v", None),
            ("t@=v", None),
            ("t@0sys=v", None),
            ("t@s@s=v", None),
            ("t@fifteen_chars__=v", None),
            ("=bar", None),
            // Invalid values.
            ("foo=", None),
            // A space before `,` is optional whitespace around the member, not part of the value.
            ("foo=bar ,x=1", Some("foo=bar,x=1")),
            ("foo=b=r", None),
            ("foo=bär", None),
            ("foo=b\u{7f}", None),
            ("foo", None),
            // Duplicate keys.
            ("foo=1,foo=2", None),
            // 32 members are fine, 33 are not.
            (&thirty_two, Some(&thirty_two)),
            (&thirty_three, None),
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
        assert!(valid_tracestate_key(&long_key));
        assert!(!valid_tracestate_key(&too_long_key));
        assert!(valid_tracestate_key(tenant.split('=').next().unwrap()));
        assert!(!valid_tracestate_key(&long_tenant));
        assert!(valid_tracestate_key("t@abcdefghijklmn"));
        assert!(!valid_tracestate_key("t@abcdefghijklmno"));
        // Valid, but opentelemetry's TraceState cannot hold a 14-character system id: only that member is lost.
        assert_eq!(
            parse_tracestate("a=1,t@abcdefghijklmn=2,b=3")
                .map(|ts| ts.header())
                .as_deref(),
            Some("a=1,b=3")
        );
        assert_eq!(
            parse_tracestate("t@abcdefghijklm=2")
                .map(|ts| ts.header())
                .as_deref(),
            Some("t@abcdefghijklm=2")
        );
        assert!(!valid_tracestate_value("bar "));
        assert!(valid_tracestate_value(" bar"));
    }

    #[test]
    fn two_traceparent_headers_are_invalid() {
        let traceparent = format!("00-{TRACE_ID}-{SPAN_ID}-01");
        let one = vec![("traceparent".to_owned(), traceparent.clone())];
        let sc = extract_span_context(&crate::propagation::MapExtractor(&one)).unwrap();
        assert_eq!(sc.span_id(), SpanId::from_hex(SPAN_ID).unwrap());
        let two = vec![
            ("traceparent".to_owned(), traceparent.clone()),
            ("Traceparent".to_owned(), traceparent),
        ];
        assert_eq!(
            extract_span_context(&crate::propagation::MapExtractor(&two)),
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
        let out = inject(&sc);
        assert_eq!(out["traceparent"], format!("00-{TRACE_ID}-{SPAN_ID}-03"));
        assert_eq!(out["tracestate"], "vendor=x");

        // Extract, then inject again: the random flag survives.
        let header = format!("cc-{TRACE_ID}-{SPAN_ID}-02-future");
        let sc = extract(&[("traceparent", &header)]).unwrap();
        let out = inject(&sc);
        assert_eq!(out["traceparent"], format!("00-{TRACE_ID}-{SPAN_ID}-02"));
        assert!(!out.contains_key("tracestate"));
    }

    #[test]
    fn inject_skips_invalid_span_context() {
        assert!(inject(&SpanContext::NONE).is_empty());
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
