//! The stack a recursive `#[traced]` async fn (boxed at the recursive call) takes per level, every level a sampled
//! span, against the plain fn: the instrumented future is small (the span behind one pointer), and the poll keeps
//! its completion and panic paths out of line. `benches/recursion` measures the optimized build against
//! `#[instrument]` and fastrace; this test holds the bounds in the build the tests run in.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use traced::traced;

/// tokio's default worker stack.
const WORKER_STACK: usize = 2 << 20;
/// Deep enough that the frames above the recursion do not count, shallow enough for an unoptimized build.
const LEVELS: u32 = 1_000;

/// The address of a local of the calling frame: how deep the stack is there.
#[inline(never)]
fn depth() -> usize {
    let here = 0u8;
    std::hint::black_box(&here) as *const u8 as usize
}

static PLAIN_DEEPEST: AtomicUsize = AtomicUsize::new(0);
static TRACED_DEEPEST: AtomicUsize = AtomicUsize::new(0);

async fn plain(n: u32) -> u32 {
    if n == 0 {
        PLAIN_DEEPEST.store(depth(), Ordering::Relaxed);
        return 0;
    }
    Box::pin(plain(n - 1)).await + 1
}

#[traced]
async fn traced_level(n: u32) -> u32 {
    if n == 0 {
        TRACED_DEEPEST.store(depth(), Ordering::Relaxed);
        return 0;
    }
    Box::pin(traced_level(n - 1)).await + 1
}

/// Bytes of stack per level of `levels` calls of `run`, on a thread with tokio's worker stack.
fn stack_per_level<F>(levels: u32, deepest: &'static AtomicUsize, run: fn(u32) -> F) -> usize
where
    F: std::future::Future<Output = u32> + Send + 'static,
{
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("a runtime");
                let top = depth();
                assert_eq!(runtime.block_on(run(levels)), levels);
                (top - deepest.load(Ordering::Relaxed)) / levels as usize
            })
        })
        .expect("a thread")
        .join()
        .expect("no stack overflow")
}

#[test]
fn a_sampled_level_takes_a_bounded_multiple_of_the_plain_stack() {
    let plain = stack_per_level(LEVELS, &PLAIN_DEEPEST, plain);
    let (traced, spans) =
        common::capture(|| stack_per_level(LEVELS, &TRACED_DEEPEST, traced_level));
    assert_eq!(spans.all("traced_level").len(), LEVELS as usize + 1);
    eprintln!("stack per level: plain {plain} B, #[traced] {traced} B");
    // Unoptimized, the plain level took 219 B and the sampled `#[traced]` one 3,248 B before the span's state
    // left the future and the completion left `poll`; about 1,250 B after; 1,028 B (against 194 B) since a poll
    // beneath another span's needs no catch of its own and keeps what it saves in the span's box; 804 B since a
    // call without a span went behind one pointer and the poll's enter out of line.
    assert!(
        traced <= 5 * plain,
        "#[traced] takes {traced} B of stack per level, the plain fn {plain} B"
    );
}

#[test]
fn the_instrumented_future_holds_its_span_behind_one_pointer() {
    let plain = std::mem::size_of_val(&plain(1));
    let traced = std::mem::size_of_val(&traced_level(1));
    eprintln!("future size: plain {plain} B, #[traced] {traced} B");
    // The body's state and two words: the span (with its timer and parent) or what a call without one holds
    // (the call of the function metrics, the ids of a dropped trace) is boxed (192 B before, then plain + 64 B).
    assert!(
        traced <= plain + 48,
        "the #[traced] future is {traced} B, the plain one {plain} B"
    );
}
