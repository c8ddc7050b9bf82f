//! What the span queue's export side and the span exporters carry: a finished span, and the attributes its
//! callsite gives every one of its spans, kept once per callsite rather than copied into each span.
//!
//! A `#[traced]` fn's `code.*` attributes are the same values in every span of it. Copied per span they were
//! cloned on the calling thread, moved to the export thread, redacted, encoded attribute by attribute and dropped
//! there; kept by reference, the OTLP encoder copies their bytes, encoded once per callsite. Every other exporter
//! gets the `SpanData` it always had ([`ExportSpan::into_span_data`]). A span's first attributes, the thread it
//! was made on and its target ([`Origin`]), travel the same way: as three plain values instead of three
//! `KeyValue`s pushed, moved, redacted, encoded and dropped per span.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
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
    /// cannot carry it; it is carried from the queued span ([`ClosedSpan::parent_sampled`]) or set by the processor.
    pub(crate) parent_sampled: bool,
    /// The pipeline's scope, which belongs in `data.instrumentation_scope` (left empty until then): a span of this
    /// crate's layer has it by reference, and the OTLP encoder groups spans by its address, so the clone (and its
    /// drop) is made only for the exporters that take a `SpanData`.
    pub(crate) scope: Option<&'static InstrumentationScope>,
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
        if let Some(scope) = self.scope.take() {
            self.data.instrumentation_scope = scope.clone();
        }
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

    /// The span's instrumentation scope, wherever it is kept.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) fn scope(&self) -> &InstrumentationScope {
        self.scope.unwrap_or(&self.data.instrumentation_scope)
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

/// A span as the application's thread queues it, made an [`ExportSpan`] on the export thread
/// ([`Batches::admit`](crate::export::batch::Batches::admit)).
///
/// What the calling thread pays for a span is mostly memory: the queue's slot and the attributes are lines the
/// export thread read last, each a miss. An `ExportSpan` is 416 bytes (the SDK's `SpanData` with its scope,
/// events, links, and the rest); a [`ClosedSpan`] leaves out what every span of a pipeline shares (the scope, by
/// reference) and what few spans have (events, links, an error status, a trace state: boxed when there are any).
// Nearly every span is `Closed`: boxing it would add an allocation per span, the SDK's are boxed instead.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum QueuedSpan {
    /// A span of this crate's layer.
    Closed(ClosedSpan),
    /// A span of the SDK's own (the OpenTelemetry API), as it came.
    Sdk(Box<ExportSpan>),
}

/// The fields of a finished span of this crate's layer, as [`SpanData`] has them but for those noted.
#[derive(Debug)]
pub(crate) struct ClosedSpan {
    /// The span context's ids; its flags, remoteness and trace state below.
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    pub(crate) name: Cow<'static, str>,
    pub(crate) start_time: SystemTime,
    pub(crate) end_time: SystemTime,
    pub(crate) attributes: Vec<KeyValue>,
    /// What few spans have, when the span has any of it.
    pub(crate) rare: Option<Box<Rare>>,
    /// The pipeline's scope, the same for all its spans.
    pub(crate) scope: &'static InstrumentationScope,
    pub(crate) origin: Option<Origin>,
    pub(crate) callsite: Option<(&'static CallsiteAttributes, usize)>,
    pub(crate) dropped_attributes_count: u32,
    pub(crate) trace_flags: TraceFlags,
    pub(crate) span_kind: SpanKind,
    /// The status is `Ok` (else unset, or the error in `rare`).
    pub(crate) ok: bool,
    pub(crate) is_remote: bool,
    pub(crate) parent_span_is_remote: bool,
    pub(crate) duration_ms: bool,
    pub(crate) parent_sampled: bool,
}

/// The parts of a [`ClosedSpan`] most spans leave empty.
#[derive(Debug, Default)]
pub(crate) struct Rare {
    pub(crate) events: SpanEvents,
    pub(crate) links: SpanLinks,
    /// An error status.
    pub(crate) status: Status,
    pub(crate) trace_state: TraceState,
}

impl From<QueuedSpan> for ExportSpan {
    fn from(queued: QueuedSpan) -> Self {
        let span = match queued {
            QueuedSpan::Closed(span) => span,
            QueuedSpan::Sdk(span) => return *span,
        };
        let rare = span.rare.map_or_else(Rare::default, |rare| *rare);
        let status = match rare.status {
            Status::Unset if span.ok => Status::Ok,
            status => status,
        };
        ExportSpan {
            data: SpanData {
                span_context: SpanContext::new(
                    span.trace_id,
                    span.span_id,
                    span.trace_flags,
                    span.is_remote,
                    rare.trace_state,
                ),
                parent_span_id: span.parent_span_id,
                parent_span_is_remote: span.parent_span_is_remote,
                span_kind: span.span_kind,
                name: span.name,
                start_time: span.start_time,
                end_time: span.end_time,
                attributes: span.attributes,
                dropped_attributes_count: span.dropped_attributes_count,
                events: rare.events,
                links: rare.links,
                status,
                instrumentation_scope: InstrumentationScope::default(),
            },
            origin: span.origin,
            duration_ms: span.duration_ms,
            callsite: span.callsite,
            parent_sampled: span.parent_sampled,
            scope: Some(span.scope),
        }
    }
}

impl From<SpanData> for ExportSpan {
    fn from(data: SpanData) -> Self {
        ExportSpan {
            data,
            origin: None,
            duration_ms: false,
            callsite: None,
            parent_sampled: false,
            scope: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What crosses to the export thread per span is what the calling thread pays for in misses: a layer's span
    /// is queued in at most half the size of the span the exporters get.
    #[test]
    fn a_queued_span_is_compact() {
        let queued = std::mem::size_of::<QueuedSpan>();
        let whole = std::mem::size_of::<ExportSpan>();
        assert!(queued * 2 <= whole, "{queued} bytes queued, {whole} whole");
    }

    #[test]
    fn a_closed_span_is_made_whole_with_its_scope_and_what_few_spans_have() {
        static SCOPE: OnceLock<InstrumentationScope> = OnceLock::new();
        let scope = SCOPE.get_or_init(|| {
            InstrumentationScope::builder("scope")
                .with_version("1")
                .build()
        });
        let closed = |ok, rare| ClosedSpan {
            trace_id: TraceId::from(1),
            span_id: SpanId::from(2),
            parent_span_id: SpanId::from(3),
            name: "closed".into(),
            start_time: UNIX_EPOCH,
            end_time: UNIX_EPOCH + std::time::Duration::from_millis(2),
            attributes: vec![KeyValue::new("a", 1)],
            rare,
            scope,
            origin: None,
            callsite: None,
            dropped_attributes_count: 4,
            trace_flags: TraceFlags::SAMPLED,
            span_kind: SpanKind::Server,
            ok,
            is_remote: false,
            parent_span_is_remote: true,
            duration_ms: true,
            parent_sampled: true,
        };
        let plain = ExportSpan::from(QueuedSpan::Closed(closed(false, None)));
        assert_eq!(*plain.scope(), *scope);
        assert_eq!(
            plain.clone().into_span_data().instrumentation_scope,
            *scope,
            "the exporters that take a SpanData get the scope in it"
        );
        let context = &plain.data.span_context;
        assert_eq!(
            (context.trace_id(), context.span_id(), context.is_sampled()),
            (TraceId::from(1), SpanId::from(2), true)
        );
        assert_eq!(plain.data.parent_span_id, SpanId::from(3));
        assert_eq!(plain.data.span_kind, SpanKind::Server);
        assert_eq!(plain.data.status, Status::Unset);
        assert_eq!(plain.data.dropped_attributes_count, 4);
        assert!(plain.data.parent_span_is_remote && plain.duration_ms && plain.parent_sampled);
        assert!(plain.data.events.is_empty() && plain.data.links.is_empty());
        let ok = ExportSpan::from(QueuedSpan::Closed(closed(true, None)));
        assert_eq!(ok.data.status, Status::Ok);
        let mut rare = Rare {
            status: Status::error("failed"),
            trace_state: TraceState::from_key_value([("k", "v")]).unwrap(),
            ..Rare::default()
        };
        rare.events
            .events
            .push(opentelemetry::trace::Event::with_name("event"));
        rare.events.dropped_count = 2;
        rare.links.dropped_count = 5;
        let full = ExportSpan::from(QueuedSpan::Closed(closed(false, Some(Box::new(rare)))));
        assert_eq!(full.data.status, Status::error("failed"));
        assert_eq!(full.data.span_context.trace_state().header(), "k=v");
        assert_eq!(full.data.events.len(), 1);
        assert_eq!(full.data.events.dropped_count, 2);
        assert_eq!(full.data.links.dropped_count, 5);
        let sdk = ExportSpan::from(QueuedSpan::Sdk(Box::new(full.clone())));
        assert_eq!(sdk.data.name, full.data.name);
    }

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
            scope: None,
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
