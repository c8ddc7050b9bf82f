//! What the span queue's export side and the span exporters carry: a finished span, and the attributes its
//! callsite gives every one of its spans, kept once per callsite rather than copied into each span.
//!
//! A `#[traced]` fn's `code.*` attributes are the same values in every span of it. Copied per span they were
//! cloned on the calling thread, moved to the export thread, redacted, encoded attribute by attribute and dropped
//! there; kept by reference, the OTLP encoder copies their bytes, encoded once per callsite. Every other exporter
//! gets the `SpanData` it always had ([`ExportSpan::into_span_data`]). A span's first attributes, the thread it
//! was made on and its target ([`Origin`]), travel the same way: as three plain values instead of three
//! `KeyValue`s pushed, moved, redacted, encoded and dropped per span.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;
use traced_conventions::layer::{TARGET, THREAD_ID, THREAD_NAME};
use traced_conventions::span::DURATION_MS;

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

/// Where a span was made: its `thread.id`, `thread.name` (when the thread has one) and `target` attributes,
/// which come first among its attributes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Origin {
    pub(crate) thread_id: i64,
    pub(crate) thread_name: Option<&'static str>,
    pub(crate) target: &'static str,
}

impl Origin {
    /// How many attributes it stands for.
    pub(crate) fn len(&self) -> usize {
        2 + usize::from(self.thread_name.is_some())
    }

    /// Its attributes, in their order.
    pub(crate) fn attributes(&self) -> impl Iterator<Item = KeyValue> {
        let thread_name = self
            .thread_name
            .map(|name| KeyValue::new(THREAD_NAME, name));
        std::iter::once(KeyValue::new(THREAD_ID, self.thread_id))
            .chain(thread_name)
            .chain(std::iter::once(KeyValue::new(TARGET, self.target)))
    }
}

/// A finished span as the exporters get it.
#[derive(Clone, Debug)]
pub(crate) struct ExportSpan {
    pub(crate) data: SpanData,
    /// The span's first attributes, which belong in `data.attributes` ahead of the others.
    pub(crate) origin: Option<Origin>,
    /// The layer's `duration_ms`, made from `data`'s start and end times, belongs last in `data.attributes`.
    pub(crate) duration_ms: bool,
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

    /// Copies the callsite's attributes and the origin's into `data.attributes`, where they belong; a span that
    /// must be changed attribute by attribute (redaction, length limits) is changed there.
    pub(crate) fn materialize(&mut self) {
        // The callsite's index counts the attributes without the origin's: the callsite first.
        if let Some((callsite, at)) = self.callsite.take() {
            let at = at.min(self.data.attributes.len());
            self.data
                .attributes
                .splice(at..at, callsite.attributes.iter().cloned());
        }
        if let Some(origin) = self.origin.take() {
            self.data.attributes.splice(0..0, origin.attributes());
        }
        if std::mem::take(&mut self.duration_ms) {
            let duration = duration_ms(
                unix_nanos(self.data.start_time),
                unix_nanos(self.data.end_time),
            );
            self.data
                .attributes
                .push(KeyValue::new(DURATION_MS, duration));
        }
    }

    /// The attributes before the callsite's, the callsite's, and those after (the origin's come before all).
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

/// Nanoseconds since the Unix epoch (0 before it), as OTLP carries times.
pub(crate) fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `duration_ms` of a span from its start and end in [`unix_nanos`] (0 if the clock went back): one computation
/// for the encoder, which has the nanoseconds already, and for [`ExportSpan::materialize`].
pub(crate) fn duration_ms(start: u64, end: u64) -> f64 {
    end.saturating_sub(start) as f64 / 1e6
}

impl From<SpanData> for ExportSpan {
    fn from(data: SpanData) -> Self {
        ExportSpan {
            data,
            origin: None,
            duration_ms: false,
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
            origin: Some(Origin {
                thread_id: 7,
                thread_name: Some("worker"),
                target: "app::db",
            }),
            duration_ms: true,
            callsite: Some((callsite, 1)),
            parent_sampled: false,
        };
        let keys = |attributes: &mut dyn Iterator<Item = &KeyValue>| {
            attributes.map(|kv| kv.key.to_string()).collect::<Vec<_>>()
        };
        let (before, at, after) = span.split_attributes();
        assert_eq!((before.len(), after.len()), (1, 1));
        assert!(at.is_some_and(|at| std::ptr::eq(at, callsite)));
        let in_place = [
            KeyValue::new(THREAD_ID, 7),
            KeyValue::new(THREAD_NAME, "worker"),
            KeyValue::new(TARGET, "app::db"),
            KeyValue::new("a", 0),
            KeyValue::new("c1", 1),
            KeyValue::new("c2", 2),
            KeyValue::new("f", 3),
            KeyValue::new(DURATION_MS, 2.5),
        ];
        span.data.start_time = UNIX_EPOCH + std::time::Duration::from_nanos(1_000_000_000);
        span.data.end_time = UNIX_EPOCH + std::time::Duration::from_nanos(1_002_500_000);
        let data = span.clone().into_span_data();
        assert_eq!(data.attributes, in_place);
        span.materialize();
        assert!(span.callsite.is_none() && span.origin.is_none() && !span.duration_ms);
        // A clock that went back: 0, not a negative duration.
        assert_eq!(duration_ms(5, 3), 0.0);
        assert_eq!(span.data.attributes, in_place);
        // A thread without a name: no `thread.name`.
        let unnamed = Origin {
            thread_id: 1,
            thread_name: None,
            target: "t",
        };
        assert_eq!(unnamed.len(), 2);
        assert_eq!(
            keys(&mut unnamed.attributes().collect::<Vec<_>>().iter()),
            [THREAD_ID, TARGET]
        );
        // Encoded once: a second call does not run its closure.
        assert_eq!(callsite.encoded(|_| vec![1, 2]), [1, 2]);
        assert_eq!(callsite.encoded(|_| unreachable!()), [1, 2]);
    }
}
