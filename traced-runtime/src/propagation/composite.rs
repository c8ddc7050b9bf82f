//! The propagator `OTEL_PROPAGATORS` names: several formats combined into one.

use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator,
};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;

use super::b3::{self, B3Encoding};
use super::baggage::{self, Entry};
use super::jaeger;
use super::trace_context::{self, Remote};
use crate::config::{env, parse, PropagatorKind};
use crate::Error;

/// Several propagation formats combined, in order.
///
/// Extract: the first format that yields a valid trace context wins; baggage from every format is merged and
/// replaces the context's baggage (on a repeated key the `baggage` header wins over `uberctx-*` headers). Inject: every format writes its
/// headers. An empty `Propagator` (`OTEL_PROPAGATORS=none`) does nothing.
///
/// ```
/// use traced::config::PropagatorKind;
/// use traced::propagation::Propagator;
/// use opentelemetry::propagation::TextMapPropagator;
///
/// let propagator = Propagator::from_kinds(&[PropagatorKind::TraceContext, PropagatorKind::B3Multi]);
/// assert_eq!(
///     propagator.fields().collect::<Vec<_>>(),
///     ["traceparent", "tracestate", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled"]
/// );
/// assert!(Propagator::from_names(&["tracecontext", "xray"]).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Propagator {
    kinds: Vec<PropagatorKind>,
    fields: Vec<String>,
}

/// [`Propagator::from_names`].
pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Propagator, Error> {
    Propagator::from_names(names)
}

impl Propagator {
    /// Combines `kinds` in order; a repeated kind counts once.
    pub fn from_kinds(kinds: &[PropagatorKind]) -> Self {
        let mut unique: Vec<PropagatorKind> = Vec::new();
        for kind in kinds {
            if !unique.contains(kind) {
                unique.push(*kind);
            }
        }
        let fields = unique
            .iter()
            .flat_map(|kind| fields_of(*kind))
            .map(str::to_owned)
            .collect();
        Propagator {
            kinds: unique,
            fields,
        }
    }

    /// Combines the propagators named as in `OTEL_PROPAGATORS` (`tracecontext`, `baggage`, `b3`, `b3multi`,
    /// `jaeger`, `none`), case-insensitively, surrounding whitespace ignored. `none` adds nothing; an empty name
    /// (from `a,,b`) is skipped. Each name is read by the parser of `OTEL_PROPAGATORS` itself, so one may also be
    /// a comma list.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`] naming `OTEL_PROPAGATORS` and the first unknown or unsupported propagator.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, Error> {
        let mut kinds = Vec::new();
        for name in names {
            let name = name.as_ref().trim();
            let named = parse::propagators(name)
                .map_err(|reason| Error::invalid(env::OTEL_PROPAGATORS, name, reason))?;
            kinds.extend(named);
        }
        Ok(Self::from_kinds(&kinds))
    }

    /// The formats, in order.
    pub fn kinds(&self) -> &[PropagatorKind] {
        &self.kinds
    }
}

impl Default for Propagator {
    /// `tracecontext,baggage`, the OpenTelemetry default.
    fn default() -> Self {
        Self::from_kinds(&[PropagatorKind::TraceContext, PropagatorKind::Baggage])
    }
}

fn fields_of(kind: PropagatorKind) -> Vec<&'static str> {
    match kind {
        PropagatorKind::TraceContext => {
            vec![
                trace_context::TRACEPARENT_HEADER,
                trace_context::TRACESTATE_HEADER,
            ]
        }
        PropagatorKind::Baggage => vec![baggage::BAGGAGE_HEADER],
        PropagatorKind::B3 => vec![b3::B3_SINGLE_HEADER],
        PropagatorKind::B3Multi => vec![
            b3::B3_TRACE_ID_HEADER,
            b3::B3_SPAN_ID_HEADER,
            b3::B3_SAMPLED_HEADER,
        ],
        PropagatorKind::Jaeger => vec![jaeger::JAEGER_HEADER],
    }
}

impl TextMapPropagator for Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        for kind in &self.kinds {
            match kind {
                PropagatorKind::TraceContext => trace_context::inject(cx, injector),
                PropagatorKind::Baggage => baggage::inject(cx, injector),
                PropagatorKind::B3 => {
                    b3::inject_span_context(B3Encoding::SingleHeader, span_context, injector)
                }
                PropagatorKind::B3Multi => {
                    b3::inject_span_context(B3Encoding::MultipleHeaders, span_context, injector)
                }
                PropagatorKind::Jaeger => {
                    jaeger::inject_span_context(span_context, injector);
                    jaeger::inject_baggage(cx, injector);
                }
            }
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let mut found: Option<Remote> = None;
        let mut entries: Vec<Entry> = Vec::new();
        // Kept apart so the W3C header, which carries properties, wins over `uberctx-*` whatever the order:
        // otherwise a key sent both ways would lose its properties on the next hop.
        let mut jaeger_entries: Vec<Entry> = Vec::new();
        for kind in &self.kinds {
            let remote = match kind {
                PropagatorKind::TraceContext => found
                    .is_none()
                    .then(|| trace_context::extract_remote(extractor))
                    .flatten(),
                // b3 and b3multi read the same headers: both encodings, single header first.
                PropagatorKind::B3 | PropagatorKind::B3Multi => found
                    .is_none()
                    .then(|| b3::extract_span_context(extractor))
                    .flatten()
                    .map(Remote::from),
                PropagatorKind::Jaeger => {
                    jaeger_entries.extend(jaeger::extract_baggage(extractor));
                    found
                        .is_none()
                        .then(|| jaeger::extract_span_context(extractor))
                        .flatten()
                        .map(Remote::from)
                }
                PropagatorKind::Baggage => {
                    entries.extend(baggage::extract_entries(extractor));
                    None
                }
            };
            if found.is_none() {
                found = remote;
            }
        }
        let cx = match found {
            Some(remote) => remote.into_context(cx),
            None => cx.clone(),
        };
        entries.extend(jaeger_entries);
        baggage::with_entries(&cx, entries)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Only the type's own behaviour is tested here; format details are in each format's module.
#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::baggage::BaggageExt;

    use super::*;

    const W3C_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const B3_TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
    const SPAN: &str = "00f067aa0ba902b7";

    fn carrier(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn mixed_carrier() -> HashMap<String, String> {
        carrier(&[
            ("traceparent", &format!("00-{W3C_TRACE}-{SPAN}-01")),
            ("b3", &format!("{B3_TRACE}-{SPAN}-1")),
            ("baggage", "a=1,shared=from-w3c"),
            ("uberctx-shared", "from-jaeger"),
            ("uberctx-j", "2"),
        ])
    }

    #[test]
    fn names_parse_case_insensitively_and_dedupe() {
        let p = from_names(&[
            " TraceContext ",
            "baggage",
            "",
            "none",
            "b3",
            "B3MULTI",
            "jaeger",
            "b3",
        ])
        .unwrap();
        assert_eq!(
            p.kinds(),
            [
                PropagatorKind::TraceContext,
                PropagatorKind::Baggage,
                PropagatorKind::B3,
                PropagatorKind::B3Multi,
                PropagatorKind::Jaeger,
            ]
        );
        assert!(from_names(&["none"]).unwrap().kinds().is_empty());
        let no_names: [&str; 0] = [];
        assert!(from_names(&no_names).unwrap().kinds().is_empty());
    }

    #[test]
    fn unknown_name_is_an_error_naming_it() {
        let err = from_names(&["tracecontext", "ottrace"]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("\"ottrace\""), "{message}");
        assert!(message.contains("OTEL_PROPAGATORS"), "{message}");
        assert!(message.contains("b3multi"), "{message}");
        // The same reader as `OTEL_PROPAGATORS`: same words, same list rules.
        let Error::InvalidValue {
            option,
            value,
            reason,
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!(
            (option.as_str(), value.as_str()),
            ("OTEL_PROPAGATORS", "ottrace")
        );
        assert_eq!(Err(reason), parse::propagators("ottrace"));
        assert_eq!(
            from_names(&["b3, jaeger"]).unwrap().kinds(),
            [PropagatorKind::B3, PropagatorKind::Jaeger]
        );
        assert!(from_names(&["none,b3"]).is_err());
    }

    #[test]
    fn first_valid_trace_context_wins_and_baggage_merges() {
        let map = mixed_carrier();
        let p = Propagator::from_kinds(&[
            PropagatorKind::TraceContext,
            PropagatorKind::B3,
            PropagatorKind::Baggage,
            PropagatorKind::Jaeger,
        ]);
        let cx = p.extract_with_context(&Context::new(), &map);
        assert_eq!(cx.span().span_context().trace_id().to_string(), W3C_TRACE);
        assert!(cx.span().span_context().is_remote());
        let baggage = cx.baggage();
        assert_eq!(baggage.get("a").map(|v| v.as_str()), Some("1"));
        assert_eq!(baggage.get("j").map(|v| v.as_str()), Some("2"));
        assert_eq!(baggage.get("shared").map(|v| v.as_str()), Some("from-w3c"));

        // Order decides the trace context; the baggage header still wins over uberctx-*.
        let p = Propagator::from_kinds(&[
            PropagatorKind::B3,
            PropagatorKind::Jaeger,
            PropagatorKind::TraceContext,
            PropagatorKind::Baggage,
        ]);
        let cx = p.extract_with_context(&Context::new(), &map);
        assert_eq!(cx.span().span_context().trace_id().to_string(), B3_TRACE);
        assert_eq!(
            cx.baggage().get("shared").map(|v| v.as_str()),
            Some("from-w3c")
        );
        let p = Propagator::from_kinds(&[PropagatorKind::Jaeger]);
        let cx = p.extract_with_context(&Context::new(), &map);
        assert_eq!(
            cx.baggage().get("shared").map(|v| v.as_str()),
            Some("from-jaeger")
        );

        // An invalid first format falls through to the next.
        let mut map = mixed_carrier();
        map.insert("traceparent".to_owned(), "garbage".to_owned());
        let p = Propagator::from_kinds(&[PropagatorKind::TraceContext, PropagatorKind::B3]);
        let cx = p.extract_with_context(&Context::new(), &map);
        assert_eq!(cx.span().span_context().trace_id().to_string(), B3_TRACE);
    }

    #[test]
    fn nothing_found_returns_the_given_context() {
        let p = Propagator::default();
        let cx = p.extract_with_context(&Context::new(), &carrier(&[("other", "x")]));
        assert!(!cx.span().span_context().is_valid());
        assert_eq!(cx.baggage().len(), 0);
    }

    #[test]
    fn inject_writes_every_format() {
        let map = mixed_carrier();
        let all = Propagator::from_kinds(&[
            PropagatorKind::TraceContext,
            PropagatorKind::Baggage,
            PropagatorKind::B3,
            PropagatorKind::B3Multi,
            PropagatorKind::Jaeger,
        ]);
        let cx = all.extract_with_context(&Context::new(), &map);
        let mut out = HashMap::new();
        all.inject_context(&cx, &mut out);
        let expected = carrier(&[
            ("traceparent", &format!("00-{W3C_TRACE}-{SPAN}-01")),
            ("b3", &format!("{W3C_TRACE}-{SPAN}-1")),
            ("x-b3-traceid", W3C_TRACE),
            ("x-b3-spanid", SPAN),
            ("x-b3-sampled", "1"),
            ("uber-trace-id", &format!("{W3C_TRACE}:{SPAN}:0:1")),
            ("baggage", "a=1,j=2,shared=from-w3c"),
            ("uberctx-a", "1"),
            ("uberctx-j", "2"),
            ("uberctx-shared", "from-w3c"),
        ]);
        assert_eq!(out, expected);

        let mut out = HashMap::new();
        Propagator::from_kinds(&[]).inject_context(&cx, &mut out);
        assert!(out.is_empty());
    }
}
