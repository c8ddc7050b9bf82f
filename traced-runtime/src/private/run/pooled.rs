//! The [`Plain`] state of an async call without a span, behind one pointer in its future, the boxes reused per
//! thread.
//!
//! Inline, the dropped trace's ids and the call of the function metrics made every instrumented future 64 bytes
//! larger, sampled or not; a recursive async fn builds the next level's future on the stack of its poll, so that
//! was paid once per level (`benches/recursion`). A thread keeps the boxes its calls gave back, so a call in a
//! dropped trace does not go to the allocator.

use std::cell::RefCell;

use super::Plain;

/// The boxes a thread keeps for reuse: enough for the calls in flight on one thread of a busy service to come and
/// go without the allocator, few enough that an idle thread holds at most a few KiB.
const KEPT: usize = 64;

thread_local! {
    /// Empty boxes given back on this thread. Boxes, not the values: each is the allocation a future points to.
    #[allow(clippy::vec_box)]
    static FREE: RefCell<Vec<Box<Option<Plain>>>> = const { RefCell::new(Vec::new()) };
}

/// A [`Plain`] behind one pointer, or nothing: a call that holds nothing (no dropped trace's ids, no call to
/// record) or one that has completed.
pub(super) struct Pooled(Option<Box<Option<Plain>>>);

impl Pooled {
    /// `plain` behind a pointer, in a box this thread gave back if it has one; nothing if `plain` holds nothing.
    #[inline]
    pub(super) fn new(plain: Plain) -> Pooled {
        if plain.is_empty() {
            return Pooled(None);
        }
        let reused = FREE.try_with(|free| free.borrow_mut().pop()).ok().flatten();
        Pooled(Some(match reused {
            Some(mut slot) => {
                *slot = Some(plain);
                slot
            }
            None => Box::new(Some(plain)),
        }))
    }

    /// The call, until [`Pooled::take`].
    #[inline]
    pub(super) fn get(&self) -> Option<&Plain> {
        self.0.as_deref().and_then(Option::as_ref)
    }

    /// Takes the call out, the box given back.
    #[inline]
    pub(super) fn take(&mut self) -> Option<Plain> {
        let mut slot = self.0.take()?;
        let plain = slot.take();
        give_back(slot);
        plain
    }
}

impl Drop for Pooled {
    /// Inline, so that a completed call (the box already given back) drops as a null check.
    #[inline]
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            cancel(slot);
        }
    }
}

/// A future dropped before completion: the call, dropped, ends as cancelled; the box goes back.
#[cold]
#[inline(never)]
fn cancel(mut slot: Box<Option<Plain>>) {
    drop(slot.take());
    give_back(slot);
}

/// Keeps an empty box for the next call on this thread, unless it keeps enough or its locals are gone.
#[inline]
fn give_back(slot: Box<Option<Plain>>) {
    let _ = FREE.try_with(|free| {
        let mut free = free.borrow_mut();
        if free.len() < KEPT {
            free.push(slot);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> usize {
        FREE.with(|free| free.borrow().len())
    }

    #[test]
    fn an_empty_call_takes_no_box_and_a_full_one_reuses_the_box_it_gave_back() {
        assert!(Pooled::new(Plain::empty()).get().is_none());
        let before = kept();
        let mut pooled = Pooled::new(Plain::unsampled_for_test());
        let first = pooled.0.as_deref().map(|slot| slot as *const _);
        assert!(pooled.get().is_some());
        assert!(pooled.take().is_some());
        assert_eq!(kept(), before + 1, "the box went back");
        assert!(pooled.take().is_none(), "taken once");
        let again = Pooled::new(Plain::unsampled_for_test());
        assert_eq!(again.0.as_deref().map(|slot| slot as *const _), first);
        drop(again);
        assert_eq!(
            kept(),
            before + 1,
            "dropped before completion, the box went back too"
        );
    }

    #[test]
    fn a_thread_keeps_a_bounded_number_of_boxes() {
        let calls: Vec<Pooled> = (0..KEPT * 2)
            .map(|_| Pooled::new(Plain::unsampled_for_test()))
            .collect();
        drop(calls);
        assert_eq!(kept(), KEPT);
    }
}
