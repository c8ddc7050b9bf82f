//! One exporter's lane on the export thread: its share of the queue, its export slots, its counters and its
//! error log. Lanes share nothing but the items they are given, so a dead or slow exporter fills its own share
//! and holds its own slots while the others go on.

use std::collections::VecDeque;
use std::sync::Arc;

use super::error_log::ErrorLog;
use super::fanout::{Claim, Cohort};
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
    /// Items waiting for an export slot.
    waiting: Waiting<T>,
    /// Exports of this lane under way.
    pub(super) in_flight: usize,
    pub(super) errors: ErrorLog,
}

impl<T> Lane<T> {
    /// A lane whose exporter is `exporter`; `what` names its items in the error log (`span`, `log record`).
    pub(super) fn new(
        exporter: Box<dyn DynExporter<T>>,
        counters: Arc<ExporterCounters>,
        what: &'static str,
    ) -> Self {
        Lane {
            exporter: Arc::from(exporter),
            counters,
            waiting: Waiting::default(),
            in_flight: 0,
            errors: ErrorLog::new(what),
        }
    }

    pub(super) fn name(&self) -> &'static str {
        self.exporter.name()
    }

    /// Items waiting in this lane.
    pub(super) fn len(&self) -> usize {
        self.waiting.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.waiting.len == 0
    }

    /// True while an export slot is free.
    pub(super) fn has_slot(&self) -> bool {
        self.in_flight < MAX_CONCURRENT_EXPORTS
    }

    /// This lane's share of a take: `items` are the items `0..items.len()` of `cohort`.
    pub(super) fn push(&mut self, items: Vec<T>, cohort: &Arc<Cohort>) {
        self.waiting.push(items, cohort);
    }

    /// The next batch, at most `max` items, oldest first, and the claims on its items.
    pub(super) fn next_batch(&mut self, max: usize) -> (Vec<T>, Vec<Claim>) {
        self.waiting.next_batch(max)
    }

    /// Every item still waiting, for a deadline that passed: the claims on them.
    pub(super) fn drain(&mut self) -> Vec<Claim> {
        self.waiting.drain()
    }
}

/// A lane's items waiting for an export slot, take by take, oldest first.
#[derive(Debug)]
struct Waiting<T> {
    shares: VecDeque<Share<T>>,
    /// The items of `shares`.
    len: usize,
}

impl<T> Default for Waiting<T> {
    fn default() -> Self {
        Waiting {
            shares: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> Waiting<T> {
    /// This lane's share of a take: `items` are the items `0..items.len()` of `cohort`.
    fn push(&mut self, items: Vec<T>, cohort: &Arc<Cohort>) {
        if items.is_empty() {
            return;
        }
        self.len += items.len();
        self.shares.push_back(Share {
            items: VecDeque::from(items),
            cohort: cohort.clone(),
            first: 0,
            whole: true,
        });
    }

    /// The next batch, at most `max` items, from the front, and the claims it holds. A whole take that fits is
    /// the batch as it came, no item moved (most takes: the queue wakes the export thread once it holds a
    /// batch); moved item by item, each span was copied twice more, through a ring the size of the queue's
    /// capacity, cold in the cache. A whole take a little larger than a batch (the items that came while the
    /// export thread woke up) gives its first `max` items the same way, and only the rest moves. Takes left in
    /// part, or joined to fill a batch, move once, into a vector allocated at the batch's size.
    fn next_batch(&mut self, max: usize) -> (Vec<T>, Vec<Claim>) {
        let mut claims = Vec::new();
        let mut batch = match self.shares.front_mut() {
            Some(share) if share.whole && share.items.len() <= max => {
                let share = self.shares.pop_front().expect("the front share");
                self.len -= share.items.len();
                claims.push(share.claim());
                // Nothing was taken from its front, so its items start its buffer: the vector is given back as
                // it was, without a move.
                Vec::from(share.items)
            }
            Some(share) if share.whole && share.items.len() - max <= max => {
                let mut front = Vec::from(std::mem::take(&mut share.items));
                // The rest starts a buffer of its own: still whole.
                share.items = VecDeque::from(front.split_off(max));
                claims.push(Claim {
                    cohort: share.cohort.clone(),
                    items: share.first..share.first + max,
                });
                share.first += max;
                self.len -= max;
                front
            }
            _ => Vec::new(),
        };
        let want = max.min(batch.len() + self.len);
        batch.reserve_exact(want - batch.len());
        while batch.len() < want {
            let Some(share) = self.shares.front_mut() else {
                break;
            };
            let n = (want - batch.len()).min(share.items.len());
            batch.extend(share.items.drain(..n));
            claims.push(Claim {
                cohort: share.cohort.clone(),
                items: share.first..share.first + n,
            });
            share.first += n;
            share.whole = false;
            self.len -= n;
            if share.items.is_empty() {
                self.shares.pop_front();
            }
        }
        (batch, claims)
    }

    /// Every item still waiting, for a deadline that passed: the claims on them.
    fn drain(&mut self) -> Vec<Claim> {
        self.len = 0;
        self.shares.drain(..).map(|share| share.claim()).collect()
    }
}

/// One take's items as a lane holds them.
#[derive(Debug)]
struct Share<T> {
    items: VecDeque<T>,
    cohort: Arc<Cohort>,
    /// The index in `cohort` of the front item.
    first: usize,
    /// Its items start their buffer (none was moved out of its front), so the buffer can be given away as it is.
    whole: bool,
}

impl<T> Share<T> {
    fn claim(&self) -> Claim {
        Claim {
            cohort: self.cohort.clone(),
            items: self.first..self.first + self.items.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Outcome;

    fn take(waiting: &mut Waiting<u32>, items: std::ops::Range<u32>) -> (Arc<Cohort>, *const u32) {
        let cohort = Cohort::new(items.len(), 1);
        let items: Vec<u32> = items.collect();
        let buffer = items.as_ptr();
        waiting.push(items, &cohort);
        (cohort, buffer)
    }

    /// Each claim's first and last item + 1.
    fn runs(claims: &[Claim]) -> Vec<(usize, usize)> {
        claims
            .iter()
            .map(|claim| (claim.items.start, claim.items.end))
            .collect()
    }

    #[test]
    fn a_take_that_fits_is_the_batch_itself() {
        let mut waiting = Waiting::default();
        let (cohort, buffer) = take(&mut waiting, 0..300);
        let (batch, claims) = waiting.next_batch(512);
        assert_eq!(batch, (0..300).collect::<Vec<_>>());
        assert_eq!(batch.as_ptr(), buffer, "the take's vector, not a copy");
        assert!(Arc::ptr_eq(&claims[0].cohort, &cohort));
        assert_eq!(runs(&claims), [(0, 300)]);
        assert_eq!(waiting.len, 0);
        assert_eq!(waiting.next_batch(512).0, Vec::<u32>::new());
    }

    #[test]
    fn larger_takes_are_cut_and_smaller_ones_joined_in_order() {
        let mut waiting = Waiting::default();
        let (first, _) = take(&mut waiting, 0..5);
        let (second, _) = take(&mut waiting, 5..12);
        assert_eq!(waiting.len, 12);
        let (batch, claims) = waiting.next_batch(4);
        assert_eq!(batch, [0, 1, 2, 3]);
        assert_eq!(runs(&claims), [(0, 4)]);
        // What is left of the first take, then the start of the second.
        let (batch, claims) = waiting.next_batch(4);
        assert_eq!(batch, [4, 5, 6, 7]);
        assert_eq!(runs(&claims), [(4, 5), (0, 3)]);
        assert!(Arc::ptr_eq(&claims[0].cohort, &first));
        assert!(Arc::ptr_eq(&claims[1].cohort, &second));
        assert_eq!(waiting.len, 4);
        let (cohort, buffer) = take(&mut waiting, 12..14);
        let (batch, claims) = waiting.next_batch(10);
        assert_eq!(batch, [8, 9, 10, 11, 12, 13]);
        assert_eq!(runs(&claims), [(3, 7), (0, 2)]);
        assert!(Arc::ptr_eq(&claims[1].cohort, &cohort));
        assert_ne!(batch.as_ptr(), buffer);
        assert_eq!(waiting.len, 0);
    }

    #[test]
    fn a_take_a_little_larger_than_a_batch_gives_its_front_without_a_move() {
        let mut waiting = Waiting::default();
        let (cohort, buffer) = take(&mut waiting, 0..700);
        let (batch, claims) = waiting.next_batch(512);
        assert_eq!(batch, (0..512).collect::<Vec<_>>());
        assert_eq!(batch.as_ptr(), buffer, "the take's vector, not a copy");
        assert_eq!(runs(&claims), [(0, 512)]);
        assert_eq!(waiting.len, 188);
        let (rest, claims) = waiting.next_batch(512);
        assert_eq!(rest, (512..700).collect::<Vec<_>>());
        assert!(Arc::ptr_eq(&claims[0].cohort, &cohort));
        assert_eq!(runs(&claims), [(512, 700)]);
        assert_eq!(waiting.len, 0);
        // A take of more than two batches moves batch by batch instead (the rest would move once per batch).
        take(&mut waiting, 0..1100);
        let (batch, claims) = waiting.next_batch(512);
        assert_eq!(batch, (0..512).collect::<Vec<_>>());
        assert_eq!(runs(&claims), [(0, 512)]);
        let (batch, claims) = waiting.next_batch(512);
        assert_eq!(batch, (512..1024).collect::<Vec<_>>());
        assert_eq!(runs(&claims), [(512, 1024)]);
        assert_eq!(waiting.len, 76);
    }

    #[test]
    fn a_whole_take_is_joined_by_the_next_to_fill_a_batch() {
        let mut waiting = Waiting::default();
        take(&mut waiting, 0..3);
        take(&mut waiting, 3..10);
        let (batch, claims) = waiting.next_batch(8);
        assert_eq!(batch, (0..8).collect::<Vec<_>>());
        assert_eq!(runs(&claims), [(0, 3), (0, 5)]);
        assert_eq!(waiting.len, 2);
    }

    #[test]
    fn drained_claims_cover_what_waits_and_resolve_each_item() {
        let mut waiting = Waiting::default();
        let (cohort, _) = take(&mut waiting, 0..6);
        waiting.next_batch(2);
        take(&mut waiting, 6..9);
        let claims = waiting.drain();
        assert_eq!(runs(&claims), [(2, 6), (0, 3)]);
        assert_eq!(super::super::fanout::claimed(&claims), 7);
        assert_eq!(waiting.len, 0);
        // Each claimed item of the first take is still to be answered for by its one lane.
        for item in claims[0].items.clone() {
            assert_eq!(cohort.resolve(item, Outcome::Failed), Some(Outcome::Failed));
        }
        // Pushing nothing adds no share.
        waiting.push(Vec::new(), &cohort);
        assert!(waiting.shares.is_empty());
    }
}
