//! The function metrics of `#[traced]` fns and `span!` blocks: `function.calls`, `function.calls.duration` and
//! `function.calls.concurrent`, recorded on every call, sampled or not.
//!
//! The attributes of a fn are known at compile time but for `result`, `error.type` and the caller, so each fn has
//! a `static` [`FnMetrics`] (written by the expansion) whose state is allocated at its first recorded call: the
//! histogram, the number of calls started, and a small append-only table of the (caller, error type)
//! combinations, each with its counter. Once a combination exists, a call does two clock reads and four adds
//! (started, bucket, sum, series) to counters of its thread's own ([`shard`](super::shard)), with no lock, no
//! allocation and no atomic read-modify-write; a sampled call also offers its span as an exemplar.
//! `function.calls.concurrent` is not counted down: it is the calls started less those that ended (the
//! histogram's count plus the cancelled ones), read at collection.
//!
//! The caller is the innermost call on this thread: set for the body of a sync call, and for each poll of an
//! async one ([`InCall`]).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll};

#[cfg(feature = "testing")]
pub(crate) mod capture;

use super::clock::{self, Ticks};
use super::exemplar::{Exemplar, ExemplarSlot};
use super::histogram::{Exemplars, HistogramPoint, BUCKETS};
use super::shard::{self, Shards};

/// True while a pipeline with function metrics runs: the one load a call does when it is off.
static ON: AtomicBool = AtomicBool::new(false);

/// Every fn that recorded a call, in the order of its first call (which decides which series overflow).
static REGISTRY: Mutex<Vec<&'static FnMetrics>> = Mutex::new(Vec::new());

thread_local! {
    /// The innermost call running on this thread.
    static CALLER: Cell<Option<&'static FnMetrics>> = const { Cell::new(None) };
}

/// Turns the recording on or off for every fn.
pub(crate) fn set_on(on: bool) {
    if on {
        clock::calibrate();
    }
    ON.store(on, Ordering::Relaxed);
    // Every site caches whether its calls are recorded beside its interest (`private::site`): one load when idle.
    tracing::callsite::rebuild_interest_cache();
}

/// True when a pipeline records calls.
#[inline(always)]
pub(crate) fn is_on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// True when calls are recorded: a pipeline's metrics are on, or a test captures them.
#[inline(always)]
pub(crate) fn is_recording() -> bool {
    is_on() || capturing()
}

/// True while a test capture is alive (feature `testing`): its calls are recorded even with no pipeline.
#[inline(always)]
fn capturing() -> bool {
    #[cfg(feature = "testing")]
    return capture::any_alive();
    #[cfg(not(feature = "testing"))]
    false
}

/// The fns that recorded a call so far.
pub(crate) fn registered() -> Vec<&'static FnMetrics> {
    REGISTRY.lock().map(|fns| fns.clone()).unwrap_or_default()
}

/// A service-level objective (`#[traced(objective(..))]`), as the autometrics specification labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Objective {
    /// `objective.name`.
    pub name: &'static str,
    /// The success-rate percentile (`"99.9"`), on `function.calls`.
    pub success: Option<&'static str>,
    /// The latency threshold in seconds (`"0.25"`) and its percentile (`"99"`), on `function.calls.duration`.
    pub latency: Option<(&'static str, &'static str)>,
}

/// The metrics of one `#[traced]` fn or `span!` block: its names, and its state once it was called.
#[derive(Debug)]
pub struct FnMetrics {
    function: &'static str,
    module: &'static str,
    objective: Option<Objective>,
    state: OnceLock<Box<FnState>>,
}

#[derive(Debug, Default)]
pub(crate) struct FnState {
    counts: Shards<Counts>,
    /// Async calls dropped before they completed: neither ok nor error, but no longer under way (rare: one
    /// shared counter).
    cancelled: AtomicU64,
    exemplars: Exemplars,
    calls: Chunk,
}

/// What the calls of one thread (or the threads sharing a block) added.
#[derive(Debug, Default)]
struct Counts {
    started: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
    sum_ticks: AtomicU64,
    /// `function.calls` of the series of the first chunk, by position; the later ones count in their [`Series`].
    calls: [AtomicU64; CHUNK],
}

/// Series per chunk: most fns have one caller and never fail, a few have a handful.
const CHUNK: usize = 4;

/// A fixed block of series, and the next one once it is full.
#[derive(Debug, Default)]
struct Chunk {
    series: [Series; CHUNK],
    next: OnceLock<Box<Chunk>>,
}

/// The `function.calls` counter of one (caller, error type).
#[derive(Debug, Default)]
pub(crate) struct Series {
    key: OnceLock<Key>,
    /// Calls of a series past the first chunk (those of the first count per thread, in [`Counts::calls`]).
    count: AtomicU64,
    exemplar: ExemplarSlot,
}

/// What tells two series of a fn apart.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key {
    pub(crate) caller: Option<&'static FnMetrics>,
    /// `None`: `result = ok`.
    pub(crate) error: Option<&'static str>,
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        let same_caller = match (self.caller, other.caller) {
            (None, None) => true,
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            _ => false,
        };
        // Type names of one type may sit at different addresses in different codegen units: by content.
        same_caller && self.error == other.error
    }
}

impl Chunk {
    /// The series of `key`, claimed on first use, and its position if it is in the first chunk.
    #[inline(always)]
    fn series(&self, key: Key) -> (Option<usize>, &Series) {
        let mut chunk = self;
        let mut first = true;
        loop {
            for (i, series) in chunk.series.iter().enumerate() {
                match series.key.get() {
                    Some(existing) if *existing == key => return (first.then_some(i), series),
                    Some(_) => {}
                    None => {
                        // Another thread may claim the slot first, for its own key or for ours.
                        let _ = series.key.set(key);
                        if series.key.get() == Some(&key) {
                            return (first.then_some(i), series);
                        }
                    }
                }
            }
            chunk = chunk.next.get_or_init(Default::default);
            first = false;
        }
    }

    /// Every series claimed, with its position if it is in the first chunk.
    fn for_each(&self, f: &mut impl FnMut(Option<usize>, &Key, &Series)) {
        let mut chunk = Some(self);
        let mut first = true;
        while let Some(current) = chunk {
            for (i, series) in current.series.iter().enumerate() {
                if let Some(key) = series.key.get() {
                    f(first.then_some(i), key, series);
                }
            }
            chunk = current.next.get().map(|next| &**next);
            first = false;
        }
    }
}

/// One counter series at a collection.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CallsPoint {
    pub(crate) key: Key,
    pub(crate) count: u64,
    pub(crate) exemplar: Option<Exemplar>,
}

impl FnMetrics {
    /// The metrics of a fn named `function` (its span name) in `module` (`module_path!()`).
    pub const fn new(
        function: &'static str,
        module: &'static str,
        objective: Option<Objective>,
    ) -> FnMetrics {
        FnMetrics {
            function,
            module,
            objective,
            state: OnceLock::new(),
        }
    }

    /// `function`.
    pub(crate) fn function(&self) -> &'static str {
        self.function
    }

    /// `module`.
    pub(crate) fn module(&self) -> &'static str {
        self.module
    }

    /// The objective, if any.
    pub(crate) fn objective(&self) -> Option<&Objective> {
        self.objective.as_ref()
    }

    /// Starts a sync call: the fn is the caller of what its body calls until the call ends.
    #[inline]
    pub fn call(&'static self) -> Call {
        let mut call = self.start();
        if let Some(running) = &mut call.0 {
            CALLER.with(|caller| caller.set(Some(self)));
            running.restore = true;
        }
        call
    }

    /// Starts an async call: the fn is the caller only while [`InCall`] polls its body.
    #[inline]
    pub fn call_async(&'static self) -> Call {
        self.start()
    }

    #[inline(always)]
    fn start(&'static self) -> Call {
        if !is_recording() {
            return Call(None);
        }
        let state = self.state();
        let mine = state.counts.mine();
        mine.add(&mine.block.started, 1);
        #[cfg(feature = "testing")]
        let capture = capture::current();
        #[cfg(feature = "testing")]
        if let Some(capture) = &capture {
            capture.started(self);
        }
        Call(Some(Running {
            metrics: self,
            state,
            caller: CALLER.with(Cell::get),
            restore: false,
            #[cfg(feature = "testing")]
            capture,
            start: clock::now(),
        }))
    }

    #[inline(always)]
    fn state(&'static self) -> &'static FnState {
        self.state.get_or_init(|| {
            if let Ok(mut fns) = REGISTRY.lock() {
                fns.push(self);
            }
            Box::default()
        })
    }

    /// The state, once the fn was called.
    pub(crate) fn collect(&self, since: u64) -> Option<FnPoint> {
        let state = self.state.get()?;
        let blocks = || state.counts.blocks();
        let duration = HistogramPoint {
            buckets: std::array::from_fn(|i| shard::sum(blocks(), |c| &c.buckets[i])),
            sum_nanos: clock::nanos(shard::sum(blocks(), |c| &c.sum_ticks)),
            exemplars: state.exemplars.since(since),
        };
        let mut calls = Vec::new();
        state.calls.for_each(&mut |first, key, series| {
            let per_thread = first.map_or(0, |i| shard::sum(blocks(), |c| &c.calls[i]));
            calls.push(CallsPoint {
                key: *key,
                count: series.count.load(Ordering::Relaxed) + per_thread,
                exemplar: series.exemplar.since(since),
            });
        });
        // Read after the ended ones, so the difference is never below zero.
        let ended = duration.count() + state.cancelled.load(Ordering::Acquire);
        let started = shard::sum(blocks(), |c| &c.started);
        Some(FnPoint {
            duration,
            calls,
            concurrent: started.saturating_sub(ended),
        })
    }
}

/// What a fn holds at one collection.
#[derive(Clone, Debug)]
pub(crate) struct FnPoint {
    pub(crate) duration: HistogramPoint,
    pub(crate) calls: Vec<CallsPoint>,
    pub(crate) concurrent: u64,
}

/// A call under way; recorded by [`Call::finish`], or on drop as a panic (unwinding) or a cancellation.
#[derive(Debug)]
#[must_use]
pub struct Call(Option<Running>);

#[derive(Debug)]
struct Running {
    metrics: &'static FnMetrics,
    state: &'static FnState,
    caller: Option<&'static FnMetrics>,
    /// A sync call: the caller of this thread goes back to `caller` when it ends.
    restore: bool,
    /// The test capture the call was made in, if any.
    #[cfg(feature = "testing")]
    capture: Option<std::sync::Arc<capture::Recorder>>,
    start: Ticks,
}

impl Call {
    /// A call that records nothing.
    pub const OFF: Call = Call(None);

    /// True when the call is recorded (metrics are on).
    #[inline(always)]
    pub fn is_recorded(&self) -> bool {
        self.0.is_some()
    }

    /// Records the end of the call: `error` is the error type of an `Err`, `None` for success.
    #[inline]
    pub fn finish(mut self, error: Option<&'static str>) {
        if let Some(running) = self.0.take() {
            running.end(error, None);
        }
    }

    /// [`Call::finish`] for a call with a span: if it is sampled, the call is an exemplar of its bucket and
    /// series. Only a sampled call pays for the lookup, at its end: the context is not carried along the call
    /// (it would enlarge every instrumented future).
    #[inline]
    pub fn finish_in(mut self, error: Option<&'static str>, span: &tracing::Span) {
        if let Some(running) = self.0.take() {
            let exemplar = (!span.is_disabled()).then(|| Exemplar::span_context(span));
            running.end(error, exemplar.as_ref());
        }
    }

    /// Makes this call the caller of what runs on this thread until the guard drops: the body of a sync call,
    /// or one poll of an async one.
    #[inline]
    pub(crate) fn scope(&self) -> Option<CallerScope> {
        self.0
            .as_ref()
            .map(|running| CallerScope::set(running.metrics))
    }

    /// Makes this call the caller of what runs on this thread, returning the caller before (to give back to
    /// [`replace_caller`]); nothing when the call is not recorded. [`Call::scope`] without the guard.
    #[inline]
    pub(crate) fn replace_caller(&self) -> Option<Option<&'static FnMetrics>> {
        self.0
            .as_ref()
            .map(|running| replace_caller(Some(running.metrics)))
    }

    /// `future` polled with this call as the caller (the body of an async call).
    #[inline]
    pub fn in_call<F: Future>(&self, future: F) -> InCall<F> {
        InCall {
            inner: future,
            metrics: self.0.as_ref().map(|running| running.metrics),
        }
    }
}

impl Running {
    #[inline(always)]
    fn end(
        self,
        error: Option<&'static str>,
        exemplar: Option<&opentelemetry::trace::SpanContext>,
    ) {
        let ticks = self.start.until(clock::now());
        let bucket = clock::bucket(ticks);
        let key = Key {
            caller: self.caller,
            error,
        };
        #[cfg(feature = "testing")]
        if let Some(capture) = &self.capture {
            capture.ended(self.metrics, key, clock::nanos(ticks));
        }
        let (first, series) = self.state.calls.series(key);
        // The thread's block here, not the one the call started on: an async call may end on another thread.
        let mine = self.state.counts.mine();
        let counts = mine.block;
        mine.add(&counts.buckets[bucket], 1);
        mine.add(&counts.sum_ticks, ticks);
        match first {
            Some(i) => mine.add(&counts.calls[i], 1),
            None => {
                series.count.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(context) = exemplar {
            #[allow(clippy::cast_precision_loss)]
            if let Some(exemplar) = Exemplar::of(context, clock::nanos(ticks) as f64 / 1e9) {
                self.state.exemplars.offer(bucket, exemplar);
                series.exemplar.offer(Exemplar {
                    value: 1.0,
                    ..exemplar
                });
            }
        }
        if self.restore {
            CALLER.with(|caller| caller.set(self.caller));
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(running) = self.0.take() {
            if std::thread::panicking() {
                running.end(Some(traced_conventions::metrics::PANIC), None);
            } else {
                running.state.cancelled.fetch_add(1, Ordering::Release);
                #[cfg(feature = "testing")]
                if let Some(capture) = &running.capture {
                    capture.cancelled(running.metrics);
                }
                if running.restore {
                    CALLER.with(|caller| caller.set(running.caller));
                }
            }
        }
    }
}

/// The value a call returned, probed by autoref specialization for the `error.type` of an `Err` of any
/// `Result` (aliases included): `(&&Outcome(&value)).__traced_error_type()`.
pub struct Outcome<'a, T: ?Sized>(pub &'a T);

/// `Result<T, E>`: an `Err` is `result = error`, with its type's path as `error.type`.
pub trait ErrorType {
    /// The error type of an `Err`, `None` for `Ok`.
    fn __traced_error_type(&self) -> Option<&'static str>;
}

impl<T, E> ErrorType for &Outcome<'_, Result<T, E>> {
    #[inline(always)]
    fn __traced_error_type(&self) -> Option<&'static str> {
        match self.0 {
            Ok(_) => None,
            Err(_) => Some(traced_conventions::value::error_type(
                std::any::type_name::<E>(),
            )),
        }
    }
}

/// Anything else is `result = ok`.
pub trait NoErrorType {
    /// Always `None`.
    fn __traced_error_type(&self) -> Option<&'static str>;
}

impl<T: ?Sized> NoErrorType for Outcome<'_, T> {
    #[inline(always)]
    fn __traced_error_type(&self) -> Option<&'static str> {
        None
    }
}

pin_project_lite::pin_project! {
    /// The body of an async call, polled with the call as this thread's caller.
    #[derive(Debug)]
    pub struct InCall<F> {
        #[pin]
        inner: F,
        metrics: Option<&'static FnMetrics>,
    }
}

impl<F: Future> Future for InCall<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        match *this.metrics {
            None => this.inner.poll(cx),
            Some(metrics) => {
                let _caller = CallerScope::set(metrics);
                this.inner.poll(cx)
            }
        }
    }
}

/// Sets this thread's caller, returning the one before.
#[inline]
pub(crate) fn replace_caller(caller: Option<&'static FnMetrics>) -> Option<&'static FnMetrics> {
    CALLER.with(|current| current.replace(caller))
}

/// Sets this thread's caller until dropped (also on unwind).
pub(crate) struct CallerScope(Option<&'static FnMetrics>);

impl CallerScope {
    #[inline(always)]
    fn set(metrics: &'static FnMetrics) -> CallerScope {
        CallerScope(replace_caller(Some(metrics)))
    }
}

impl Drop for CallerScope {
    #[inline(always)]
    fn drop(&mut self) {
        CALLER.with(|caller| caller.set(self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static OUTER: FnMetrics = FnMetrics::new("outer", "tests", None);
    static INNER: FnMetrics = FnMetrics::new(
        "inner",
        "tests::deep",
        Some(Objective {
            name: "api",
            success: Some("99.9"),
            latency: None,
        }),
    );

    #[test]
    fn calls_count_per_caller_and_error_type_and_end_concurrency() {
        set_on(true);
        let outer = OUTER.call();
        for _ in 0..3 {
            INNER.call().finish(None);
        }
        INNER.call().finish(Some("io::Error"));
        outer.finish(None);
        let cancelled = INNER.call_async();
        drop(cancelled);
        let caught = std::panic::catch_unwind(|| {
            let _call = INNER.call();
            panic!("boom");
        });
        assert!(caught.is_err());
        let point = INNER.collect(0).unwrap();
        let count = |caller: Option<&'static FnMetrics>, error| {
            point
                .calls
                .iter()
                .find(|p| p.key == Key { caller, error })
                .map_or(0, |p| p.count)
        };
        assert_eq!(count(Some(&OUTER), None), 3);
        assert_eq!(count(Some(&OUTER), Some("io::Error")), 1);
        assert_eq!(count(None, Some(PANIC_NAME)), 1, "{:?}", point.calls);
        assert_eq!(point.duration.count(), 5);
        assert_eq!(point.concurrent, 0, "the cancelled call ended too");
        assert_eq!(
            OUTER.collect(0).unwrap().calls[0]
                .key
                .caller
                .map(|c| c.function),
            None
        );
        assert!(CALLER.with(Cell::get).is_none(), "restored after the panic");
        let registered = registered();
        assert!(registered.iter().any(|f| std::ptr::eq(*f, &INNER)));
    }

    const PANIC_NAME: &str = traced_conventions::metrics::PANIC;

    #[test]
    fn many_callers_fill_several_chunks() {
        set_on(true);
        static CALLERS: [FnMetrics; 9] = [const { FnMetrics::new("c", "m", None) }; 9];
        static CALLEE: FnMetrics = FnMetrics::new("callee", "m", None);
        for caller in &CALLERS {
            let call = caller.call();
            CALLEE.call().finish(None);
            call.finish(None);
        }
        let point = CALLEE.collect(0).unwrap();
        assert_eq!(point.calls.len(), 9);
        assert!(point.calls.iter().all(|p| p.count == 1));
    }
}
