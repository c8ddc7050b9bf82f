//! A span exporter for local development: each finished trace is printed on the terminal as a waterfall.
//!
//! ```text
//! trace 4bf92f3577b34da6a3ce929d0e0e4736 · checkout · 120ms · 4 spans
//! GET /checkout        120ms  ████████████████████████████████████████  server method=GET route=/checkout status=500
//! ├─ load_cart        30.0ms  ··········██████████····················  cart.items=3
//! │  └─ SELECT carts  20.0ms  ···········████████·····················  client db=postgresql
//! └─ charge ✗         60.0ms  ····················████████████████████  client card declined error.type=CardDeclined
//!      ◆ exception                                                   ◆  CardDeclined: insufficient funds
//! ```
//!
//! Spans are held back by trace until the root span of their trace (one without a parent, or with a remote parent
//! in another process) has ended, so that a trace is printed whole, as one waterfall, and is not interleaved with
//! others. A span whose remote parent is a span of this process (a request this process sent to itself) is a hop
//! inside the trace: it is drawn under its parent. Spans that end after their parent
//! was printed are printed as soon as they end. [`force_flush`](SpanExporter::force_flush) and
//! [`shutdown`](SpanExporter::shutdown) print whatever is still held back, and at most
//! [`DEFAULT_BUFFER_CAPACITY`] spans are held back, after which the oldest traces are printed as they are.
//!
//! With `OTEL_LOGS_EXPORTER=console` too, each log record is printed under the span it was logged in (`▪ INFO
//! ...`); a record outside any trace, or whose span was printed already, gets a line of its own.

mod waterfall;

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsStr;
use std::fmt;
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::Key;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use waterfall::Completeness;

use super::budget::Budget;
use super::log_record::LogRecord;
use super::{Delivery, DeliveryFuture, DynExporter};

/// How many spans [`ConsoleExporter`] holds back, waiting for the roots of their traces, before it prints the oldest
/// traces incomplete.
pub const DEFAULT_BUFFER_CAPACITY: usize = 10_000;

/// How many printed spans are remembered, so that a span ending after its parent was printed is printed at once
/// instead of waiting for a root that has come and gone.
const PRINTED_MEMORY: usize = 4_096;

/// Prints each finished trace as a waterfall: the span tree, durations, a bar per span on the time axis of the
/// trace, errors and key attributes. Meant for local development; see the [module documentation](self).
///
/// ```
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use traced::exporter::console::ConsoleExporter;
///
/// let provider = SdkTracerProvider::builder().with_simple_exporter(ConsoleExporter::new()).build();
/// # drop(provider);
/// ```
///
/// Clones share what is held back and print to the same writer.
#[derive(Clone)]
pub struct ConsoleExporter {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    colour: bool,
}

struct State {
    capacity: usize,
    service: Option<String>,
    /// Log records waiting for their span (only while spans are printed too).
    records: Vec<LogRecord>,
    /// Spans are printed by this exporter: records wait for them.
    with_spans: bool,
    writer: Box<dyn Write + Send>,
    /// Spans waiting for the root of their trace.
    pending: HashMap<TraceId, PendingTrace>,
    /// Spans in `pending`, all traces together.
    buffered: usize,
    /// Arrival counter, so that a full buffer prints the oldest trace first.
    next_seq: u64,
    printed: PrintedSpans,
    shut_down: bool,
}

struct PendingTrace {
    seq: u64,
    spans: Vec<SpanData>,
}

impl ConsoleExporter {
    /// Writes to standard output, in colour when it is a terminal, unless `NO_COLOR` is set (<https://no-color.org>)
    /// or `TERM` is `dumb`.
    pub fn new() -> Self {
        let colour = colour_wanted(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        );
        Self::with_writer(Box::new(std::io::stdout()), colour)
    }

    /// Writes to `writer`, with ANSI colours when `colour` is set. What one export prints goes out in one
    /// `write_all` followed by a flush, so that log lines written meanwhile do not cut through a trace.
    pub fn with_writer(writer: Box<dyn Write + Send>, colour: bool) -> Self {
        crate::propagated::watch();
        ConsoleExporter {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    capacity: DEFAULT_BUFFER_CAPACITY,
                    service: None,
                    records: Vec::new(),
                    with_spans: false,
                    writer,
                    pending: HashMap::new(),
                    buffered: 0,
                    next_seq: 0,
                    printed: PrintedSpans::default(),
                    shut_down: false,
                }),
                colour,
            }),
        }
    }

    /// Holds back at most `spans` spans (default [`DEFAULT_BUFFER_CAPACITY`]); past it, the oldest traces are
    /// printed as they are.
    #[must_use]
    pub fn with_buffer_capacity(self, spans: usize) -> Self {
        self.state().capacity = spans;
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state()
    }

    fn accept(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut state = self.state();
        if state.shut_down {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        // Only a local root or a span whose parent was printed can start something printable. Deciding this
        // before holding the batch is exact: a span whose parent is printed by this very batch goes with it.
        let tops: Vec<(TraceId, SpanId)> = batch
            .iter()
            .filter(|s| {
                (is_local_root(s) && !is_hop(s))
                    || state
                        .printed
                        .contains(s.span_context.trace_id(), s.parent_span_id)
            })
            .map(|s| (s.span_context.trace_id(), s.span_context.span_id()))
            .collect();
        for span in batch {
            state.hold(span);
        }
        let mut out = String::new();
        // After the whole batch is held, so that a root sees the children that came with it, in any order.
        for (trace_id, span_id) in tops {
            if let Some(spans) = state.take_subtree(trace_id, span_id) {
                let completeness = if is_local_root(&spans[0]) {
                    Completeness::Complete
                } else {
                    Completeness::Continued
                };
                out.push_str(&self.shared.render(&mut state, &spans, completeness));
            }
        }
        while state.buffered > state.capacity {
            let Some(spans) = state.take_oldest() else {
                break;
            };
            out.push_str(
                &self
                    .shared
                    .render(&mut state, &spans, Completeness::Incomplete),
            );
        }
        state.write(&out)
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the buffer consistent enough to print; losing spans is worse.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Prints every trace still held back, oldest first, then the records whose span never came.
    fn print_pending(&self, state: &mut State) -> OTelSdkResult {
        let mut out = String::new();
        while let Some(spans) = state.take_oldest() {
            out.push_str(&self.render(state, &spans, Completeness::Incomplete));
        }
        for record in std::mem::take(&mut state.records) {
            out.push_str(&waterfall::record_line(&record, self.colour));
        }
        state.write(&out)
    }

    /// Renders spans taken from the buffer with the records logged in them, and remembers them as printed.
    fn render(&self, state: &mut State, spans: &[SpanData], completeness: Completeness) -> String {
        let ids: HashSet<(TraceId, SpanId)> = spans
            .iter()
            .map(|s| (s.span_context.trace_id(), s.span_context.span_id()))
            .collect();
        let (records, waiting): (Vec<LogRecord>, Vec<LogRecord>) =
            std::mem::take(&mut state.records)
                .into_iter()
                .partition(|r| ids.contains(&(r.trace_id, r.span_id)));
        state.records = waiting;
        state.printed.remember(spans);
        waterfall::render(
            spans,
            &records,
            state.service.as_deref(),
            completeness,
            self.colour,
        )
    }

    /// Holds records until their span is printed, or prints them now: outside a trace, in a trace not sampled,
    /// after their span, or when no span is printed here.
    fn accept_records(&self, batch: Vec<LogRecord>) -> OTelSdkResult {
        let mut state = self.state();
        let mut out = String::new();
        for record in batch {
            let waits = state.with_spans
                && !state.shut_down
                && record.flags.is_sampled()
                && !state.printed.contains(record.trace_id, record.span_id);
            if waits {
                state.records.push(record);
            } else {
                out.push_str(&waterfall::record_line(&record, self.colour));
            }
        }
        // Bounded like the spans: past the capacity, the oldest records are printed as they are.
        let capacity = state.capacity;
        if state.records.len() > capacity {
            let excess = state.records.len() - capacity;
            for record in state.records.drain(..excess).collect::<Vec<_>>() {
                out.push_str(&waterfall::record_line(&record, self.colour));
            }
        }
        state.write(&out)
    }
}

impl State {
    fn hold(&mut self, span: SpanData) {
        let seq = self.next_seq;
        let trace = self
            .pending
            .entry(span.span_context.trace_id())
            .or_insert_with(|| PendingTrace {
                seq,
                spans: Vec::new(),
            });
        if trace.seq == seq {
            self.next_seq += 1;
        }
        trace.spans.push(span);
        self.buffered += 1;
    }

    /// Takes a held span and every held span below it; `None` if it was already taken, as part of the subtree of
    /// an earlier span of its batch. Held spans of other subtrees of the trace stay.
    fn take_subtree(&mut self, trace_id: TraceId, span_id: SpanId) -> Option<Vec<SpanData>> {
        let trace = self.pending.get_mut(&trace_id)?;
        let top = trace
            .spans
            .iter()
            .position(|s| s.span_context.span_id() == span_id)?;
        let taken = split_subtree(&mut trace.spans, top);
        if trace.spans.is_empty() {
            self.pending.remove(&trace_id);
        }
        self.buffered -= taken.len();
        Some(taken)
    }

    fn take_oldest(&mut self) -> Option<Vec<SpanData>> {
        let oldest = *self.pending.iter().min_by_key(|(_, t)| t.seq)?.0;
        let spans = self.pending.remove(&oldest)?.spans;
        self.buffered -= spans.len();
        Some(spans)
    }

    fn write(&mut self, out: &str) -> OTelSdkResult {
        if out.is_empty() {
            return Ok(());
        }
        self.writer
            .write_all(out.as_bytes())
            .and_then(|()| self.writer.flush())
            .map_err(|e| {
                OTelSdkError::InternalFailure(format!("console exporter: cannot write: {e}"))
            })
    }
}

/// Removes `spans[top]` and its held descendants from `spans` and returns them, `spans[top]` first. A held child
/// with a remote parent is followed too: it is a hop inside this process, waiting for its parent.
fn split_subtree(spans: &mut Vec<SpanData>, top: usize) -> Vec<SpanData> {
    let mut children: HashMap<SpanId, Vec<usize>> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        children.entry(span.parent_span_id).or_default().push(i);
    }
    let mut taken = vec![false; spans.len()];
    let mut stack = vec![top];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut taken[i], true) {
            continue;
        }
        stack.extend(
            children
                .get(&spans[i].span_context.span_id())
                .into_iter()
                .flatten(),
        );
    }
    let mut subtree = Vec::new();
    let mut kept = Vec::new();
    for (i, span) in spans.drain(..).enumerate() {
        if i == top {
            subtree.insert(0, span);
        } else if taken[i] {
            subtree.push(span);
        } else {
            kept.push(span);
        }
    }
    *spans = kept;
    subtree
}

/// The root of what this process recorded of a trace, or a hop inside it (see [`is_hop`]).
fn is_local_root(span: &SpanData) -> bool {
    span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote
}

/// A span whose remote parent is a span of this process, which sent its context out: it waits for that parent
/// and is drawn under it.
fn is_hop(span: &SpanData) -> bool {
    span.parent_span_is_remote
        && crate::propagated::contains(span.span_context.trace_id(), span.parent_span_id)
}

/// The most recently printed spans, first in first out.
#[derive(Default)]
struct PrintedSpans {
    order: VecDeque<(TraceId, SpanId)>,
    set: HashSet<(TraceId, SpanId)>,
}

impl PrintedSpans {
    fn remember(&mut self, spans: &[SpanData]) {
        for span in spans {
            let id = (span.span_context.trace_id(), span.span_context.span_id());
            if self.set.insert(id) {
                self.order.push_back(id);
            }
        }
        while self.order.len() > PRINTED_MEMORY {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    fn contains(&self, trace_id: TraceId, span_id: SpanId) -> bool {
        self.set.contains(&(trace_id, span_id))
    }
}

/// Colour on a terminal, unless the user said otherwise through the two conventions terminals share.
fn colour_wanted(is_terminal: bool, no_color: Option<&OsStr>, term: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty) && term != Some(OsStr::new("dumb"))
}

impl Default for ConsoleExporter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("ConsoleExporter")
            .field("colour", &self.shared.colour)
            .field("capacity", &state.capacity)
            .field("service", &state.service)
            .field("buffered", &state.buffered)
            .field("shut_down", &state.shut_down)
            .finish_non_exhaustive()
    }
}

impl SpanExporter for ConsoleExporter {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        // Rendering and writing are synchronous and quick; nothing to await.
        std::future::ready(self.accept(batch))
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        let mut state = self.state();
        if std::mem::replace(&mut state.shut_down, true) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.shared.print_pending(&mut state)
    }

    fn force_flush(&self) -> OTelSdkResult {
        let mut state = self.state();
        self.shared.print_pending(&mut state)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.state().service = resource
            .get(&Key::from_static_str("service.name"))
            .map(|v| v.as_str().into_owned());
    }
}

impl Drop for Shared {
    /// Prints what is still held back if the exporter is dropped without a shutdown: spans are never lost silently.
    fn drop(&mut self) {
        let mut state = self.state();
        if !state.shut_down || !state.records.is_empty() {
            // Nowhere to report a write error from a drop.
            let _ = self.print_pending(&mut state);
        }
    }
}

/// The logs side of a [`ConsoleExporter`]: records go to the same state as the spans, to print under them.
#[derive(Debug)]
pub(crate) struct ConsoleLogs(ConsoleExporter);

impl ConsoleLogs {
    /// Records for `console`; `with_spans` when the same exporter prints the spans, so records wait for them.
    pub(crate) fn new(console: ConsoleExporter, with_spans: bool) -> Self {
        console.state().with_spans = with_spans;
        ConsoleLogs(console)
    }
}

impl DynExporter<LogRecord> for ConsoleLogs {
    fn name(&self) -> &'static str {
        "console"
    }

    fn export(&self, batch: Vec<LogRecord>, _budget: Budget) -> DeliveryFuture<'_> {
        let len = batch.len();
        Box::pin(std::future::ready(Delivery::of(
            len,
            self.0.shared.accept_records(batch),
        )))
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        // The spans' shutdown prints what is held; records still waiting print when the last clone goes.
        Ok(())
    }

    fn set_resource(&mut self, _resource: &Resource) {}
}

#[cfg(test)]
mod tests;
