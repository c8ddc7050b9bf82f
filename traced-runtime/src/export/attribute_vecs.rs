//! Span attribute vectors handed back by the export thread once their spans are encoded, for the threads that
//! make spans to fill again.
//!
//! A span's attributes are allocated on the application's thread and freed on the export thread. With glibc's
//! allocator such a free does not refill the allocating thread's cache: the export thread frees a batch at a
//! time into the other thread's arena (under its lock), and the application's threads then allocate from the
//! arena's slow path, span after span. Handing the emptied vectors back skips both: the export thread gives a
//! batch's vectors in one lock, and a thread making spans takes a few at a time into a thread-local
//! stock. Neither side ever waits for the lock: when it is taken, a vector is allocated or freed as before (the
//! lock may also be held by a thread that is gone in a forked child).

// Only the OTLP exporters give vectors back.
#![cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(dead_code)
)]

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use opentelemetry::KeyValue;

/// Vectors kept for the application's threads, at most: with [`MAX_CAPACITY`], about 1 MiB.
const MAX_KEPT: usize = 512;
/// A vector with room for more attributes than this (a span with unusually many) is freed, not kept.
const MAX_CAPACITY: usize = 32;
/// How many vectors a thread takes into its own stock at a time: the lock once per this many spans, and what a
/// thread that stops making spans holds on to.
const REFILL: usize = 8;

/// The vectors given back, empty.
static KEPT: Mutex<Vec<Vec<KeyValue>>> = Mutex::new(Vec::new());
/// How many [`KEPT`] holds, read without the lock: where nothing gives vectors back (no OTLP exporter), a thread
/// making spans only reads it, instead of taking the lock (a write every thread would pass around) per span.
static AVAILABLE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's stock, taken from [`KEPT`].
    static STOCK: RefCell<Vec<Vec<KeyValue>>> = const { RefCell::new(Vec::new()) };
}

/// An empty vector with room for `capacity` attributes: one given back when there is one.
pub(crate) fn take(capacity: usize) -> Vec<KeyValue> {
    let given = STOCK
        .try_with(|stock| {
            let mut stock = stock.try_borrow_mut().ok()?;
            if stock.is_empty() {
                refill(&mut stock);
            }
            // One with room enough, if the stock has one: a server span's vector has twice a fn's attributes.
            let fits = stock.iter().rposition(|vec| vec.capacity() >= capacity);
            match fits {
                Some(at) => Some(stock.swap_remove(at)),
                None => stock.pop(),
            }
        })
        .ok()
        .flatten();
    match given {
        Some(mut attributes) => {
            attributes.reserve(capacity);
            attributes
        }
        None => Vec::with_capacity(capacity),
    }
}

fn refill(stock: &mut Vec<Vec<KeyValue>>) {
    if AVAILABLE.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Some(mut kept) = try_lock() else { return };
    let from = kept.len().saturating_sub(REFILL);
    stock.extend(kept.drain(from..));
    AVAILABLE.store(kept.len(), Ordering::Relaxed);
}

/// Gives back the attribute vectors of `items` (`attributes` takes an item's vector out), emptied; what is not
/// kept is freed.
pub(crate) fn give_back<T>(
    mut items: Vec<T>,
    mut attributes: impl FnMut(&mut T) -> &mut Vec<KeyValue>,
) {
    let mut emptied = Vec::with_capacity(items.len());
    // Taken out in place, the items then dropped where they are: iterated by value, each (a span, some 400
    // bytes) was copied out of the vector to be dropped.
    for item in &mut items {
        let mut vec = std::mem::take(attributes(item));
        if (1..=MAX_CAPACITY).contains(&vec.capacity()) {
            vec.clear();
            emptied.push(vec);
        }
    }
    drop(items);
    if emptied.is_empty() {
        return;
    }
    if let Some(mut kept) = try_lock() {
        let room = MAX_KEPT.saturating_sub(kept.len());
        emptied.truncate(room);
        kept.append(&mut emptied);
        AVAILABLE.store(kept.len(), Ordering::Relaxed);
    }
}

fn try_lock() -> Option<MutexGuard<'static, Vec<Vec<KeyValue>>>> {
    match KEPT.try_lock() {
        Ok(kept) => Some(kept),
        // A vector of empty vectors cannot be left inconsistent.
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> usize {
        try_lock().map_or(0, |kept| kept.len())
    }

    // One test: the kept vectors are the process's.
    #[test]
    fn vectors_given_back_are_taken_again_empty_and_bounded() {
        // On a thread of its own, so its stock starts empty.
        std::thread::spawn(|| {
            let mut first = take(4);
            first.push(KeyValue::new("k", "v"));
            let at = first.as_ptr();
            let large = Vec::<KeyValue>::with_capacity(MAX_CAPACITY + 1);
            give_back(vec![first, large], |vec| vec);
            // The large one is freed; the other one is the next taken, emptied.
            let again = take(4);
            assert!(again.is_empty());
            assert_eq!(again.as_ptr(), at, "the same allocation, not a new one");
            assert!(again.capacity() >= 4);
            assert_eq!(kept(), 0);
            // With nothing left to take, a new one, with room for what is asked.
            assert!(take(8).capacity() >= 8);

            // Never more than MAX_KEPT kept.
            let many: Vec<Vec<KeyValue>> = (0..MAX_KEPT + 10).map(|_| take(2)).collect();
            give_back(many, |vec| vec);
            assert_eq!(kept(), MAX_KEPT);
            // A thread takes REFILL at a time.
            drop(take(2));
            assert_eq!(kept(), MAX_KEPT - REFILL);
        })
        .join()
        .unwrap();
    }
}
