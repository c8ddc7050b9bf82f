//! Items taken from the queue (spans, log records), shared out to every exporter's lane, and each item's
//! outcome joined over the lanes, so that the pipeline's counts take every item once (see
//! [`Stats`](crate::Stats)) while each exporter keeps its own.
//!
//! Each take is a [`Cohort`]: per item, how many lanes have yet to answer for it and the worst outcome so far.
//! Every lane holds a [`Ticket`] beside its copy of the item; the lane answering last gives the item's outcome.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use crate::stats::Outcome;

/// The low byte of a slot: lanes still to answer; the high byte: the worst outcome so far.
const REMAINING: u16 = 0xFF;

/// The items of one take from the queue.
#[derive(Debug)]
pub(super) struct Cohort {
    slots: Box<[AtomicU16]>,
}

impl Cohort {
    /// `items` items, each given to `lanes` lanes (at most 255).
    pub(super) fn new(items: usize, lanes: usize) -> Arc<Cohort> {
        let lanes = u16::try_from(lanes).unwrap_or(REMAINING).min(REMAINING);
        Arc::new(Cohort {
            slots: (0..items).map(|_| AtomicU16::new(lanes)).collect(),
        })
    }
}

/// One lane's claim on one item of a cohort.
#[derive(Debug)]
pub(super) struct Ticket {
    cohort: Arc<Cohort>,
    index: usize,
}

impl Ticket {
    pub(super) fn new(cohort: &Arc<Cohort>, index: usize) -> Ticket {
        Ticket {
            cohort: cohort.clone(),
            index,
        }
    }

    /// Records what this lane did with the item; once every lane has answered, the item's outcome over all of
    /// them: the worst one.
    pub(super) fn resolve(self, outcome: Outcome) -> Option<Outcome> {
        let slot = &self.cohort.slots[self.index];
        // Only the export thread's worker touches the slots: a load and a store are enough.
        let old = slot.load(Ordering::Relaxed);
        let remaining = (old & REMAINING).saturating_sub(1);
        let worst = (old >> 8).max(rank(outcome));
        slot.store(worst << 8 | remaining, Ordering::Relaxed);
        (remaining == 0).then(|| unrank(worst))
    }
}

fn rank(outcome: Outcome) -> u16 {
    match outcome {
        Outcome::Exported => 0,
        Outcome::Dropped => 1,
        Outcome::Failed => 2,
    }
}

fn unrank(rank: u16) -> Outcome {
    match rank {
        0 => Outcome::Exported,
        1 => Outcome::Dropped,
        _ => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_counts_once_by_its_worst_outcome() {
        let cohort = Cohort::new(3, 2);
        let tickets = |index| (Ticket::new(&cohort, index), Ticket::new(&cohort, index));
        let (console, otlp) = tickets(0);
        assert_eq!(console.resolve(Outcome::Exported), None);
        assert_eq!(otlp.resolve(Outcome::Exported), Some(Outcome::Exported));
        let (console, otlp) = tickets(1);
        assert_eq!(otlp.resolve(Outcome::Failed), None);
        assert_eq!(console.resolve(Outcome::Exported), Some(Outcome::Failed));
        let (console, otlp) = tickets(2);
        assert_eq!(otlp.resolve(Outcome::Dropped), None);
        assert_eq!(console.resolve(Outcome::Exported), Some(Outcome::Dropped));
    }
}
