//! What a capture holds: the spans, with their tree, the log records and the metrics.

use std::collections::HashMap;

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceId};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

use super::metric::CapturedMetric;
use crate::export::log_record::LogRecord;
use crate::Stats;

mod log;

pub use log::CapturedLog;

/// Everything a captured piece of code produced; see [`capture`](super::capture).
#[derive(Debug)]
pub struct Captured {
    /// In the order the spans started.
    spans: Vec<SpanData>,
    /// The index of each span's parent among `spans`, when the parent was captured too.
    parents: Vec<Option<usize>>,
    /// The indices of each span's children, in the order they started.
    children: Vec<Vec<usize>>,
    /// In the order the events happened.
    logs: Vec<LogRecord>,
    metrics: Vec<CapturedMetric>,
    stats: Stats,
}

impl Captured {
    pub(super) fn new(
        mut spans: Vec<SpanData>,
        mut logs: Vec<LogRecord>,
        metrics: Vec<CapturedMetric>,
        stats: Stats,
    ) -> Self {
        logs.sort_by_key(|record| record.time);
        // Start order, then name: the order a reader expects, the same on every run.
        spans.sort_by(|a, b| {
            a.start_time
                .cmp(&b.start_time)
                .then_with(|| a.name.cmp(&b.name))
        });
        let index: HashMap<(u128, SpanId), usize> = spans
            .iter()
            .enumerate()
            .map(|(i, span)| {
                (
                    (trace_key(&span.span_context), span.span_context.span_id()),
                    i,
                )
            })
            .collect();
        let parents: Vec<Option<usize>> = spans
            .iter()
            .map(|span| {
                (span.parent_span_id != SpanId::INVALID)
                    .then(|| index.get(&(trace_key(&span.span_context), span.parent_span_id)))
                    .flatten()
                    .copied()
            })
            .collect();
        let mut children = vec![Vec::new(); spans.len()];
        for (child, parent) in parents.iter().enumerate() {
            if let Some(parent) = parent {
                children[*parent].push(child);
            }
        }
        Captured {
            spans,
            parents,
            children,
            logs,
            metrics,
            stats,
        }
    }

    /// Every log record the code emitted (each `tracing` event that passed the filter, the error lines of
    /// `#[traced]` included), in the order they happened, with the ids of the span each belongs to.
    ///
    /// ```
    /// #[traced::traced]
    /// fn checkout() {
    ///     tracing::info!(order = 7, "order placed");
    /// }
    ///
    /// let ((), captured) = traced::testing::capture(checkout);
    /// let [placed] = &captured.logs()[..] else { panic!("{:?}", captured.logs()) };
    /// assert_eq!(placed.body(), Some("order placed"));
    /// assert_eq!(placed.attr("order"), Some(&opentelemetry::Value::I64(7)));
    /// assert_eq!(placed.span().map(|s| s.name()), Some("checkout"));
    /// ```
    pub fn logs(&self) -> Vec<CapturedLog<'_>> {
        self.logs
            .iter()
            .map(|record| CapturedLog {
                captured: self,
                record,
            })
            .collect()
    }

    /// The instrument `name` of the function metrics the code's calls recorded (`function.calls`,
    /// `function.calls.duration`, `function.calls.concurrent`), with its points; see
    /// [`CapturedMetric::point`].
    ///
    /// # Panics
    ///
    /// When the code recorded nothing on that instrument; the message lists the instruments there are.
    pub fn metric(&self, name: &str) -> &CapturedMetric {
        self.metrics
            .iter()
            .find(|metric| metric.name() == name)
            .unwrap_or_else(|| {
                let names: Vec<&str> = self.metrics.iter().map(CapturedMetric::name).collect();
                panic!("no metric named {name:?} was captured; captured: {names:?}")
            })
    }

    /// Every captured instrument.
    pub fn metrics(&self) -> &[CapturedMetric] {
        &self.metrics
    }

    /// The captured span of these ids.
    pub(super) fn span_with_ids(
        &self,
        trace_id: TraceId,
        span_id: SpanId,
    ) -> Option<CapturedSpan<'_>> {
        self.spans
            .iter()
            .position(|span| {
                span.span_context.trace_id() == trace_id && span.span_context.span_id() == span_id
            })
            .map(|index| self.at(index))
    }

    /// Every captured span, in the order they started.
    pub fn spans(&self) -> Vec<CapturedSpan<'_>> {
        (0..self.spans.len()).map(|index| self.at(index)).collect()
    }

    /// The spans without a captured parent (roots, and spans whose parent is in another process), in start order.
    pub fn roots(&self) -> Vec<CapturedSpan<'_>> {
        (0..self.spans.len())
            .filter(|index| self.parents[*index].is_none())
            .map(|index| self.at(index))
            .collect()
    }

    /// The only span named `name`.
    ///
    /// # Panics
    ///
    /// When there is no span of that name, or more than one; the message lists the names captured.
    pub fn span(&self, name: &str) -> CapturedSpan<'_> {
        let found = self.spans_named(name);
        match found.as_slice() {
            [only] => *only,
            [] => panic!(
                "no span named {name:?} was captured; captured: {}",
                self.names()
            ),
            many => panic!(
                "{} spans named {name:?} were captured, expected one (use spans_named); captured: {}",
                many.len(),
                self.names()
            ),
        }
    }

    /// Every span named `name`, in start order.
    pub fn spans_named(&self, name: &str) -> Vec<CapturedSpan<'_>> {
        (0..self.spans.len())
            .filter(|index| self.spans[*index].name == name)
            .map(|index| self.at(index))
            .collect()
    }

    /// The pipeline's counters at the end of the capture: how many spans were exported, dropped or failed.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn at(&self, index: usize) -> CapturedSpan<'_> {
        CapturedSpan {
            captured: self,
            index,
        }
    }

    fn names(&self) -> String {
        let names: Vec<&str> = self.spans.iter().map(|span| span.name.as_ref()).collect();
        if names.is_empty() {
            "nothing".to_owned()
        } else {
            format!("{names:?}")
        }
    }
}

/// The trace id as a map key.
fn trace_key(context: &SpanContext) -> u128 {
    u128::from_be_bytes(context.trace_id().to_bytes())
}

/// One captured span, with its place in the tree.
#[derive(Clone, Copy)]
pub struct CapturedSpan<'a> {
    captured: &'a Captured,
    index: usize,
}

impl<'a> CapturedSpan<'a> {
    fn data(&self) -> &'a SpanData {
        &self.captured.spans[self.index]
    }

    /// The span's name.
    pub fn name(&self) -> &'a str {
        &self.data().name
    }

    /// The span's kind.
    pub fn kind(&self) -> &'a SpanKind {
        &self.data().span_kind
    }

    /// The span's status: unset, ok, or an error with its description.
    pub fn status(&self) -> &'a Status {
        &self.data().status
    }

    /// True when the status is an error.
    pub fn is_error(&self) -> bool {
        matches!(self.status(), Status::Error { .. })
    }

    /// The value of the attribute `key`, with its type.
    pub fn attr(&self, key: &str) -> Option<&'a Value> {
        self.attributes()
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// Every attribute, as recorded.
    pub fn attributes(&self) -> &'a [KeyValue] {
        &self.data().attributes
    }

    /// The span's events (an `Err` or a panic is an `exception` event), in order.
    pub fn events(&self) -> &'a [Event] {
        &self.data().events.events
    }

    /// The span's links.
    pub fn links(&self) -> &'a [Link] {
        &self.data().links.links
    }

    /// The parent span, when it was captured too.
    pub fn parent(&self) -> Option<CapturedSpan<'a>> {
        self.captured.parents[self.index].map(|index| self.captured.at(index))
    }

    /// The children, in the order they started.
    pub fn children(&self) -> Vec<CapturedSpan<'a>> {
        self.captured.children[self.index]
            .iter()
            .map(|index| self.captured.at(*index))
            .collect()
    }

    /// The span's ids and flags, for the few tests that need them (links, propagation).
    pub fn span_context(&self) -> &'a SpanContext {
        &self.data().span_context
    }

    /// The id of the parent span (invalid for a root), captured or not: a remote parent's id, for example.
    pub fn parent_span_id(&self) -> SpanId {
        self.data().parent_span_id
    }
}

impl std::fmt::Debug for CapturedSpan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapturedSpan")
            .field("name", &self.name())
            .field("kind", self.kind())
            .field("status", self.status())
            .field("attributes", &self.attributes())
            .field("events", &self.events())
            .finish_non_exhaustive()
    }
}
