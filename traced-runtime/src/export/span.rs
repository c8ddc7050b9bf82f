//! What the span queue's export side and the span exporters carry: a finished span, and the attributes its
//! callsite gives every one of its spans, kept once per callsite rather than copied into each span.
//!
//! A `#[traced]` fn's `code.*` attributes are the same values in every span of it. Copied per span they were
//! cloned on the calling thread, moved to the export thread, redacted, encoded attribute by attribute and dropped
//! there; kept by reference, the OTLP encoder copies their bytes, encoded once per callsite. Every other exporter
//! gets the `SpanData` it always had ([`ExportSpan::into_span_data`]).

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;

/// The attributes every span of one callsite has, and their OTLP protobuf encoding (as `Span.attributes`
/// fields), made the first time a span of the callsite is encoded.
#[derive(Debug)]
pub(crate) struct CallsiteAttributes {
    attributes: Box<[KeyValue]>,
    encoded: OnceLock<Box<[u8]>>,
}

impl CallsiteAttributes {
    pub(crate) fn new(attributes: Box<[KeyValue]>) -> Self {
        CallsiteAttributes {
            attributes,
            encoded: OnceLock::new(),
        }
    }

    pub(crate) fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    /// The attributes encoded by `encode`, once.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) fn encoded(&self, encode: impl FnOnce(&[KeyValue]) -> Vec<u8>) -> &[u8] {
        self.encoded
            .get_or_init(|| encode(&self.attributes).into_boxed_slice())
    }
}

/// A finished span as the exporters get it.
#[derive(Clone, Debug)]
pub(crate) struct ExportSpan {
    pub(crate) data: SpanData,
    /// The callsite's attributes, which belong in `data.attributes` at the index given (before the fields).
    pub(crate) callsite: Option<(&'static CallsiteAttributes, usize)>,
    /// The span's parent is remote and arrived sampled (flag `01`): tail sampling keeps its trace. The span
    /// cannot carry it, and here it costs no move: the queue's spans go to the exporters as they came.
    pub(crate) parent_sampled: bool,
}

impl ExportSpan {
    /// The span with its callsite's attributes in place, as the SDK's exporters take it.
    pub(crate) fn into_span_data(mut self) -> SpanData {
        self.materialize();
        self.data
    }

    /// Copies the callsite's attributes into `data.attributes`, where they belong; a span that must be changed
    /// attribute by attribute (redaction, length limits) is changed there.
    pub(crate) fn materialize(&mut self) {
        if let Some((callsite, at)) = self.callsite.take() {
            let at = at.min(self.data.attributes.len());
            self.data
                .attributes
                .splice(at..at, callsite.attributes.iter().cloned());
        }
    }

    /// The attributes before the callsite's, the callsite's, and those after.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) fn split_attributes(
        &self,
    ) -> (
        &[KeyValue],
        Option<&'static CallsiteAttributes>,
        &[KeyValue],
    ) {
        let attributes = &self.data.attributes;
        match self.callsite {
            Some((callsite, at)) => {
                let (before, after) = attributes.split_at(at.min(attributes.len()));
                (before, Some(callsite), after)
            }
            None => (attributes, None, &[]),
        }
    }
}

impl From<SpanData> for ExportSpan {
    fn from(data: SpanData) -> Self {
        ExportSpan {
            data,
            callsite: None,
            parent_sampled: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(attributes: Vec<KeyValue>) -> SpanData {
        opentelemetry_sdk::trace::SpanData {
            span_context: opentelemetry::trace::SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: opentelemetry::trace::SpanKind::Internal,
            name: "s".into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes,
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: opentelemetry::trace::Status::Unset,
            instrumentation_scope: Default::default(),
        }
    }

    #[test]
    fn callsite_attributes_take_their_place_among_the_others() {
        static CALLSITE: OnceLock<CallsiteAttributes> = OnceLock::new();
        let callsite = CALLSITE.get_or_init(|| {
            CallsiteAttributes::new(Box::new([KeyValue::new("c1", 1), KeyValue::new("c2", 2)]))
        });
        let mut span = ExportSpan {
            data: span(vec![KeyValue::new("a", 0), KeyValue::new("f", 3)]),
            callsite: Some((callsite, 1)),
            parent_sampled: false,
        };
        let keys = |attributes: &mut dyn Iterator<Item = &KeyValue>| {
            attributes.map(|kv| kv.key.to_string()).collect::<Vec<_>>()
        };
        let (before, at, after) = span.split_attributes();
        assert_eq!((before.len(), after.len()), (1, 1));
        assert!(at.is_some_and(|at| std::ptr::eq(at, callsite)));
        let data = span.clone().into_span_data();
        assert_eq!(keys(&mut data.attributes.iter()), ["a", "c1", "c2", "f"]);
        span.materialize();
        assert!(span.callsite.is_none());
        assert_eq!(
            keys(&mut span.data.attributes.iter()),
            ["a", "c1", "c2", "f"]
        );
        // Encoded once: a second call does not run its closure.
        assert_eq!(callsite.encoded(|_| vec![1, 2]), [1, 2]);
        assert_eq!(callsite.encoded(|_| unreachable!()), [1, 2]);
    }
}
