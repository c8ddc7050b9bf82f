//! Tail sampling in the process ([`TailSampling`]): a stage on the export thread, where the batch worker takes
//! spans from the queue ([`Batches::admit`](crate::export::batch::Batches::admit)), before they are prepared and
//! shared out to the exporters' lanes, that holds the spans of each trace until its local root ends, then lets the whole local
//! trace through to the exporters, or none of it.
//!
//! Why the export thread: it sees every finished span in one place, so the application's threads take no lock and
//! do no more than under head sampling (record the span, queue it), and nothing discarded is ever prepared
//! (redaction, limits) or encoded. What the span layer knows and `SpanData` cannot carry (did the remote parent
//! arrive sampled?) comes with the span in the queue ([`ExportSpan::parent_sampled`]).
//!
//! Bounds:
//! - **memory**: at most `max_spans` spans are held; one more and the oldest waiting trace is decided at once, by
//!   `ratio` (counted in `tail_overflow`). The verdicts of the last `max_spans` traces decided are remembered
//!   (about 100 bytes each), so that spans ending after their local root (a detached task) follow it; beyond
//!   that memory such a span waits like the first span of a new trace, and is decided without its root;
//! - **time**: a trace whose local root has not ended one export timeout after its first span arrived is decided
//!   without it (an error seen so far keeps it, else `ratio`), at the batch worker's next take (a lane runs low,
//!   or the schedule delay passed);
//! - **flush** exports what is decided and leaves the traces whose local root is still running (they are not
//!   finished); **shutdown** decides every held trace as the timeout does, within its deadline.
//!
//! Counts: a held span is still `queued` (the queue took it, no exporter has answered for it); a discarded one
//! leaves `queued` for `tail_discarded`, in the spans' counters, and no exporter ever sees it; a kept one goes on
//! to the lanes and is counted by them as any other.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::trace::{Link, SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample, SpanData};

use crate::export::span::ExportSpan;
use traced_conventions::sampling::{ERROR, PARENT, RATIO, SAMPLING_REASON, SLOW};

use self::id_hash::IdHash;
use super::sampling::{keeps, ratio_bound};
use crate::config::TailSampling;
use crate::stats::{SharedStats, Signal};

/// Why a trace was kept, in the order the rules are asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    Error,
    Slow,
    Parent,
    Ratio,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Error => ERROR,
            Reason::Slow => SLOW,
            Reason::Parent => PARENT,
            Reason::Ratio => RATIO,
        }
    }
}

/// `Some(reason)`: kept; `None`: discarded.
type Verdict = Option<Reason>;

/// The stage; see the module documentation.
#[derive(Debug)]
pub(crate) struct Tail {
    rules: Rules,
    max_spans: usize,
    /// How long a trace waits for its local root: the export timeout.
    patience: Duration,
    /// What is known of each trace: waiting for its local root, or decided (for the spans that end later). One
    /// map, so that a span costs one lookup, and a decision changes its trace's entry in place.
    traces: HashMap<TraceId, Trace, IdHash>,
    /// The waiting traces by arrival of their first span, oldest first: the next to time out or overflow.
    waiting: BTreeMap<u64, TraceId>,
    next_arrival: u64,
    /// Spans held, over every waiting trace.
    held: usize,
    /// The decided traces, oldest first: past `max_spans` of them, the oldest verdict is forgotten.
    decided: VecDeque<TraceId>,
    stats: Arc<SharedStats>,
}

#[derive(Debug)]
enum Trace {
    Waiting(Waiting),
    Decided(Verdict),
}

/// Why a trace is decided before its local root ends.
#[derive(Clone, Copy)]
enum Early {
    /// More than `max_spans` spans are held: by ratio alone.
    Overflow,
    /// If its deadline passed by then.
    Due(Instant),
    /// At shutdown.
    Close,
}

#[derive(Debug)]
struct Waiting {
    spans: Vec<ExportSpan>,
    /// One of `spans` has status ERROR.
    error: bool,
    /// Its key in [`Tail::waiting`].
    arrival: u64,
    /// When it is decided without its local root.
    deadline: Instant,
}

/// The rules of [`TailSampling`].
#[derive(Debug)]
struct Rules {
    errors: bool,
    slow: Option<Duration>,
    /// `ratio` as the `traceidratio` rule's bound.
    bound: u64,
}

impl Rules {
    /// The verdict on a trace whose local root just ended.
    fn judge(&self, root: &SpanData, error: bool, parent_sampled: bool) -> Verdict {
        let lasted = root
            .end_time
            .duration_since(root.start_time)
            .unwrap_or_default();
        if self.errors && error {
            Some(Reason::Error)
        } else if self.slow.is_some_and(|slow| lasted >= slow) {
            Some(Reason::Slow)
        } else if parent_sampled {
            Some(Reason::Parent)
        } else {
            self.by_ratio(root.span_context.trace_id())
        }
    }

    /// The verdict on a trace whose local root did not come in time (or not before shutdown).
    fn without_root(&self, trace_id: TraceId, error: bool) -> Verdict {
        if self.errors && error {
            Some(Reason::Error)
        } else {
            self.by_ratio(trace_id)
        }
    }

    /// The `traceidratio` rule: the same trace id gets the same verdict in every process.
    fn by_ratio(&self, trace_id: TraceId) -> Verdict {
        keeps(self.bound, trace_id).then_some(Reason::Ratio)
    }
}

impl Tail {
    /// The stage for `config`; traces wait at most `patience` for their local root.
    pub(crate) fn new(config: &TailSampling, patience: Duration, stats: Arc<SharedStats>) -> Self {
        Tail {
            rules: Rules {
                errors: config.errors,
                slow: config.slow,
                bound: ratio_bound(config.ratio),
            },
            max_spans: config.max_spans.max(1),
            patience,
            traces: HashMap::with_hasher(IdHash::new()),
            waiting: BTreeMap::new(),
            next_arrival: 0,
            held: 0,
            decided: VecDeque::new(),
            stats,
        }
    }

    /// Takes the spans just taken from the queue and puts those of the traces decided now (or earlier, for the
    /// late ones) into `out`; holds the others. Decides the traces whose local root did not come in time, and,
    /// if `close`, every trace still held.
    pub(crate) fn admit(
        &mut self,
        taken: impl IntoIterator<Item = ExportSpan>,
        out: &mut impl Extend<ExportSpan>,
        close: bool,
        now: Instant,
    ) {
        for span in taken {
            self.accept(span, out, now);
        }
        self.expire(out, close, now);
    }

    fn accept(&mut self, mut span: ExportSpan, out: &mut impl Extend<ExportSpan>, now: Instant) {
        let parent_sampled = span.parent_sampled;
        let trace_id = span.data.span_context.trace_id();
        // The first span of the trace in this process: no parent here.
        let local_root =
            span.data.parent_span_id == SpanId::INVALID || span.data.parent_span_is_remote;
        let error = is_error(&span.data);
        let (verdict, earlier) = match self.traces.entry(trace_id) {
            Entry::Occupied(mut entry) => match entry.get_mut() {
                // A late span, or another local root of a decided trace: the verdict stands.
                Trace::Decided(verdict) => {
                    let verdict = *verdict;
                    if let (true, Some(reason)) = (local_root, verdict) {
                        mark(&mut span.data, reason);
                    }
                    self.release(verdict, [span], out);
                    return;
                }
                Trace::Waiting(waiting) if !local_root => {
                    waiting.error |= error;
                    waiting.spans.push(span);
                    self.held += 1;
                    self.overflow(out);
                    return;
                }
                Trace::Waiting(waiting) => {
                    let verdict =
                        self.rules
                            .judge(&span.data, waiting.error || error, parent_sampled);
                    let earlier = std::mem::take(&mut waiting.spans);
                    self.waiting.remove(&waiting.arrival);
                    self.held -= earlier.len();
                    entry.insert(Trace::Decided(verdict));
                    (verdict, earlier)
                }
            },
            Entry::Vacant(entry) if local_root => {
                let verdict = self.rules.judge(&span.data, error, parent_sampled);
                entry.insert(Trace::Decided(verdict));
                (verdict, Vec::new())
            }
            Entry::Vacant(entry) => {
                let arrival = self.next_arrival;
                self.next_arrival += 1;
                self.waiting.insert(arrival, trace_id);
                entry.insert(Trace::Waiting(Waiting {
                    spans: vec![span],
                    error,
                    arrival,
                    deadline: now + self.patience,
                }));
                self.held += 1;
                self.overflow(out);
                return;
            }
        };
        if let Some(reason) = verdict {
            mark(&mut span.data, reason);
        }
        self.decided(trace_id, verdict, earlier.into_iter().chain([span]), out);
    }

    /// While more than `max_spans` spans are held, decides the oldest waiting trace, by ratio.
    fn overflow(&mut self, out: &mut impl Extend<ExportSpan>) {
        while self.held > self.max_spans && self.decide_oldest(Early::Overflow, out) {
            self.stats.tail.overflow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Decides the traces that waited too long for their local root, oldest first (their deadlines come in the
    /// order they arrived), and every waiting trace if `close`.
    fn expire(&mut self, out: &mut impl Extend<ExportSpan>, close: bool, now: Instant) {
        let early = if close { Early::Close } else { Early::Due(now) };
        while self.decide_oldest(early, out) {}
    }

    /// Decides the oldest waiting trace without its local root, if `early` says so; false when it does not.
    fn decide_oldest(&mut self, early: Early, out: &mut impl Extend<ExportSpan>) -> bool {
        let Some((_, &trace_id)) = self.waiting.first_key_value() else {
            return false;
        };
        let Some(trace) = self.traces.get_mut(&trace_id) else {
            // Never: `waiting` lists waiting traces only. Drop the id rather than stop on it.
            self.waiting.pop_first();
            return true;
        };
        let Trace::Waiting(waiting) = &mut *trace else {
            self.waiting.pop_first();
            return true;
        };
        let verdict = match early {
            Early::Overflow => self.rules.by_ratio(trace_id),
            Early::Due(now) if waiting.deadline > now => return false,
            Early::Due(_) | Early::Close => self.rules.without_root(trace_id, waiting.error),
        };
        let spans = std::mem::take(&mut waiting.spans);
        *trace = Trace::Decided(verdict);
        self.waiting.pop_first();
        self.held -= spans.len();
        self.decided(trace_id, verdict, spans, out);
        true
    }

    /// Counts a trace just decided, remembers its verdict (forgetting the oldest past `max_spans`), and lets its
    /// spans through or drops them.
    fn decided(
        &mut self,
        trace_id: TraceId,
        verdict: Verdict,
        spans: impl IntoIterator<Item = ExportSpan>,
        out: &mut impl Extend<ExportSpan>,
    ) {
        if let Some(reason) = verdict {
            let tail = &self.stats.tail;
            let counter = match reason {
                Reason::Error => &tail.kept_error,
                Reason::Slow => &tail.kept_slow,
                Reason::Parent => &tail.kept_parent,
                Reason::Ratio => &tail.kept_ratio,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.decided.push_back(trace_id);
        if self.decided.len() > self.max_spans {
            if let Some(oldest) = self.decided.pop_front() {
                if let Entry::Occupied(entry) = self.traces.entry(oldest) {
                    if matches!(entry.get(), Trace::Decided(_)) {
                        entry.remove();
                    }
                }
            }
        }
        self.release(verdict, spans, out);
    }

    /// Spans of a decided trace: to the exporters if it is kept, discarded (and counted) if not.
    fn release(
        &self,
        verdict: Verdict,
        spans: impl IntoIterator<Item = ExportSpan>,
        out: &mut impl Extend<ExportSpan>,
    ) {
        if verdict.is_some() {
            out.extend(spans);
        } else {
            let discarded = spans.into_iter().count() as u64;
            self.stats.of(Signal::Spans).discarded(discarded);
        }
    }
}

fn is_error(span: &SpanData) -> bool {
    matches!(span.status, Status::Error { .. })
}

/// Says on a local root why its trace was kept.
fn mark(root: &mut SpanData, reason: Reason) {
    root.attributes
        .push(KeyValue::new(SAMPLING_REASON, reason.as_str()));
}

/// The SDK tracer provider's sampler with tail sampling on, for spans made with the OpenTelemetry API: what the
/// head sampler drops is recorded all the same, not sampled (so the flag propagated downstream is the head
/// sampler's), for the stage to decide on.
#[derive(Clone, Debug)]
pub(crate) struct RecordDropped(pub(crate) Sampler);

impl ShouldSample for RecordDropped {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let mut result =
            self.0
                .should_sample(parent_context, trace_id, name, span_kind, attributes, links);
        if matches!(result.decision, SamplingDecision::Drop) {
            result.decision = SamplingDecision::RecordOnly;
        }
        result
    }
}

mod id_hash;
#[cfg(test)]
mod tests;
