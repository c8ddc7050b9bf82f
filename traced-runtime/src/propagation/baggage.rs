//! W3C Baggage: the `baggage` header, and helpers to read and add baggage entries.
//!
//! Encoding follows the specification where `opentelemetry-rust` 0.33 does not: every byte outside the
//! `baggage-octet` range, and `%` itself, is percent-encoded; whole members that would exceed 64 members or 8192
//! bytes are left out, never cut.
//!
//! Decoding rule for malformed escapes: a `%` not followed by two hex digits is kept literally and the rest of the
//! value is still decoded (`a%zz%41` becomes `a%zzA`), so one bad escape does not lose the member. Decoded bytes
//! that are not UTF-8 become U+FFFD.
//!
//! ```
//! use opentelemetry::propagation::TextMapPropagator;
//! use std::collections::HashMap;
//! use traced::propagation::{baggage, BaggagePropagator};
//!
//! let cx = baggage::with("user.id", "42 & more");
//! let mut headers = HashMap::new();
//! BaggagePropagator::new().inject_context(&cx, &mut headers);
//! assert_eq!(headers["baggage"], "user.id=42%20&%20more");
//!
//! let _guard = BaggagePropagator::new().extract(&headers).attach();
//! assert_eq!(baggage::get("user.id").as_deref(), Some("42 & more"));
//! ```

use std::fmt::Write as _;

use opentelemetry::baggage::{Baggage, BaggageExt, BaggageMetadata};
use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator,
};
use opentelemetry::{Context, Key, StringValue};

use super::{get_all, OWS};

/// The `baggage` header name.
pub const BAGGAGE_HEADER: &str = "baggage";
/// At most this many members are sent.
pub const MAX_MEMBERS: usize = 64;
/// At most this many bytes are sent in one `baggage` header.
pub const MAX_BYTES: usize = 8192;

/// One baggage member as it travels: key, decoded value, and its properties (`k=v;flag`, without the leading
/// `;`), which `opentelemetry` keeps as the entry's metadata.
pub(crate) type Entry = (String, String, String);

/// The W3C Baggage propagator (`OTEL_PROPAGATORS=baggage`).
#[derive(Clone, Debug)]
pub struct BaggagePropagator {
    fields: [String; 1],
}

impl BaggagePropagator {
    /// Creates the propagator.
    pub fn new() -> Self {
        BaggagePropagator {
            fields: [BAGGAGE_HEADER.to_owned()],
        }
    }
}

impl Default for BaggagePropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        inject(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        with_entries(cx, extract_entries(extractor))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Writes a non-empty `baggage` header for `cx`.
pub(crate) fn inject(cx: &Context, injector: &mut dyn Injector) {
    let header = format_baggage(cx.baggage());
    if !header.is_empty() {
        injector.set(BAGGAGE_HEADER, header);
    }
}

/// The value of `key` in the current context's baggage.
pub fn get(key: &str) -> Option<String> {
    Context::map_current(|cx| cx.baggage().get(key).map(|value| value.as_str().to_owned()))
}

/// The current context with `key` set to `value` in its baggage (other entries kept).
///
/// Attach the result, or pass it as the parent of a span, for it to travel with outgoing requests. A key that is
/// not an HTTP token, or an entry that would push the baggage over 64 entries or 8192 bytes, is not added.
pub fn with(key: impl Into<String>, value: impl Into<String>) -> Context {
    Context::map_current(|cx| with_in(cx, key, value))
}

/// `cx` with `key` set to `value` in its baggage (other entries kept).
pub fn with_in(cx: &Context, key: impl Into<String>, value: impl Into<String>) -> Context {
    let mut baggage = copy(cx.baggage());
    baggage.insert(key.into(), value.into());
    cx.with_baggage(baggage)
}

/// `Baggage` is not `Clone` in opentelemetry 0.33; rebuild it entry by entry.
fn copy(baggage: &Baggage) -> Baggage {
    baggage
        .iter()
        .map(|(key, (value, metadata))| (key.clone(), (value.clone(), metadata.clone())))
        .collect()
}

/// `cx` with its baggage replaced by `entries`; `cx` unchanged when there are none. On a repeated key the
/// first entry wins.
pub(crate) fn with_entries(cx: &Context, entries: Vec<Entry>) -> Context {
    if entries.is_empty() {
        return cx.clone();
    }
    let mut baggage = Baggage::new();
    for (key, value, metadata) in entries {
        if baggage.get(&key).is_none() {
            baggage.insert_with_metadata(
                Key::from(key),
                StringValue::from(value),
                BaggageMetadata::from(metadata),
            );
        }
    }
    cx.with_baggage(baggage)
}

/// Reads the `baggage` header values, combined in order. Invalid members are skipped; the valid ones are kept.
///
/// Reading stops at the specification's limits rather than cutting the result afterwards: after 64 valid
/// members, or at the first member that does not end within the first 8192 bytes. An 80 KB header of 8,000
/// members would otherwise be parsed whole, to keep 64 of them (5.5 ms against 1.2 ms for the same request
/// without the baggage propagator, issue 18).
pub(crate) fn extract_entries(extractor: &dyn Extractor) -> Vec<Entry> {
    let mut entries = Vec::new();
    // Bytes read so far, each member counted with the `,` after it (the last one of a header too, as if the
    // values were joined): a header of exactly 8192 bytes reads 8193.
    let mut read = 0;
    for member in get_all(extractor, BAGGAGE_HEADER)
        .into_iter()
        .flat_map(|value| value.split(','))
    {
        read += member.len() + 1;
        if read > MAX_BYTES + 1 || entries.len() == MAX_MEMBERS {
            break;
        }
        entries.extend(parse_member(member));
    }
    entries
}

/// Parses one `key=value;property...` list member; `None` when the key or value is invalid.
fn parse_member(member: &str) -> Option<Entry> {
    let member = member.trim_matches(OWS);
    if member.is_empty() {
        return None;
    }
    let mut parts = member.split(';');
    let (key, value) = parts.next()?.split_once('=')?;
    let key = key.trim_matches(OWS);
    let value = value.trim_matches(OWS);
    if !is_token(key) || !value.bytes().all(is_baggage_octet) {
        return None;
    }
    // Properties are opaque to us: keep the valid ones, normalised, so they re-inject unchanged.
    let properties: Vec<String> = parts.filter_map(parse_property).collect();
    Some((key.to_owned(), decode(value), properties.join(";")))
}

/// `key` or `key=value` with optional whitespace removed; `None` when malformed.
fn parse_property(property: &str) -> Option<String> {
    let property = property.trim_matches(OWS);
    match property.split_once('=') {
        None => is_token(property).then(|| property.to_owned()),
        Some((key, value)) => {
            let (key, value) = (key.trim_matches(OWS), value.trim_matches(OWS));
            (is_token(key) && value.bytes().all(is_baggage_octet)).then(|| format!("{key}={value}"))
        }
    }
}

/// Properties as the metadata of an entry, if they are safe to put on the wire as is.
fn valid_properties(metadata: &str) -> bool {
    metadata.split(';').all(|property| {
        let property = property.trim_matches(OWS);
        match property.split_once('=') {
            None => is_token(property),
            Some((key, value)) => {
                is_token(key.trim_matches(OWS))
                    && value.trim_matches(OWS).bytes().all(is_baggage_octet)
            }
        }
    })
}

/// The outgoing header: members sorted by key (a stable wire form), whole members dropped that would break the
/// 64-member or 8192-byte limit, and members whose key is not a token skipped.
pub fn format_baggage(baggage: &Baggage) -> String {
    let mut entries: Vec<_> = baggage.iter().collect();
    entries.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    let mut header = String::new();
    let mut members = 0;
    for (key, (value, metadata)) in entries {
        if members == MAX_MEMBERS {
            break;
        }
        if !is_token(key.as_str()) {
            continue;
        }
        let mut member = format!("{}={}", key.as_str(), encode(value.as_str()));
        let metadata = metadata.as_str();
        if !metadata.is_empty() && valid_properties(metadata) {
            member.push(';');
            member.push_str(metadata);
        }
        let separator = usize::from(!header.is_empty());
        if header.len() + separator + member.len() > MAX_BYTES {
            // A smaller member further on may still fit.
            continue;
        }
        if separator == 1 {
            header.push(',');
        }
        header.push_str(&member);
        members += 1;
    }
    header
}

/// `token` from RFC 7230, the grammar of a baggage key (defined with the configuration, which checks keys too).
pub(crate) use crate::config::is_token;

/// `baggage-octet`: visible ASCII except `"`, `,`, `;` and `\`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// Percent-encodes every byte outside `baggage-octet`, and `%`, as `%XX` (uppercase hex).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if is_baggage_octet(b) && b != b'%' {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Percent-decodes `value`: `%XX` becomes the byte, a `%` without two hex digits stays literally, and bytes that
/// do not form UTF-8 become U+FFFD.
pub fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|pair| {
                let pair = std::str::from_utf8(pair).ok()?;
                super::parse_hex(pair, false)
            });
            if let Some(byte) = hex {
                // Two hex digits never exceed 0xff.
                out.push(byte as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::baggage::KeyValueMetadata;

    use super::*;

    fn extract(header: &str) -> Vec<Entry> {
        let mut carrier = HashMap::new();
        carrier.insert("baggage".to_owned(), header.to_owned());
        extract_entries(&carrier)
    }

    fn entry(key: &str, value: &str, metadata: &str) -> Entry {
        (key.to_owned(), value.to_owned(), metadata.to_owned())
    }

    #[test]
    fn extract_table() {
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<Entry>)> = vec![
            ("", vec![]),
            ("key=value", vec![entry("key", "value", "")]),
            (" key1 = value1 ,\tkey2=value2 ", vec![entry("key1", "value1", ""), entry("key2", "value2", "")]),
            ("k=", vec![entry("k", "", "")]),
            ("k=%20a%2Cb%3Bc%25", vec![entry("k", " a,b;c%", "")]),
            ("k=%e2%82%ac", vec![entry("k", "€", "")]),
            ("k=a+b", vec![entry("k", "a+b", "")]),
            // Invalid UTF-8 after decoding becomes U+FFFD.
            ("k=%ff%fe", vec![entry("k", "\u{fffd}\u{fffd}", "")]),
            ("k=a%c3", vec![entry("k", "a\u{fffd}", "")]),
            // Malformed escapes: the `%` stays, the rest is decoded.
            ("k=a%zz%41", vec![entry("k", "a%zzA", "")]),
            ("k=100%", vec![entry("k", "100%", "")]),
            ("k=%4", vec![entry("k", "%4", "")]),
            // Properties are kept as metadata, normalised.
            ("k=v;p1=x ; flag", vec![entry("k", "v", "p1=x;flag")]),
            ("k=v;bad@prop;ok", vec![entry("k", "v", "ok")]),
            // Invalid members are skipped, valid neighbours kept.
            ("bad key=v,ok=1", vec![entry("ok", "1", "")]),
            ("(k)=v,ok=1", vec![entry("ok", "1", "")]),
            ("novalue,ok=1", vec![entry("ok", "1", "")]),
            ("k=two words,ok=1", vec![entry("ok", "1", "")]),
            ("k=\"quoted\",ok=1", vec![entry("ok", "1", "")]),
            ("k=back\\slash,ok=1", vec![entry("ok", "1", "")]),
            ("=v,ok=1", vec![entry("ok", "1", "")]),
            ("ok=1,,, ,", vec![entry("ok", "1", "")]),
            ("k=é", vec![]),
        ];
        for (header, expected) in cases {
            assert_eq!(extract(header), expected, "{header:?}");
        }
    }

    #[test]
    fn extract_combines_header_values_and_first_key_wins() {
        struct Multi;
        impl Extractor for Multi {
            fn get(&self, _: &str) -> Option<&str> {
                Some("a=1")
            }
            fn keys(&self) -> Vec<&str> {
                vec!["baggage"]
            }
            fn get_all(&self, key: &str) -> Option<Vec<&str>> {
                (key == "baggage").then(|| vec!["a=1,b=2", "c=3,a=4"])
            }
        }
        let cx = BaggagePropagator::new().extract_with_context(&Context::new(), &Multi);
        let baggage = cx.baggage();
        assert_eq!(baggage.len(), 3);
        assert_eq!(baggage.get("a").map(|v| v.as_str()), Some("1"));
        assert_eq!(baggage.get("c").map(|v| v.as_str()), Some("3"));
    }

    #[test]
    fn extract_stops_at_64_members_and_8192_bytes() {
        let members = |count: usize| {
            (0..count)
                .map(|i| format!("k{i:04}=v"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(extract(&members(64)).len(), 64);
        let read = extract(&members(8_000));
        assert_eq!(read.len(), 64);
        assert_eq!(read[63].0, "k0063");
        // Invalid members count towards the bytes, not the members.
        let header = format!("{},{}", "bad key=v,".repeat(10), members(70));
        let read = extract(&header);
        assert_eq!((read.len(), read[0].0.as_str()), (64, "k0000"));

        // 8192 bytes exactly are read whole; a member ending past them is not read, nor anything after it.
        let filler = format!("f={}", "x".repeat(8192 - 2 - 4));
        assert_eq!(extract(&format!("{filler},k=v")).len(), 2);
        assert_eq!(extract(&format!("{filler},k=vv,s=1")).len(), 1);
        assert_eq!(extract(&format!("big={},s=1", "x".repeat(9000))), []);
        assert_eq!(extract(&",".repeat(80_000)), []);
    }

    #[test]
    fn extract_without_header_keeps_the_context() {
        let cx = Context::new().with_baggage([KeyValueMetadata::new("x", "y", "")]);
        let carrier: HashMap<String, String> = HashMap::new();
        let out = BaggagePropagator::new().extract_with_context(&cx, &carrier);
        assert_eq!(out.baggage().get("x").map(|v| v.as_str()), Some("y"));
    }

    #[test]
    fn encode_table() {
        #[rustfmt::skip]
        let cases = [
            ("plain", "plain"),
            ("a b", "a%20b"),
            ("100%", "100%25"),
            ("a,b;c\\d\"e", "a%2Cb%3Bc%5Cd%22e"),
            ("€", "%E2%82%AC"),
            ("!#$&'()*+-./:<=>?@[]^_`{|}~", "!#$&'()*+-./:<=>?@[]^_`{|}~"),
            ("\t\n\u{7f}", "%09%0A%7F"),
        ];
        for (raw, encoded) in cases {
            assert_eq!(encode(raw), encoded, "{raw:?}");
            assert_eq!(decode(encoded), raw, "{encoded:?}");
        }
    }

    #[test]
    fn inject_sorted_with_metadata() {
        let baggage = Baggage::from([
            KeyValueMetadata::new("b", "2 3", "prop=1;flag"),
            KeyValueMetadata::new("a", "1", ""),
            KeyValueMetadata::new("c", "x", "not, valid"),
        ]);
        assert_eq!(format_baggage(&baggage), "a=1,b=2%203;prop=1;flag,c=x");
    }

    #[test]
    fn inject_drops_whole_members_over_the_byte_limit() {
        // Encoding triples a space: k1 takes 6003 bytes on the wire, k2 would add 3004 (over 8192) and is left
        // out whole; the small k3 after it still fits.
        let mut baggage = Baggage::new();
        baggage.insert("k1", " ".repeat(2000));
        baggage.insert("k2", " ".repeat(1000));
        baggage.insert("k3", "small");
        let header = format_baggage(&baggage);
        assert_eq!(header.len(), 6003 + 9);
        let keys: Vec<&str> = header
            .split(',')
            .map(|m| m.split('=').next().unwrap())
            .collect();
        assert_eq!(keys, ["k1", "k3"]);

        // A member that can never fit is skipped, the others sent.
        let mut baggage = Baggage::new();
        baggage.insert("ok", "1");
        baggage.insert("wide", " ".repeat(3000));
        assert_eq!(format_baggage(&baggage), "ok=1");
    }

    #[test]
    fn inject_at_most_64_members() {
        let baggage: Baggage = (0..64)
            .map(|i| KeyValueMetadata::new(format!("k{i:02}"), "v", ""))
            .collect();
        let header = format_baggage(&baggage);
        assert_eq!(header.split(',').count(), 64);
        assert!(header.starts_with("k00=v,k01=v"));
        assert!(header.ends_with("k63=v"));
    }

    #[test]
    fn helpers_read_and_add_entries() {
        let cx = with_in(&Context::new(), "a", "1");
        let cx = with_in(&cx, "b", "2");
        let _guard = cx.attach();
        assert_eq!(get("a").as_deref(), Some("1"));
        assert_eq!(get("b").as_deref(), Some("2"));
        assert_eq!(get("c"), None);
        let cx = with("a", "changed");
        assert_eq!(cx.baggage().get("a").map(|v| v.as_str()), Some("changed"));
        assert_eq!(cx.baggage().get("b").map(|v| v.as_str()), Some("2"));
        // Not a token: not added.
        let cx = with("bad key", "x");
        assert_eq!(cx.baggage().len(), 2);
    }
}
