//! The spans of this process whose context went out in a carrier (an outgoing request's headers, a message's
//! metadata), remembered while a console exporter draws traces.
//!
//! A span with a remote parent is where a trace entered this process, unless that parent is one of these: then
//! it is a hop inside the process (a service calling itself, a client and a server in one program), and the
//! console draws it under its parent, in the waterfall of the whole trace, rather than as a tree of its own. The
//! hop's server span ends before the client span that sent it, so the exporter cannot learn this from the spans
//! it is given; the carrier side tells it here.
//!
//! At the bottom of the runtime, like `stats`: `propagation` writes it, `export::console` reads it. Without a
//! console exporter nothing is remembered, and an injection pays one atomic load.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use opentelemetry::trace::{SpanContext, SpanId, TraceId};

/// How many propagated spans are remembered; a hop whose parent was forgotten (after this many other requests
/// went out meanwhile) is drawn as a tree of its own, as it was before.
const CAPACITY: usize = 4_096;

static WATCHING: AtomicBool = AtomicBool::new(false);
static RECENT: Mutex<Recent> = Mutex::new(Recent {
    order: VecDeque::new(),
    set: None,
});

struct Recent {
    order: VecDeque<(TraceId, SpanId)>,
    /// `None` until the first entry: `HashSet::new` is not `const`.
    set: Option<HashSet<(TraceId, SpanId)>>,
}

/// Starts remembering: a console exporter exists.
pub(crate) fn watch() {
    WATCHING.store(true, Ordering::Relaxed);
}

/// Remembers that `span_context` was written into a carrier.
pub(crate) fn remember(span_context: &SpanContext) {
    if !WATCHING.load(Ordering::Relaxed) || !span_context.is_valid() {
        return;
    }
    let id = (span_context.trace_id(), span_context.span_id());
    let mut recent = RECENT.lock().unwrap_or_else(PoisonError::into_inner);
    let Recent { order, set } = &mut *recent;
    if set.get_or_insert_with(HashSet::new).insert(id) {
        order.push_back(id);
        if order.len() > CAPACITY {
            if let Some(oldest) = order.pop_front() {
                set.as_mut().map(|set| set.remove(&oldest));
            }
        }
    }
}

/// True when the span `span_id` of `trace_id` was propagated from this process (recently).
pub(crate) fn contains(trace_id: TraceId, span_id: SpanId) -> bool {
    let recent = RECENT.lock().unwrap_or_else(PoisonError::into_inner);
    recent
        .set
        .as_ref()
        .is_some_and(|set| set.contains(&(trace_id, span_id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{TraceFlags, TraceState};

    fn context(trace: u128, span: u64) -> SpanContext {
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        )
    }

    #[test]
    fn remembers_the_most_recent_propagated_spans() {
        // A trace id of this test's own: other tests of the binary remember spans too.
        let trace = 0x7e57_0000_0000_0000_0000_0000_0000_0001;
        watch();
        remember(&context(trace, 1));
        assert!(contains(TraceId::from(trace), SpanId::from(1)));
        assert!(!contains(TraceId::from(trace), SpanId::from(2)));
        for span in 2..=(CAPACITY as u64 + 1) {
            remember(&context(trace, span));
        }
        assert!(
            !contains(TraceId::from(trace), SpanId::from(1)),
            "forgotten"
        );
        assert!(contains(
            TraceId::from(trace),
            SpanId::from(CAPACITY as u64 + 1)
        ));
        // An invalid context is never remembered.
        remember(&SpanContext::empty_context());
        assert!(!contains(TraceId::INVALID, SpanId::INVALID));
    }
}
