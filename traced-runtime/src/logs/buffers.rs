//! The buffers a queued log record carries (its text, its fields), reused: the export thread gives them back to a
//! pool once it has built the record from them, and each calling thread takes them from the pool a few at a time
//! into a stash of its own, so an event allocates nothing in the steady state and takes the pool's lock once per
//! [`STASH_REFILL`] events.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use opentelemetry::KeyValue;

/// Buffers the pool keeps at most: as many as two full queues of the default size. Beyond, they are freed.
const POOL_MAX: usize = 4_096;

/// Buffers a thread takes from the pool at once.
const STASH_REFILL: usize = 32;

/// A buffer that grew beyond this (a long message, many fields) is freed rather than kept for a next event.
const TEXT_KEPT_MAX: usize = 1_024;
const FIELDS_KEPT_MAX: usize = 32;

/// Shared by every log pipeline of the process: a buffer is only a buffer.
static POOL: Mutex<Vec<Buffers>> = Mutex::new(Vec::new());

thread_local! {
    static STASH: RefCell<Vec<Buffers>> = const { RefCell::new(Vec::new()) };
}

/// A field's value as the caller captured it: text is a range of [`Buffers::text`].
#[derive(Clone, Debug)]
pub(super) enum FieldValue {
    Bool(bool),
    I64(i64),
    F64(f64),
    Text(Range<usize>),
}

/// A record's message and fields, as the caller captured them.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    /// The message and the fields' text, one after the other.
    pub(super) text: String,
    /// The message: a range of `text`.
    pub(super) body: Option<Range<usize>>,
    /// The event's fields, in order, with their types.
    pub(super) fields: Vec<(&'static str, FieldValue)>,
    /// The attributes copied from the enclosing spans.
    pub(super) span_attributes: Vec<KeyValue>,
}

impl Buffers {
    /// Empty buffers for an event: from the thread's stash, refilled from the pool, or new ones.
    pub(super) fn take() -> Buffers {
        STASH
            .try_with(|stash| {
                let mut stash = stash.try_borrow_mut().ok()?;
                if stash.is_empty() {
                    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
                    let from = pool.len().saturating_sub(STASH_REFILL);
                    stash.extend(pool.drain(from..));
                }
                stash.pop()
            })
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Gives back the buffers of records the export thread has built (draining `used`), emptied; those that grew
    /// too large, or that the pool has no room for, are freed.
    pub(super) fn give_back(used: &mut Vec<Buffers>) {
        used.retain_mut(|buffers| {
            buffers.clear();
            buffers.text.capacity() <= TEXT_KEPT_MAX
                && buffers.fields.capacity() <= FIELDS_KEPT_MAX
                && buffers.span_attributes.capacity() <= FIELDS_KEPT_MAX
        });
        let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = POOL_MAX.saturating_sub(pool.len()).min(used.len());
        pool.extend(used.drain(..kept));
        drop(pool);
        // Freed outside the lock.
        used.clear();
    }

    fn clear(&mut self) {
        self.text.clear();
        self.body = None;
        self.fields.clear();
        self.span_attributes.clear();
    }
}
