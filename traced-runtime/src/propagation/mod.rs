//! Context propagation: carrying the trace context and baggage across process boundaries.
//!
//! Every format is our own implementation of
//! [`TextMapPropagator`](opentelemetry::propagation::TextMapPropagator), written against the specifications rather
//! than the looser parsers of `opentelemetry-rust`:
//!
//! | `OTEL_PROPAGATORS` name | propagator | headers |
//! |---|---|---|
//! | `tracecontext` | [`TraceContextPropagator`] | `traceparent`, `tracestate` (W3C Trace Context Level 2) |
//! | `baggage` | [`BaggagePropagator`] | `baggage` (W3C Baggage) |
//! | `b3` | [`B3Propagator::single_header`] | `b3` |
//! | `b3multi` | [`B3Propagator::multiple_headers`] | `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` |
//! | `jaeger` | [`JaegerPropagator`] | `uber-trace-id`, `uberctx-{key}` |
//!
//! [`Propagator`] combines them in the order `OTEL_PROPAGATORS` names them. [`inject`] and [`extract`] use the
//! globally installed propagator; [`MapExtractor`] / [`MapInjector`] adapt maps and lists of string pairs
//! (message-queue headers, event metadata), and with feature `http` `HeaderExtractor` / `HeaderInjector` adapt
//! `http::HeaderMap`.
//!
//! ```
//! use std::collections::HashMap;
//! use opentelemetry::propagation::TextMapPropagator;
//! use opentelemetry::trace::TraceContextExt;
//! use traced::propagation::{MapExtractor, MapInjector, Propagator};
//!
//! let propagator = Propagator::from_names(&["tracecontext", "baggage"]).unwrap();
//!
//! // A consumer reads the context from message headers ...
//! let mut headers = HashMap::new();
//! headers.insert(
//!     "Traceparent".to_owned(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
//! );
//! let cx = propagator.extract(&MapExtractor(&headers));
//! assert_eq!(
//!     cx.span().span_context().trace_id().to_string(),
//!     "4bf92f3577b34da6a3ce929d0e0e4736"
//! );
//!
//! // ... and passes it on.
//! let mut outgoing: Vec<(String, String)> = Vec::new();
//! propagator.inject_context(&cx, &mut MapInjector(&mut outgoing));
//! assert_eq!(outgoing[0].1, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
//! ```

pub mod b3;
pub mod baggage;
mod carrier;
mod composite;
pub mod jaeger;
pub mod trace_context;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;

pub use b3::B3Propagator;
pub use baggage::BaggagePropagator;
#[cfg(feature = "http")]
pub use carrier::{HeaderExtractor, HeaderInjector};
pub use carrier::{MapExtractor, MapInjector};
pub use composite::{from_names, Propagator};
pub use jaeger::JaegerPropagator;
pub use trace_context::TraceContextPropagator;

/// `key` as a `HeaderName` when it is one of the names our propagators read and write, made without parsing: a
/// name given as text is checked byte by byte at every lookup, and one that is not a standard header is copied
/// into a new allocation at every insert (`traceparent` into every response of `TraceLayer`). A `match` on the
/// text (a jump on its length, one compare) and a constant: a search compared the text with each name in turn
/// and cloned the one found, about 80 instructions a lookup.
#[cfg(feature = "http")]
fn known_header_name(key: &str) -> Option<http::HeaderName> {
    macro_rules! known {
        ($($name:path),* $(,)?) => {
            match key {
                $($name => {
                    const NAME: http::HeaderName = http::HeaderName::from_static($name);
                    Some(NAME)
                })*
                _ => None,
            }
        };
    }
    known!(
        trace_context::TRACEPARENT_HEADER,
        trace_context::TRACESTATE_HEADER,
        baggage::BAGGAGE_HEADER,
        b3::B3_SINGLE_HEADER,
        b3::B3_TRACE_ID_HEADER,
        b3::B3_SPAN_ID_HEADER,
        b3::B3_SAMPLED_HEADER,
        b3::B3_FLAGS_HEADER,
        b3::B3_PARENT_SPAN_ID_HEADER,
        jaeger::JAEGER_HEADER,
    )
}

/// Writes `cx` into `injector` with the globally installed propagator
/// ([`opentelemetry::global::set_text_map_propagator`]).
pub fn inject(cx: &Context, injector: &mut dyn Injector) {
    // So the console draws a hop back into this process under the span that sent it.
    crate::propagated::remember(cx.span().span_context());
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(cx, injector)
    })
}

/// True when `cx` holds nothing the propagators of this crate write but its span context: no baggage, no received
/// `tracestate`. Injected, it writes the span's context alone.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn holds_only_its_span(cx: &Context) -> bool {
    cx.baggage().is_empty() && !trace_context::holds_received_state(cx)
}

/// Reads a context from `extractor` with the globally installed propagator, on top of the current context.
///
/// The result can be the parent of a new span. When the carrier holds no valid trace context, the current
/// context is returned.
pub fn extract(extractor: &dyn Extractor) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(extractor))
}

/// [`extract`] from a map or list of string pairs, matching keys case-insensitively.
///
/// Accepts `HashMap<String, String>`, `BTreeMap<String, String>`, `Vec<(String, String)>` and
/// `[(String, String)]`.
pub fn extract_from_map<'a, M>(map: &'a M) -> Context
where
    M: ?Sized,
    MapExtractor<'a, M>: Extractor,
{
    extract(&MapExtractor(map))
}

/// [`inject`]s the current context into a map or list of string pairs, replacing existing entries whose key
/// differs only in case.
pub fn inject_into_map<'a, M>(map: &'a mut M)
where
    M: ?Sized,
    MapInjector<'a, M>: Injector,
{
    // Inside a trace the sampler dropped, no span was built: the trace still goes out, as not sampled.
    inject(
        &crate::traces::sampling::current_context(),
        &mut MapInjector(map),
    );
}

/// Characters the HTTP specification calls optional whitespace, trimmed around header values and list members.
const OWS: [char; 2] = [' ', '\t'];

/// Parses 1 to 32 hex digits into a number; `lowercase_only` refuses `A-F` for the formats that demand
/// lowercase. Signs, whitespace and any other byte make it fail (unlike `u128::from_str_radix`, which takes `+`).
fn parse_hex(s: &str, lowercase_only: bool) -> Option<u128> {
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    let mut value: u128 = 0;
    for b in s.bytes() {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' if !lowercase_only => b - b'A' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// Reads every value of `key` (several headers of the same name are several values).
fn get_all<'a>(extractor: &'a dyn Extractor, key: &str) -> Vec<&'a str> {
    extractor.get_all(key).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_hex_accepts_digits_only() {
        assert_eq!(
            parse_hex("00f067aa0ba902b7", true),
            Some(0x00f0_67aa_0ba9_02b7)
        );
        assert_eq!(parse_hex("ABC", false), Some(0xabc));
        assert_eq!(parse_hex("ABC", true), None);
        assert_eq!(parse_hex("+1", false), None);
        assert_eq!(parse_hex(" 1", false), None);
        assert_eq!(parse_hex("", false), None);
        assert_eq!(parse_hex(&"f".repeat(32), true), Some(u128::MAX));
        assert_eq!(parse_hex(&"f".repeat(33), true), None);
    }

    /// Every header the propagators read or write is known, by its own name, and nothing else is.
    #[cfg(feature = "http")]
    #[test]
    fn the_propagators_headers_are_known_names() {
        use opentelemetry::propagation::TextMapPropagator;

        let all = Propagator::from_names(&["tracecontext,baggage,b3,b3multi,jaeger"])
            .expect("every propagator");
        // B3's two headers it reads but never writes, so not among the fields.
        let fields: Vec<&str> = all
            .fields()
            .chain([b3::B3_FLAGS_HEADER, b3::B3_PARENT_SPAN_ID_HEADER])
            .collect();
        assert_eq!(fields.len(), 10, "{fields:?}");
        for field in fields {
            let name = known_header_name(field).unwrap_or_else(|| panic!("{field} is not known"));
            assert_eq!(name.as_str(), field);
        }
        for other in ["traceparent2", "Traceparent", "x-b3", "content-type", ""] {
            assert!(known_header_name(other).is_none(), "{other}");
        }
    }

    /// Only a context with neither baggage nor a received `tracestate` `TraceState` could not hold stands for its
    /// span alone.
    #[test]
    fn a_context_holds_only_its_span_without_baggage_or_received_state() {
        use opentelemetry::propagation::TextMapPropagator;
        use std::collections::HashMap;

        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let extract = |tracestate: &str| {
            let headers = HashMap::from([
                ("traceparent".to_owned(), traceparent.to_owned()),
                ("tracestate".to_owned(), tracestate.to_owned()),
            ]);
            TraceContextPropagator::new().extract(&MapExtractor(&headers))
        };
        let held = extract("a=1");
        assert!(held.span().span_context().is_valid());
        assert!(holds_only_its_span(&held));
        assert!(!holds_only_its_span(&extract("foo@@bar=1,a=1")));
        assert!(!holds_only_its_span(
            &held.with_baggage([opentelemetry::KeyValue::new("tenant", "t1")])
        ));
        assert!(holds_only_its_span(&Context::new()));
    }
}
