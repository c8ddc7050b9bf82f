//! One exporter's lane on the export thread: its share of the queue, its export slots, its counters and its
//! error log. Lanes share nothing but the items they are given, so a dead or slow exporter fills its own share
//! and holds its own slots while the others go on.

use std::collections::VecDeque;
use std::sync::Arc;

use super::error_log::ErrorLog;
use super::fanout::Ticket;
use super::DynExporter;
use crate::stats::ExporterCounters;

/// Exports in flight at once, per exporter. With one, the lane waits a whole round trip to the collector per
/// batch while its share of the queue overflows; with a few, the next batch is encoded and sent during that
/// wait. Items a lane holds beyond its share of the queue: at most this many batches.
pub(super) const MAX_CONCURRENT_EXPORTS: usize = 4;

#[derive(Debug)]
pub(super) struct Lane<T> {
    /// Shared with the lane's exports under way; only setting the resource needs it alone.
    pub(super) exporter: Arc<dyn DynExporter<T>>,
    pub(super) counters: Arc<ExporterCounters>,
    /// Items waiting for an export slot, oldest first, each with its ticket.
    items: VecDeque<(T, Ticket)>,
    /// Exports of this lane under way.
    pub(super) in_flight: usize,
    pub(super) errors: ErrorLog,
}

impl<T> Lane<T> {
    /// A lane with room for `capacity` items; `what` names them in the error log (`span`, `log record`).
    pub(super) fn new(
        exporter: Box<dyn DynExporter<T>>,
        counters: Arc<ExporterCounters>,
        capacity: usize,
        what: &'static str,
    ) -> Self {
        Lane {
            exporter: Arc::from(exporter),
            counters,
            items: VecDeque::with_capacity(capacity),
            in_flight: 0,
            errors: ErrorLog::new(what),
        }
    }

    pub(super) fn name(&self) -> &'static str {
        self.exporter.name()
    }

    /// Items waiting in this lane.
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// True while an export slot is free.
    pub(super) fn has_slot(&self) -> bool {
        self.in_flight < MAX_CONCURRENT_EXPORTS
    }

    pub(super) fn push(&mut self, item: T, ticket: Ticket) {
        self.items.push_back((item, ticket));
    }

    /// The next batch, at most `max` items, from the front. Each vector allocated once at its size: grown item by
    /// item, a batch of spans was copied into fresh memory eight times (most of the export thread's page
    /// faults, once the requests' buffers were kept).
    pub(super) fn next_batch(&mut self, max: usize) -> (Vec<T>, Vec<Ticket>) {
        let take = self.items.len().min(max);
        let mut batch = Vec::with_capacity(take);
        let mut tickets = Vec::with_capacity(take);
        for (item, ticket) in self.items.drain(..take) {
            batch.push(item);
            tickets.push(ticket);
        }
        (batch, tickets)
    }

    /// Every item still waiting, for a deadline that passed.
    pub(super) fn drain(&mut self) -> Vec<Ticket> {
        self.items.drain(..).map(|(_, ticket)| ticket).collect()
    }
}
