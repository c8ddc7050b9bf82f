//! The bounded queue between the application's threads and the export thread, shared by every signal: spans and
//! log records go through the same discipline (never block, drop and count when full).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::config::BatchConfig;
use crate::stats::SignalStats;

/// After this many refused spans in a row, a push checks whether the process was forked: a child's queue can be
/// full from the start (nobody drains it), so the checks a push does on its way to a batch never come.
const REFUSALS_PER_FORK_CHECK: u32 = 1_024;

/// A vector behind a mutex, which the export thread swaps out whole. The export thread is woken when a batch is
/// ready, not per item: with a channel that wakes its receiver on every send, the wake-up (a system call on both
/// sides) cost more than the span.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    state: Mutex<QueueState<T>>,
    /// Items the emptiest exporter lane holds: the queue takes items while some exporter has room for them.
    buffered: AtomicUsize,
    pub(super) ready: Notify,
}

#[derive(Debug)]
struct QueueState<T> {
    items: Vec<T>,
    /// Set by shutdown: later items are dropped (and counted).
    closed: bool,
    /// `OTEL_BSP_MAX_QUEUE_SIZE` / `OTEL_BLRP_MAX_QUEUE_SIZE`: what the queue and an exporter's lane hold
    /// together.
    capacity: usize,
    /// The batch size: the length at which the export thread is woken.
    batch: usize,
    /// The signal's counters of the pipeline draining the queue.
    stats: Arc<SignalStats>,
    /// The process whose export thread drains the queue: another one is a forked child.
    pid: u32,
    refusals: u32,
}

/// What a push did.
pub(super) struct Pushed<T> {
    /// The item, given back when the queue was full or closed (already counted as dropped).
    pub(super) refused: Option<T>,
    /// The pid of the process that drains the queue, when this push is one that checks for a fork (a getpid is
    /// a system call, 300 ns on this machine: a few pushes per batch check, not every one).
    pub(super) check_pid: Option<u32>,
}

impl<T> Queue<T> {
    /// An open queue, drained by the export thread of process `pid`.
    pub(super) fn new(batch: &BatchConfig, stats: Arc<SignalStats>, pid: u32) -> Queue<T> {
        Queue {
            state: Mutex::new(QueueState {
                items: Vec::with_capacity(batch.max_queue_size),
                closed: false,
                capacity: batch.max_queue_size,
                batch: batch.max_export_batch_size,
                stats,
                pid,
                refusals: 0,
            }),
            buffered: AtomicUsize::new(0),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState<T>> {
        // A panic while holding the lock cannot leave the vector inconsistent: keep using it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `item`, or gives it back when the queue is full or closed; either way the item is counted. Never
    /// blocks longer than the lock.
    pub(super) fn push(&self, item: T) -> Pushed<T> {
        let mut state = self.lock();
        let buffered = self.buffered.load(Ordering::Relaxed);
        if state.closed || state.items.len() + buffered >= state.capacity {
            state.stats.refused(1);
            state.refusals += 1;
            let check = state.refusals >= REFUSALS_PER_FORK_CHECK;
            if check {
                state.refusals = 0;
            }
            return Pushed {
                refused: Some(item),
                check_pid: check.then_some(state.pid),
            };
        }
        state.stats.accepted();
        state.refusals = 0;
        state.items.push(item);
        let len = state.items.len();
        // A batch is ready, or the queue just filled up (with a large lane it may never hold a whole batch).
        let batch_ready = len == state.batch || len + buffered == state.capacity;
        // The first item after the export thread took the others: once per batch in a running pipeline.
        let check = batch_ready || len == 1;
        let pid = state.pid;
        drop(state);
        if batch_ready {
            self.ready.notify_one();
        }
        Pushed {
            refused: None,
            check_pid: check.then_some(pid),
        }
    }

    /// Moves every queued item into `into` (empty), which gives the queue its vector in exchange, so neither
    /// side allocates in the steady state. `close` closes the queue for good (until reopened).
    pub(super) fn take(&self, into: &mut Vec<T>, close: bool) {
        let mut state = self.lock();
        state.closed |= close;
        std::mem::swap(&mut state.items, into);
    }

    /// Moves the first `count` queued items into `into` (empty) if the queue holds that many, and nothing
    /// otherwise: what came after them stays queued (moved into `into`'s old vector, a few items: those that came
    /// while the export thread woke up), so a lane gets whole batches it can send without moving a span. Returns
    /// whether it took them.
    pub(super) fn take_first(&self, into: &mut Vec<T>, count: usize) -> bool {
        let mut state = self.lock();
        if state.items.len() < count {
            return false;
        }
        std::mem::swap(&mut state.items, into);
        state.items.extend(into.drain(count..));
        true
    }

    /// Tells the queue how many items the emptiest exporter lane holds.
    pub(super) fn set_buffered(&self, spans: usize) {
        self.buffered.store(spans, Ordering::Relaxed);
    }

    /// True once shutdown closed the queue.
    pub(super) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Opens the queue for a new pipeline in process `pid`, with its settings and counters. The items it still
    /// held (in a forked child: the parent's, which the parent exports, and the child's first ones) are
    /// discarded and counted as dropped in `stats`; their number is returned.
    pub(super) fn reopen(&self, batch: &BatchConfig, stats: Arc<SignalStats>, pid: u32) -> usize {
        let mut state = self.lock();
        let discarded = std::mem::take(&mut state.items);
        stats.refused(discarded.len() as u64);
        state.items.reserve(batch.max_queue_size);
        state.closed = false;
        state.capacity = batch.max_queue_size;
        state.batch = batch.max_export_batch_size;
        state.stats = stats;
        state.pid = pid;
        state.refusals = 0;
        drop(state);
        self.buffered.store(0, Ordering::Relaxed);
        discarded.len()
    }

    /// Closes the queue in a process that has no export thread for it: what it held is discarded and counted as
    /// dropped, as is every later item.
    pub(super) fn close_orphaned(&self, pid: u32) -> usize {
        let mut state = self.lock();
        let discarded = std::mem::take(&mut state.items);
        state.stats.refused(discarded.len() as u64);
        state.closed = true;
        state.pid = pid;
        discarded.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_first_takes_a_batch_or_nothing_and_keeps_the_rest_in_order() {
        let batch = BatchConfig {
            max_queue_size: 16,
            max_export_batch_size: 4,
            ..BatchConfig::default()
        };
        let queue = Queue::new(&batch, Arc::new(SignalStats::default()), std::process::id());
        for item in 0..3 {
            assert!(queue.push(item).refused.is_none());
        }
        let mut into = Vec::with_capacity(16);
        assert!(
            !queue.take_first(&mut into, 4),
            "three items are not a batch of four"
        );
        assert!(into.is_empty());
        for item in 3..6 {
            queue.push(item);
        }
        assert!(queue.take_first(&mut into, 4));
        assert_eq!(into, [0, 1, 2, 3]);
        // The rest is still queued, first at the next take.
        queue.push(6);
        let mut rest = Vec::new();
        queue.take(&mut rest, false);
        assert_eq!(rest, [4, 5, 6]);
    }
}
