//! Exemplars: the latest sampled span of each bucket (or counter series), linking a data point to a trace that
//! explains it. Each exporter takes those newer than its previous collection: at most one per bucket per
//! collection, and the OTLP and Prometheus exporters each see them.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanContext, TraceContextExt};

/// A measurement of a sampled span.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    /// In the instrument's unit (seconds for the durations, 1 for a counter).
    pub(crate) value: f64,
    pub(crate) time_unix_nano: u64,
}

impl Exemplar {
    /// An exemplar of `value` for the span of `context`, if it is sampled (its trace is exported).
    pub(crate) fn of(context: &SpanContext, value: f64) -> Option<Exemplar> {
        (context.is_valid() && context.is_sampled()).then(|| Exemplar {
            trace_id: context.trace_id().to_bytes(),
            span_id: context.span_id().to_bytes(),
            value,
            time_unix_nano: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        })
    }

    /// The sampled span of a `tracing` span, as [`Exemplar::of`] needs it (any subscriber layer).
    pub(crate) fn span_context(span: &tracing::Span) -> SpanContext {
        crate::SpanExt::context(span).span().span_context().clone()
    }
}

/// The latest exemplar of a data point.
#[derive(Debug, Default)]
pub(crate) struct ExemplarSlot(Mutex<Option<Exemplar>>);

impl ExemplarSlot {
    /// Keeps `exemplar` unless the slot is busy: a sampled call never waits for an exemplar.
    pub(crate) fn offer(&self, exemplar: Exemplar) {
        if let Ok(mut slot) = self.0.try_lock() {
            *slot = Some(exemplar);
        }
    }

    /// The latest exemplar, if it is not older than `since` (ns since the epoch).
    pub(crate) fn since(&self, since: u64) -> Option<Exemplar> {
        let latest = (*self.0.lock().ok()?)?;
        (latest.time_unix_nano >= since).then_some(latest)
    }
}
