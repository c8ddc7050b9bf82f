//! Counters each thread writes alone, summed at collection. A shared atomic add (`lock xadd`) cost about 3 ns,
//! four per call, most of what the function metrics spent besides the clock; an add to a block no other thread
//! writes is a load and a store.
//!
//! A thread claims one of [`SLOTS`] slots at its first recorded call and gives it back when it exits; the next
//! thread to claim it carries on adding to the same counters (the claim synchronises with the release, so it
//! starts from the last value). Threads past that many, and a thread whose own thread-locals are being torn
//! down, share one more block with atomic adds.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Threads with a block of their own at a time.
const SLOTS: usize = 32;
/// The block every other thread adds to atomically.
const SHARED: u8 = SLOTS as u8;
/// A thread that has not recorded yet.
const UNCLAIMED: u8 = u8::MAX;

/// The slots taken, one bit each.
static TAKEN: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's slot: read on every add, so without a destructor (always accessible, no lazy state).
    static SLOT: Cell<u8> = const { Cell::new(UNCLAIMED) };
    /// Gives the slot back when the thread exits.
    static OWNER: Owner = const { Owner(Cell::new(UNCLAIMED)) };
}

struct Owner(Cell<u8>);

impl Drop for Owner {
    fn drop(&mut self) {
        let slot = self.0.get();
        if usize::from(slot) < SLOTS {
            // What this thread still records (other thread-locals' destructors) goes to the shared block.
            SLOT.with(|own| own.set(SHARED));
            TAKEN.fetch_and(!(1 << slot), Ordering::Release);
        }
    }
}

/// This thread's slot, claimed at its first call.
#[inline(always)]
fn slot() -> u8 {
    let slot = SLOT.with(Cell::get);
    if slot == UNCLAIMED {
        claim()
    } else {
        slot
    }
}

#[cold]
#[inline(never)]
fn claim() -> u8 {
    let slot = OWNER
        .try_with(|owner| {
            let mut taken = TAKEN.load(Ordering::Relaxed);
            loop {
                let free = !taken & ((1u64 << SLOTS) - 1);
                if free == 0 {
                    return SHARED;
                }
                #[allow(clippy::cast_possible_truncation)]
                let slot = free.trailing_zeros() as u8;
                match TAKEN.compare_exchange_weak(
                    taken,
                    taken | 1 << slot,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        owner.0.set(slot);
                        return slot;
                    }
                    Err(now) => taken = now,
                }
            }
        })
        .unwrap_or(SHARED);
    SLOT.with(|own| own.set(slot));
    slot
}

/// One block of counters per slot, and the shared one, each allocated at the first add of its slot.
#[derive(Debug)]
pub(crate) struct Shards<T> {
    blocks: [OnceLock<Box<T>>; SLOTS + 1],
}

impl<T> Default for Shards<T> {
    fn default() -> Self {
        Shards {
            blocks: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

/// This thread's block, and how to add to it.
pub(crate) struct Mine<'a, T> {
    pub(crate) block: &'a T,
    alone: bool,
}

impl<T> Mine<'_, T> {
    /// Adds `n` to `counter`, a counter of [`Mine::block`].
    #[inline(always)]
    pub(crate) fn add(&self, counter: &AtomicU64, n: u64) {
        // Release: what a collector sees added here, it sees everything added before (a call's start before its
        // end), on any thread the work moved from.
        if self.alone {
            counter.store(
                counter.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Release,
            );
        } else {
            counter.fetch_add(n, Ordering::Release);
        }
    }
}

impl<T: Default> Shards<T> {
    /// The block of this thread.
    #[inline(always)]
    pub(crate) fn mine(&self) -> Mine<'_, T> {
        let slot = slot();
        Mine {
            block: self.blocks[usize::from(slot)].get_or_init(Box::default),
            alone: slot != SHARED,
        }
    }

    /// Every block some thread added to.
    pub(crate) fn blocks(&self) -> impl Iterator<Item = &T> {
        self.blocks
            .iter()
            .filter_map(|block| block.get().map(|b| &**b))
    }
}

/// The sum of one counter over `blocks`, read as [`Mine::add`] wrote it.
pub(crate) fn sum<'a, T: 'a>(
    blocks: impl Iterator<Item = &'a T>,
    counter: impl Fn(&T) -> &AtomicU64,
) -> u64 {
    blocks
        .map(|block| counter(block).load(Ordering::Acquire))
        .fold(0, u64::wrapping_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Counter(AtomicU64);

    #[test]
    fn adds_of_many_threads_sum_up_also_past_the_slots_and_after_threads_exit() {
        let shards: &'static Shards<Counter> = Box::leak(Box::default());
        // Twice as many threads as slots at once, then as many again after they exited.
        for _ in 0..2 {
            let barrier = &std::sync::Barrier::new(2 * SLOTS);
            std::thread::scope(|scope| {
                for _ in 0..2 * SLOTS {
                    scope.spawn(move || {
                        // All claim while all are alive.
                        let mine = shards.mine();
                        mine.add(&mine.block.0, 1);
                        barrier.wait();
                        for _ in 1..1_000 {
                            let mine = shards.mine();
                            mine.add(&mine.block.0, 1);
                        }
                    });
                }
            });
        }
        assert_eq!(sum(shards.blocks(), |c| &c.0), 4 * SLOTS as u64 * 1_000);
        assert!(
            shards.blocks[usize::from(SHARED)].get().is_some(),
            "the threads past the slots shared a block"
        );
    }
}
