//! Items taken from the queue (spans, log records), shared out to every exporter's lane, and each item's
//! outcome joined over the lanes, so that the pipeline's counts take every item once (see
//! [`Stats`](crate::Stats)) while each exporter keeps its own.
//!
//! Each take is a [`Cohort`]: per item, how many lanes have yet to answer for it and the worst outcome so far.
//! Every lane holds a [`Claim`] on its copies of the items; the lane answering last gives an item's outcome.

use std::ops::Range;
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

    /// Records what one lane did with item `index`; once every lane has answered, the item's outcome over all of
    /// them: the worst one.
    pub(super) fn resolve(&self, index: usize, outcome: Outcome) -> Option<Outcome> {
        let slot = &self.slots[index];
        // Only the export thread's worker touches the slots: a load and a store are enough.
        let old = slot.load(Ordering::Relaxed);
        let remaining = (old & REMAINING).saturating_sub(1);
        let worst = (old >> 8).max(rank(outcome));
        slot.store(worst << 8 | remaining, Ordering::Relaxed);
        (remaining == 0).then(|| unrank(worst))
    }
}

/// One lane's claim on a run of consecutive items of a cohort: a batch holds its items in the order of its
/// claims. One per run, not one per item: a count per item cost a reference count's increment and decrement.
#[derive(Debug)]
pub(super) struct Claim {
    pub(super) cohort: Arc<Cohort>,
    pub(super) items: Range<usize>,
}

/// The items `claims` cover.
pub(super) fn claimed(claims: &[Claim]) -> usize {
    claims.iter().map(|claim| claim.items.len()).sum()
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
        // Two lanes, the console's and the collector's, answer for each item in either order.
        assert_eq!(cohort.resolve(0, Outcome::Exported), None);
        assert_eq!(
            cohort.resolve(0, Outcome::Exported),
            Some(Outcome::Exported)
        );
        assert_eq!(cohort.resolve(1, Outcome::Failed), None);
        assert_eq!(cohort.resolve(1, Outcome::Exported), Some(Outcome::Failed));
        assert_eq!(cohort.resolve(2, Outcome::Dropped), None);
        assert_eq!(cohort.resolve(2, Outcome::Exported), Some(Outcome::Dropped));
    }

    #[test]
    fn claims_count_their_runs() {
        let cohort = Cohort::new(10, 1);
        let claims = [
            Claim {
                cohort: cohort.clone(),
                items: 0..3,
            },
            Claim {
                cohort,
                items: 7..10,
            },
        ];
        assert_eq!(claimed(&claims), 6);
        assert_eq!(claimed(&[]), 0);
    }
}
