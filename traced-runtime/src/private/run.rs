//! Running a fn body or a block in its span: the level check, the sampling decision made before the span is
//! built, the timer, the thread's sampling mark, panics recorded and resumed, and the future that carries a span
//! across polls.
//!
//! The expansion calls these in a fixed order, each a non-generic call but the last:
//! [`begin`] (or [`start`] when the span has no values of the user's) → [`Builder::build`] → [`Running::run`] (a
//! sync body, through a `&mut dyn FnMut`, so that catching a panic is compiled once) or [`Traced`] (the one
//! generic wrapper of an async body) → [`Running::finish`]. The call of the site's function metrics starts with
//! the span (after it, in [`Running`]; in [`Plain`] without one) and ends in [`Running::finish`] or
//! [`Plain::finish`], or as a panic or a cancellation when it is dropped.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use traced_conventions::metrics::PANIC;
use traced_conventions::span::{CANCELLED, DURATION_MS, RETURN_VALUE};
use tracing::Span;

use super::errors::{record_exception, record_failure, Failure};
use super::parents::{Link, Parent};
use super::site::{Sampling, Site};
use crate::metrics::function::{replace_caller, Call, CallerScope};
use crate::traces::sampling::{self, replace_mark, Asked, Mark, Unsampled};

mod pooled;
use pooled::Pooled;

/// True when a span at `level` can be enabled: the static and the current max level, the test `tracing::span!`
/// starts with. Below it the expansion builds nothing and runs the body as is.
#[inline(always)]
fn enabled(level: tracing::Level) -> bool {
    level <= tracing::level_filters::STATIC_MAX_LEVEL
        && level <= tracing::level_filters::LevelFilter::current()
}

/// True when a call of `site` has nothing to do: no subscriber wants its span and it records no function
/// metrics. The expansion then runs the body as is, building nothing: a fn with no subscriber and no metrics
/// pipeline costs one load and compare, as `#[tracing::instrument]`'s level check.
#[inline(always)]
pub fn idle(site: &'static Site) -> bool {
    site.idle()
}

/// The first step of a span: below the level, in a trace the sampler dropped or unwanted by the subscriber, the
/// body runs [`Plain`]; otherwise the span is to be built, from the user's values.
pub enum Begin {
    /// No span.
    Plain(Plain),
    /// A span to build with [`Builder::build`].
    Build(Builder),
}

/// Decides whether `site`'s span is built: the level, the sampler (a `#[traced]` fn without `parent`) and the
/// subscriber. Out of line: the expansion calls it only when the call is not [`idle`], so that the inlined part of
/// every fn is the idle check and the small frame it needs.
#[inline(never)]
pub fn begin(site: &'static Site) -> Begin {
    if enabled(site.level()) {
        begin_open(site)
    } else {
        // Registers the site at its first call: idle from the next one when nothing wants it.
        site.interest();
        Begin::Plain(Plain::new(site, None))
    }
}

/// [`begin`] and [`Builder::build`] in one call, for a span without values of the user's. Out of line, as
/// [`begin`].
#[inline(never)]
pub fn start(site: &'static Site) -> Started {
    if enabled(site.level()) {
        start_open(site)
    } else {
        // Registers the site at its first call: idle from the next one when nothing wants it.
        site.interest();
        Started::Plain(Plain::new(site, None))
    }
}

#[inline(never)]
fn begin_open(site: &'static Site) -> Begin {
    match site.sampling {
        Sampling::Ask { root } => {
            let unmarked = unmarked_root(root);
            match sampling::ask(root, || site.enabled_check()) {
                Asked::Dropped(ids) => Begin::Plain(Plain::new(site, Some(ids))),
                Asked::Disabled => Begin::Plain(Plain::new(site, None)),
                Asked::Build {
                    timed_by_layer,
                    statics_only,
                } => Begin::Build(Builder {
                    site,
                    timed_by_layer,
                    statics_only,
                    _unmarked: unmarked,
                }),
            }
        }
        // The parent decides, not the trace around the fn: no unsampled mark while the span is built.
        Sampling::Parent => builder(site, false, Some(Mark::set(None))),
        // A block inside a dropped trace is left out of the pipeline by the span layer; with no layer but
        // `traced`'s its span is not built at all, as the filter answered before the callsites of blocks were let
        // through (the span subscriber checks them per span, `traces::span_subscriber`).
        Sampling::Inherit if sampling::in_unsampled_trace() && sampling::sole_pipeline() => {
            Begin::Plain(Plain::new(site, None))
        }
        Sampling::Inherit => builder(site, false, None),
    }
}

/// [`begin_open`] then [`Builder::build`]: the sampler's answer first, in a small frame, since in a dropped trace
/// that is all a call does.
#[inline(never)]
fn start_open(site: &'static Site) -> Started {
    match site.sampling {
        Sampling::Ask { root } => {
            let unmarked = unmarked_root(root);
            match sampling::ask(root, || site.enabled_check()) {
                Asked::Dropped(ids) => Started::Plain(Plain::new(site, Some(ids))),
                Asked::Disabled => Started::Plain(Plain::new(site, None)),
                Asked::Build {
                    timed_by_layer,
                    statics_only,
                } => start_built(site, timed_by_layer, statics_only, unmarked),
            }
        }
        Sampling::Parent | Sampling::Inherit => match begin_open(site) {
            Begin::Plain(plain) => Started::Plain(plain),
            Begin::Build(builder) => Started::Span(builder.build(&[])),
        },
    }
}

/// The span of a site the sampler and the subscriber both want.
#[inline(never)]
fn start_built(
    site: &'static Site,
    timed_by_layer: bool,
    statics_only: bool,
    unmarked: Option<Mark>,
) -> Started {
    let builder = Builder {
        site,
        timed_by_layer,
        statics_only,
        _unmarked: unmarked,
    };
    Started::Span(builder.build(&[]))
}

/// For a `root` fn inside a dropped trace, the thread's mark cleared until its span is built: the trace it starts
/// is its own, sampled on its own, and the mark would keep its span from the pipeline (a dropped trace's spans are).
#[inline]
fn unmarked_root(root: bool) -> Option<Mark> {
    (root && sampling::in_unsampled_trace()).then(|| Mark::set(None))
}

/// A builder for `site`'s span, if the subscriber wants it.
#[inline]
fn builder(site: &'static Site, timed_by_layer: bool, unmarked: Option<Mark>) -> Begin {
    if site.is_enabled() {
        Begin::Build(Builder {
            site,
            timed_by_layer,
            statics_only: false,
            _unmarked: unmarked,
        })
    } else {
        Begin::Plain(Plain::new(site, None))
    }
}

/// A body run without a span, with the thread marked as running a dropped trace when the sampler dropped it (so
/// that what the body calls is dropped too), and its call of the function metrics, which count every call.
pub struct Plain {
    unsampled: Option<Unsampled>,
    call: Call,
}

impl Plain {
    #[inline]
    fn new(site: &'static Site, unsampled: Option<Unsampled>) -> Plain {
        Plain {
            unsampled,
            call: site.call(),
        }
    }

    /// True when there is nothing to do: no dropped trace to mark, no call to record.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.unsampled.is_none() && !self.call.is_recorded()
    }

    /// A call with nothing to do, for tests.
    #[cfg(test)]
    pub(super) fn empty() -> Plain {
        Plain {
            unsampled: None,
            call: Call::OFF,
        }
    }

    /// A call in a dropped trace, for tests.
    #[cfg(test)]
    pub(super) fn unsampled_for_test() -> Plain {
        Plain {
            unsampled: Some(Unsampled::for_test()),
            call: Call::OFF,
        }
    }

    /// Marks the thread until the guard drops, if the sampler dropped the trace, and makes the call the caller
    /// of what the body calls.
    #[inline]
    pub fn mark(&self) -> Marked {
        Marked(
            self.unsampled.map(|ids| Mark::set(Some(ids))),
            self.call.scope(),
        )
    }

    /// Ends the call: `error` is the error type of what the body returned (`None` for success). Out of line:
    /// recording the metrics, inlined, made every fn's frame larger.
    #[inline(never)]
    pub fn finish(self, error: Option<&'static str>) {
        self.call.finish(error);
    }
}

/// See [`Plain::mark`].
pub struct Marked(
    #[allow(dead_code)] Option<Mark>,
    #[allow(dead_code)] Option<CallerScope>,
);

/// A span about to be built: the user's values are evaluated only now, as `tracing::span!` evaluates them.
pub struct Builder {
    site: &'static Site,
    /// `traced`'s span layer records `duration_ms` from the span's own start and end: no clock read here.
    timed_by_layer: bool,
    /// No reader of field values but `traced`'s own, which take the `code.*` values from the site: they are not
    /// passed.
    statics_only: bool,
    /// Held while the span of a fn with an explicit `parent`, or of a `root` fn inside a dropped trace, is built.
    _unmarked: Option<Mark>,
}

impl Builder {
    /// Builds the span with the user's `values` (`args`, then `fields`, then the keys of a `span!`), under the
    /// current span, or as a root for `root`.
    #[inline(never)]
    pub fn build(self, values: &[Option<&dyn tracing::Value>]) -> Running {
        let site = self.site;
        let meta = site.meta();
        let span = site.with_values(values, self.statics_only, |values| {
            let values = meta.fields().value_set_all(values);
            if site.sampling == (Sampling::Ask { root: true }) {
                Span::new_root(meta, &values)
            } else {
                Span::new(meta, &values)
            }
        });
        Running::new(span, self.timed_by_layer, site)
    }

    /// Builds the span under `parent` (option `parent`), which also becomes its OpenTelemetry parent.
    #[inline(never)]
    pub fn build_child(
        self,
        parent: &dyn Parent,
        values: &[Option<&dyn tracing::Value>],
    ) -> Running {
        let site = self.site;
        let meta = site.meta();
        let span = site.with_values(values, self.statics_only, |values| {
            Span::child_of(
                parent.tracing_parent(),
                meta,
                &meta.fields().value_set_all(values),
            )
        });
        parent.apply(&span);
        Running::new(span, self.timed_by_layer, site)
    }
}

/// What [`start`] gives: a body to run plain, or a span to run it in.
pub enum Started {
    /// No span.
    Plain(Plain),
    /// A span, built.
    Span(Running),
}

impl Started {
    /// [`Running::finish`], or [`Plain::finish`] (only the call to end): what an async body's completion calls.
    #[inline]
    pub fn finish(
        self,
        failure: Failure<'_>,
        ret: Option<&dyn tracing::Value>,
        error: Option<&'static str>,
    ) {
        match self {
            Started::Plain(plain) => plain.finish(error),
            Started::Span(running) => running.finish(failure, ret, error),
        }
    }
}

/// An enabled span with its timer and its call of the function metrics: runs the body, then records what it
/// returned.
pub struct Running {
    span: Span,
    timer: Timer,
    site: &'static Site,
    /// Started after the span, ended after it: the call's duration is inside the span's. Dropped while
    /// unwinding, it ends as a panic; dropped otherwise (a future given up on), as cancelled.
    call: Call,
    /// What an [`Unguarded`] poll replaced on this thread and gives back when it ends: kept here, behind the
    /// future's one pointer, rather than in a poll frame a recursive async fn pays per level.
    outside: Outside,
}

/// The thread's sampling mark (replaced when the timer [marks](Timer::marks)) and caller (when the call is
/// recorded) before an [`Unguarded`] poll.
#[derive(Default)]
struct Outside {
    mark: Option<Unsampled>,
    caller: Option<&'static crate::metrics::function::FnMetrics>,
}

impl Running {
    #[inline]
    fn new(span: Span, timed_by_layer: bool, site: &'static Site) -> Self {
        let timer = Timer::begin(&span, timed_by_layer);
        let call = site.call();
        Running {
            span,
            timer,
            site,
            call,
            outside: Outside::default(),
        }
    }

    /// Adds a link (option `link`).
    pub fn link(&self, link: &dyn Link) {
        link.add_to(&self.span);
    }

    /// Runs `body` inside the span: entered, the thread marked as running a sampled trace, a panic recorded on the
    /// span before it continues.
    pub fn run(&self, body: &mut dyn FnMut()) {
        if let Err(payload) = self.catch(body) {
            resume_panic(&self.span, self.timer, payload);
        }
    }

    /// [`Running::run`] for the body of a `-> !` fn, which can only leave by unwinding.
    pub fn run_never(&self, body: &mut dyn FnMut()) -> ! {
        self.run(body);
        unreachable!("the body of a `-> !` fn returned")
    }

    fn catch(&self, body: &mut dyn FnMut()) -> Result<(), Box<dyn Any + Send>> {
        let _entered = enter(&self.span, &self.timer);
        let _caller = self.call.scope();
        let catching = Catching::begin();
        let result = catch_unwind(AssertUnwindSafe(body));
        catching.end(result.as_ref().err());
        result
    }

    /// Closes the span of a poll that unwound with no catch of its own, once the catch above it has the
    /// panic's `message`; the call ends as a panic.
    #[cold]
    fn unwound(self, message: &str) {
        if !self.span.is_disabled() {
            record_exception(&self.span, "panic", message, None, true);
            self.timer.finish(&self.span);
        }
        self.call.finish(Some(PANIC));
    }

    /// Records what the body returned (an `Err` as `failure`, the value itself with `ret`) and the duration; the
    /// span closes. Then the call ends, with `error` (the error type of an `Err`, `None` for success) and the
    /// span as its exemplar if it is sampled.
    pub fn finish(
        self,
        failure: Failure<'_>,
        ret: Option<&dyn tracing::Value>,
        error: Option<&'static str>,
    ) {
        if !self.span.is_disabled() {
            if !matches!(failure, Failure::None) {
                record_failure(&self.span, self.site.err, failure);
            }
            if let Some(ret) = ret {
                self.span.record(RETURN_VALUE, ret);
            }
            self.timer.finish(&self.span);
        }
        self.call.finish_in(error, &self.span);
    }

    /// Dropped before completion: the caller gave up on the future (the call, dropped, counts as cancelled).
    #[cold]
    fn cancel(self) {
        if self.span.is_disabled() {
            return;
        }
        self.span.record(CANCELLED, true);
        self.timer.finish(&self.span);
    }
}

/// How a span is timed, and how its body marks the thread: a disabled span (nothing to time, the thread's mark
/// stays), or an enabled one, timed here from an instant or by `traced`'s span layer.
#[derive(Clone, Copy, Debug)]
enum Timer {
    /// A disabled span.
    Off,
    /// Timed here from this instant.
    Since(Instant),
    /// `traced`'s span layer records `duration_ms` from the span's own start and end, so the clock is read once
    /// per span end rather than twice more here.
    ByLayer,
}

impl Timer {
    #[inline]
    fn begin(span: &Span, timed_by_layer: bool) -> Self {
        if span.is_disabled() {
            Timer::Off
        } else if timed_by_layer {
            Timer::ByLayer
        } else {
            Timer::Since(Instant::now())
        }
    }

    /// True when the body marks the thread as running a sampled trace: the span is enabled.
    #[inline]
    fn marks(self) -> bool {
        !matches!(self, Timer::Off)
    }

    /// Records `duration_ms` on `span`, unless the layer does.
    #[inline]
    fn finish(self, span: &Span) {
        if let Timer::Since(start) = self {
            span.record(DURATION_MS, start.elapsed().as_secs_f64() * 1e3);
        }
    }
}

/// A span entered, with the thread marked as running a sampled trace (unless the span is disabled).
struct Entered<'a> {
    _entered: tracing::span::Entered<'a>,
    _mark: Option<Mark>,
}

#[inline]
fn enter<'a>(span: &'a Span, timer: &Timer) -> Entered<'a> {
    Entered {
        _entered: span.enter(),
        _mark: timer.marks().then(|| Mark::set(None)),
    }
}

/// Consumed by a body's closure, which makes it `FnOnce` (what it is: it runs once, and may move its captures out
/// or return borrows of them) without a generic helper to say so.
pub struct Once;

impl Once {
    /// Moves `self` into the closure that calls it.
    #[inline(always)]
    pub fn take(self) {}
}

/// The arm after [`Running::run`] that cannot be taken (the body's value is there once `run` returns): one cold
/// function for every fn, rather than a panic location in each.
#[cold]
#[inline(never)]
pub fn unreachable() -> ! {
    unreachable!("`Running::run` returned before its body did")
}

/// Records a panic on `span`, closes its duration, and resumes unwinding with the same payload.
#[cold]
fn resume_panic(span: &Span, timer: Timer, payload: Box<dyn Any + Send>) -> ! {
    if span.is_disabled() {
        resume_unwind(payload);
    }
    record_exception(span, "panic", panic_message(&*payload), None, true);
    timer.finish(span);
    resume_unwind(payload)
}

/// The message of a panic's payload.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "Box<dyn Any>"
    }
}

thread_local! {
    /// How many of `traced`'s catches are on this thread's stack (a sync body's or a poll's).
    static CATCHING: Cell<u32> = const { Cell::new(0) };
    /// The spans of polls that unwound beneath such a catch, innermost first, waiting for its payload.
    static UNWOUND: RefCell<Vec<Running>> = const { RefCell::new(Vec::new()) };
}

/// One catch of `traced`'s on this thread's stack, from [`Catching::begin`] to [`Catching::end`].
///
/// A poll beneath it needs no `catch_unwind` of its own ([`Unguarded`]): each one cost a recursive async fn
/// about 400 bytes of stack per level (the catching frames and the `dyn` call into the body). Such a poll
/// hands its span over when it unwinds, and the catch closes it with the panic's message before its own.
struct Catching {
    /// The length of [`UNWOUND`] when this catch began: the spans after it unwound beneath it.
    mark: usize,
}

impl Catching {
    #[inline]
    fn begin() -> Catching {
        CATCHING.with(|n| n.set(n.get() + 1));
        Catching {
            mark: UNWOUND.try_with(|spans| spans.borrow().len()).unwrap_or(0),
        }
    }

    /// Closes the spans that unwound beneath this catch: with the message of `panic`, or, when a catch of the
    /// user's in between stopped it, with what is known.
    #[inline]
    fn end(self, panic: Option<&Box<dyn Any + Send>>) {
        CATCHING.with(|n| n.set(n.get() - 1));
        let unwound = UNWOUND
            .try_with(|spans| {
                let mut spans = spans.borrow_mut();
                (spans.len() > self.mark).then(|| spans.split_off(self.mark))
            })
            .ok()
            .flatten();
        if let Some(unwound) = unwound {
            close_unwound(unwound, panic.map(|payload| panic_message(&**payload)));
        }
    }
}

#[cold]
#[inline(never)]
fn close_unwound(unwound: Vec<Running>, message: Option<&str>) {
    let message = message.unwrap_or("a panic, caught before it left the fn's caller");
    for running in unwound {
        running.unwound(message);
    }
}

/// True when a catch of `traced`'s is on this thread's stack.
#[inline(always)]
fn catching() -> bool {
    CATCHING.with(Cell::get) > 0
}

/// A poll in its span beneath a catch of `traced`'s, with none of its own: entered, the thread marked, the call
/// the caller (what it replaced kept in the boxed [`Running`]); if the poll unwinds, the span goes to [`UNWOUND`]
/// for that catch to close.
struct Unguarded<'a> {
    open: &'a mut Open,
    /// Set once the poll returned.
    done: bool,
}

impl<'a> Unguarded<'a> {
    /// Out of line: what it moves between the thread and the box passed through the poll's frame, which is on
    /// the stack while the body runs (16 bytes per level of a recursive async fn).
    #[inline(never)]
    fn enter(open: &'a mut Open) -> Unguarded<'a> {
        if let Some(running) = open.0.as_deref_mut() {
            // Entered through the dispatch, not `Span::enter`: its guard would borrow the span, which an unwinding
            // poll hands over.
            running
                .span
                .with_subscriber(|(id, dispatch)| dispatch.enter(id));
            if running.timer.marks() {
                running.outside.mark = replace_mark(None);
            }
            if let Some(caller) = running.call.replace_caller() {
                running.outside.caller = caller;
            }
        }
        Unguarded { open, done: false }
    }
}

impl Drop for Unguarded<'_> {
    #[inline]
    fn drop(&mut self) {
        let Some(running) = self.open.0.as_deref_mut() else {
            return;
        };
        if running.call.is_recorded() {
            replace_caller(running.outside.caller);
        }
        if running.timer.marks() {
            replace_mark(running.outside.mark);
        }
        running
            .span
            .with_subscriber(|(id, dispatch)| dispatch.exit(id));
        if !self.done {
            self.unwinding();
        }
    }
}

impl Unguarded<'_> {
    #[cold]
    #[inline(never)]
    fn unwinding(&mut self) {
        if let Some(running) = self.open.0.take() {
            // With this thread's locals torn down, the closure drops it: the span closes here, without the message.
            let _ = UNWOUND.try_with(move |spans| spans.borrow_mut().push(*running));
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of an async fn or block, with its span entered on every poll (or the thread marked as running
    /// a dropped trace). On completion `finish` records the output (the probes of the expansion, which know its
    /// type) and closes the span; dropped before completion, the span is marked `cancelled`.
    ///
    /// The span is boxed, and so is what a call without one holds (the dropped trace's ids, the call of the
    /// function metrics; in a box its thread reuses): the future is its body and two words. An `async fn` moves
    /// it into its state, and a recursive one builds the next level's future on the stack of its poll, once per
    /// level (`benches/recursion`); moving the span along cost about 25 instructions per call without a
    /// subscriber, under callgrind, where the box costs about 100 in a sampled call of about 11,000.
    pub struct Traced<F, C> {
        #[pin]
        inner: F,
        state: State,
        finish: Option<C>,
    }
}

/// What a [`Traced`] future runs its body with.
enum State {
    /// Not polled yet: the site's own start at the first poll ([`Traced::start`]).
    Unstarted(&'static Site),
    /// No span: what the body runs with behind one pointer, if anything.
    Plain(Pooled),
    /// A span, until the future completes.
    Span(Open),
}

impl State {
    /// The state a start gives.
    #[inline]
    fn of(started: Started) -> State {
        match started {
            Started::Plain(plain) => State::Plain(Pooled::new(plain)),
            Started::Span(running) => State::Span(Open(Some(Box::new(running)))),
        }
    }

    /// The start of `site`, in place: what starting builds stays in this frame, which is not on the stack while
    /// the body runs (a recursive async fn polls its next level from inside the poll of this one).
    #[inline(never)]
    fn start(&mut self, site: &'static Site) {
        *self = State::of(start(site));
    }
}

/// The span of a [`Traced`] future, until it completes.
pub struct Open(Option<Box<Running>>);

impl Drop for Open {
    #[inline]
    fn drop(&mut self) {
        if let Some(running) = self.0.take() {
            running.cancel();
        }
    }
}

impl Open {
    /// Polls inside the span; a panic is recorded (and the span closed, not cancelled) before it continues.
    fn poll_in_span(&mut self, poll: &mut dyn FnMut()) {
        let Some(running) = &self.0 else {
            return poll();
        };
        if let Err(payload) = running.catch(poll) {
            self.panicked(payload);
        }
    }

    /// The poll panicked: recorded, the span closed, the unwinding resumed. Out of line, as [`complete_span`].
    #[cold]
    #[inline(never)]
    fn panicked(&mut self, payload: Box<dyn Any + Send>) -> ! {
        if let Some(running) = self.0.take() {
            resume_panic(&running.span, running.timer, payload);
        }
        resume_unwind(payload)
    }
}

impl<F: Future, C: FnOnce(Started, &F::Output)> Traced<F, C> {
    /// Wraps `inner`, to run as [`start`] (or [`begin`] and [`Builder::build`]) said; `finish` records its output
    /// with [`Running::finish`].
    ///
    /// Out of line: a recursive async fn builds the next level's future inside the poll of this one, so what
    /// building it keeps on the stack is paid once per level (`benches/recursion`). An idle call (no
    /// subscriber, no metrics) never gets here: the expansion awaits its body as is.
    #[inline(never)]
    pub fn new(started: Started, inner: F, finish: C) -> Self {
        Traced {
            inner,
            state: State::of(started),
            finish: Some(finish),
        }
    }

    /// [`Traced::new`] with the site's own start, for a span without values of the user's, of a call that is not
    /// [`idle`] (the expansion awaits an idle call's body as is). The start waits for the first poll, which comes
    /// right after (the expansion awaits it): built here and moved into the async fn's state, it took a
    /// recursive async fn's poll two copies of the whole future on the stack, per level.
    #[inline(always)]
    pub fn start(site: &'static Site, inner: F, finish: C) -> Self {
        Traced {
            inner,
            state: State::Unstarted(site),
            finish: Some(finish),
        }
    }
}

impl<F: Future, C: FnOnce(Started, &F::Output)> Future for Traced<F, C> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        if let State::Unstarted(site) = *this.state {
            this.state.start(site);
        }
        match this.state {
            // No span: the body as is, the thread marked on each poll if the sampler dropped its trace, the call
            // (if metrics are on) the caller of what the body calls.
            State::Plain(plain) => poll_plain(this.inner, plain, this.finish, cx),
            State::Span(open) => {
                // Beneath a catch of ours (the poll of an enclosing async fn, a sync body): none here.
                let polled = if catching() {
                    let mut guard = Unguarded::enter(open);
                    let polled = this.inner.as_mut().poll(cx);
                    guard.done = true;
                    polled
                } else {
                    poll_catching(this.inner, open, cx)
                };
                if let Poll::Ready(output) = &polled {
                    complete_span(open, this.finish, output);
                }
                polled
            }
            // Started above.
            State::Unstarted(_) => Poll::Pending,
        }
    }
}

/// Polls `inner` without a span, the thread marked if the sampler dropped its trace, the call (if metrics are on)
/// the caller of what the body calls. Out of line, so that the saved mark is not in the frame of a span's poll.
#[inline(never)]
fn poll_plain<F: Future, C: FnOnce(Started, &F::Output)>(
    inner: Pin<&mut F>,
    plain: &mut Pooled,
    finish: &mut Option<C>,
    cx: &mut TaskContext<'_>,
) -> Poll<F::Output> {
    let polled = match plain.get() {
        Some(plain) => {
            let _mark = plain.mark();
            inner.poll(cx)
        }
        None => inner.poll(cx),
    };
    if let Poll::Ready(output) = &polled {
        complete_plain(plain, finish, output);
    }
    polled
}

/// Polls `inner` in its span under a catch of its own: the outermost span poll on this thread's stack. Out of
/// line, so that the catch's closure and result are not in the frame of every level of a recursive async fn
/// (the levels beneath poll [`Unguarded`]).
#[inline(never)]
fn poll_catching<F: Future>(
    mut inner: Pin<&mut F>,
    open: &mut Open,
    cx: &mut TaskContext<'_>,
) -> Poll<F::Output> {
    let mut polled = Poll::Pending;
    open.poll_in_span(&mut || polled = inner.as_mut().poll(cx));
    polled
}

/// Records the output of a completed [`Traced`] future without a span. Out of line, as [`complete_span`].
#[inline(never)]
fn complete_plain<O, C: FnOnce(Started, &O)>(
    plain: &mut Pooled,
    finish: &mut Option<C>,
    output: &O,
) {
    if let (Some(plain), Some(finish)) = (plain.take(), finish.take()) {
        finish(Started::Plain(plain), output);
    }
}

/// Records the output of a completed [`Traced`] future and closes its span. Out of line: a recursive async fn
/// polls its next level from inside `poll`, so what `poll` keeps on the stack is paid once per level, and the
/// span, unboxed here, is not part of it.
#[inline(never)]
fn complete_span<O, C: FnOnce(Started, &O)>(open: &mut Open, finish: &mut Option<C>, output: &O) {
    if let (Some(running), Some(finish)) = (open.0.take(), finish.take()) {
        finish(Started::Span(*running), output);
    }
}
