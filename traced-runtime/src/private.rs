//! Everything the expansion of `#[traced]` calls. Not a stable API: only the macro of the same version may use it
//! (`traced-runtime` pins `traced-macros` with `=x.y.z`).
//!
//! Every helper here checks `Span::is_disabled` before it reads a clock, allocates or formats, so a fn whose span
//! is disabled (no subscriber, level filtered out) does no more work than `#[tracing::instrument]` would, and a
//! fn whose trace the sampler drops builds no span at all ([`skip`]).

use std::any::Any;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use opentelemetry::trace::{SpanContext, TraceContextExt};
use tracing::Span;

use crate::sampling::{Mark, Unsampled};

pub use ::tracing;

/// Target of the `exception` events the expansion emits, so filters can name them.
pub const EXCEPTION_TARGET: &str = "traced";

// ---------------------------------------------------------------------------------------------------------------
// Timing and completion

/// True when a span at `level` can be enabled: the static and the current max level, the test `tracing::span!`
/// starts with. Below it the expansion builds nothing and runs the body as is.
#[inline(always)]
pub fn enabled(level: tracing::Level) -> bool {
    level <= tracing::level_filters::STATIC_MAX_LEVEL
        && level <= tracing::level_filters::LevelFilter::current()
}

/// Decides, before the span is built, that a `#[traced]` span belongs to a trace the sampler drops: the span is
/// then `Span::none()` and the fn runs marked as unsampled (see `crate::sampling`). `root` is the `root` option.
/// Asked only when the span's level is [`enabled`].
#[inline]
pub fn skip(root: bool) -> Skip {
    let (unsampled, timed_by_layer) = crate::sampling::skip(root);
    Skip {
        unsampled,
        timed_by_layer,
    }
}

/// What [`skip`] decided: build the span, or not, with the ids of the dropped trace it belongs to.
#[derive(Clone, Copy)]
pub struct Skip {
    unsampled: Option<Unsampled>,
    /// `traced`'s span layer records `duration_ms` from the span's own start and end: no clock read here.
    timed_by_layer: bool,
}

impl Skip {
    /// Build the span (a span with an explicit `parent`, a `span!` block).
    pub const NO: Skip = Skip {
        unsampled: None,
        timed_by_layer: false,
    };

    /// True when the span is not built.
    #[inline]
    pub fn is_skipped(self) -> bool {
        self.unsampled.is_some()
    }
}

/// Clears the unsampled mark while a span with an explicit `parent` is created: its parent decides, not the
/// trace around it.
pub struct Unmarked(#[allow(dead_code)] Mark);

/// See [`Unmarked`].
#[inline]
pub fn unmarked() -> Unmarked {
    Unmarked(Mark::set(None))
}

/// How a span is timed, and how the fn marks its thread: in a sampled trace (a real span), an unsampled one
/// (skipped by [`skip`]), or neither (a disabled span: it keeps the thread's mark).
#[derive(Clone, Copy, Debug)]
pub struct Timer(Timing);

#[derive(Clone, Copy, Debug)]
enum Timing {
    /// A disabled span: nothing to time, the thread's mark stays.
    Off,
    /// No span: the sampler dropped the trace the fn runs in.
    Unsampled(Unsampled),
    /// An enabled span, timed here from this instant.
    Since(Instant),
    /// An enabled span whose `duration_ms` `traced`'s span layer records from the span's own start and end, so
    /// the clock is read once per span end rather than twice more here.
    ByLayer,
}

impl Timer {
    /// Reads the clock if `span` records anything (for spans that never ask [`skip`], such as `span!` blocks).
    #[inline]
    pub fn start(span: &Span) -> Self {
        Timer::begin(span, Skip::NO)
    }

    /// Reads the clock if `span` records anything and no layer times it; `skip` is what [`skip()`] said.
    #[inline]
    pub fn begin(span: &Span, skip: Skip) -> Self {
        Timer(if span.is_disabled() {
            skip.unsampled.map_or(Timing::Off, Timing::Unsampled)
        } else if skip.timed_by_layer {
            Timing::ByLayer
        } else {
            Timing::Since(Instant::now())
        })
    }

    /// Records `duration_ms` on `span`, unless the layer does.
    #[inline]
    pub fn finish(self, span: &Span) {
        if let Timing::Since(start) = self.0 {
            span.record("duration_ms", start.elapsed().as_secs_f64() * 1e3);
        }
    }

    #[inline]
    fn mark(&self) -> Option<Mark> {
        match self.0 {
            Timing::Off => None,
            Timing::Unsampled(ids) => Some(Mark::set(Some(ids))),
            Timing::Since(_) | Timing::ByLayer => Some(Mark::set(None)),
        }
    }
}

/// The span and sampling decision of an [`enabled`] level, or a disabled span.
#[inline(always)]
pub fn started(started: Option<(Span, Skip)>) -> (Span, Skip) {
    started.unwrap_or_else(|| (Span::none(), Skip::NO))
}

/// Types a sync body's closure with the fn's return type, so `?`, coercions and the probes see what the fn
/// declares.
#[inline(always)]
pub fn body<R, F: FnOnce() -> R>(body: F) -> F {
    body
}

/// A span entered for a sync body, with the thread marked as running a sampled or an unsampled trace.
pub struct Entered<'a> {
    _entered: tracing::span::Entered<'a>,
    _mark: Option<Mark>,
}

/// Enters `span` and marks the thread as `timer` says, both until the guard drops.
#[inline]
pub fn enter<'a>(span: &'a Span, timer: &Timer) -> Entered<'a> {
    Entered {
        _entered: span.enter(),
        _mark: timer.mark(),
    }
}

/// Runs a sync fn body inside its enabled (or sampled-out) span: times it, records what `record` finds in the
/// returned value, and records a panic before it continues. Out of line, so the disabled path of the expansion
/// stays a level check and a call.
#[inline(never)]
pub fn run<R, B, C>(span: Span, skip: Skip, body: B, record: C) -> R
where
    B: FnOnce() -> R,
    C: FnOnce(&R, &Span),
{
    let timer = Timer::begin(&span, skip);
    let result = {
        let _entered = enter(&span, &timer);
        catch(body)
    };
    match result {
        Ok(ret) => {
            record(&ret, &span);
            timer.finish(&span);
            ret
        }
        Err(payload) => resume_panic(&span, timer, payload),
    }
}

/// Runs a sync fn body in a trace the sampler dropped: no span, only the thread's mark, so that what the body
/// calls is dropped too. The mark is restored on unwind as well.
#[inline]
pub fn run_marked<R>(skip: Skip, body: impl FnOnce() -> R) -> R {
    let _mark = Mark::set(skip.unsampled);
    body()
}

/// Runs a fn body, catching a panic so it can be recorded before it continues.
#[inline(always)]
pub fn catch<R, F: FnOnce() -> R>(body: F) -> Result<R, Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(body))
}

/// Records a panic on `span`, closes its duration, and resumes unwinding with the same payload.
#[cold]
pub fn resume_panic(span: &Span, timer: Timer, payload: Box<dyn Any + Send>) -> ! {
    record_panic(span, &*payload);
    timer.finish(span);
    resume_unwind(payload)
}

fn record_panic(span: &Span, payload: &(dyn Any + Send)) {
    if span.is_disabled() {
        return;
    }
    let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "Box<dyn Any>"
    };
    record_exception(span, "panic", message, None);
}

/// What is left of a span after its future completed: the span itself, to record the result on, and the timer.
pub struct Completed {
    span: Span,
    timer: Timer,
}

impl Completed {
    /// The span, to record the returned value on.
    #[inline]
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Records the duration; the span closes when `self` drops.
    #[inline]
    pub fn finish(self) {
        self.timer.finish(&self.span);
    }
}

pin_project_lite::pin_project! {
    /// A future that runs inside its span on every poll, records panics, and marks the span `cancelled` when it is
    /// dropped before completion.
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        span: Option<Span>,
        timer: Timer,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.take() {
                // Dropped before `Ready`: the caller gave up on the future.
                if !span.is_disabled() {
                    span.record("cancelled", true);
                    this.timer.finish(&span);
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of an async fn without a span: polled as is, with the thread marked as running a dropped
    /// trace on each poll when the sampler dropped it (so that what the fn calls is dropped too).
    pub struct Marked<F> {
        #[pin]
        inner: F,
        unsampled: Option<Unsampled>,
    }
}

impl<F: Future> Marked<F> {
    /// Wraps `inner`; `started` is the disabled span and what [`skip`] said, if the level was enabled. The span
    /// is dropped here, not kept in the future.
    #[inline]
    pub fn new(started: Option<(Span, Skip)>, inner: F) -> Self {
        Marked {
            inner,
            unsampled: started.and_then(|(_, skip)| skip.unsampled),
        }
    }
}

impl<F: Future> Future for Marked<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        match *this.unsampled {
            None => this.inner.poll(cx),
            Some(ids) => {
                let _mark = Mark::set(Some(ids));
                this.inner.poll(cx)
            }
        }
    }
}

impl<F: Future> Instrumented<F> {
    /// Wraps `inner`, whose span is already started.
    #[inline]
    pub fn new(span: Span, timer: Timer, inner: F) -> Self {
        Instrumented {
            inner,
            span: Some(span),
            timer,
        }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = (F::Output, Completed);

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(span) = this.span.as_ref() else {
            // Polled after completion: the inner future decides (most panic).
            return match this.inner.poll(cx) {
                Poll::Ready(_) => unreachable!("`Instrumented` polled after completion"),
                Poll::Pending => Poll::Pending,
            };
        };
        let polled = {
            let _entered = enter(span, this.timer);
            let inner = this.inner;
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        };
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                let span = this.span.take().unwrap_or_else(Span::none);
                Poll::Ready((
                    output,
                    Completed {
                        span,
                        timer: *this.timer,
                    },
                ))
            }
            Err(payload) => {
                let span = this.span.take().unwrap_or_else(Span::none);
                resume_panic(&span, *this.timer, payload)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/// How an `Err` is described.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrFormat {
    /// With `Display` (the default).
    Display,
    /// With `Debug` (`err(Debug)`).
    Debug,
}

/// Records an error: `error.type`, an `exception` event, status ERROR with the message, and the `source()` chain
/// as `error.chain` (one cause per line).
#[cold]
pub fn record_exception(span: &Span, error_type: &str, message: &str, chain: Option<&str>) {
    tracing::event!(
        target: EXCEPTION_TARGET,
        parent: span,
        tracing::Level::ERROR,
        "exception.type" = error_type,
        "exception.message" = message,
        "exception.stacktrace" = chain,
        "exception"
    );
    span.record("error.type", error_type);
    if let Some(chain) = chain {
        span.record("error.chain", chain);
    }
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", message);
}

fn source_chain(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut chain = String::new();
    let mut next = error.source();
    while let Some(cause) = next {
        if !chain.is_empty() {
            chain.push('\n');
        }
        chain.push_str(&cause.to_string());
        next = cause.source();
    }
    (!chain.is_empty()).then_some(chain)
}

#[cold]
fn record_error<E: ?Sized + Display + Debug>(
    span: &Span,
    format: ErrFormat,
    error_type: &str,
    error: &E,
    dyn_error: Option<&(dyn std::error::Error + 'static)>,
) {
    let message = match format {
        ErrFormat::Display => error.to_string(),
        ErrFormat::Debug => format!("{error:?}"),
    };
    let chain = dyn_error.and_then(source_chain);
    record_exception(span, error_type, &message, chain.as_deref());
}

/// The value a traced fn returned, probed by autoref specialization: an `Err` of any `Result` is recorded whatever
/// the spelling of its type (aliases such as `io::Result` or `anyhow::Result` included), because the impl is chosen
/// by the type of the value, not by the tokens of the signature.
pub struct Returned<'a, T: ?Sized>(pub &'a T);

/// `Result<T, E>` with `E: std::error::Error`: message and `source()` chain.
pub trait RecordStdError {
    /// Records an `Err` on `span`.
    fn __traced_record(&self, span: &Span, format: ErrFormat);
}

impl<T, E: std::error::Error + 'static> RecordStdError for &&&&Returned<'_, Result<T, E>> {
    #[inline]
    fn __traced_record(&self, span: &Span, format: ErrFormat) {
        if let Err(error) = self.0 {
            if !span.is_disabled() {
                record_error(span, format, short_type_name::<E>(), error, Some(error));
            }
        }
    }
}

/// `Result<T, E>` where `E` dereferences to an error (`anyhow::Error`, `Box<dyn Error>`).
pub trait RecordDerefError {
    /// Records an `Err` on `span`.
    fn __traced_record(&self, span: &Span, format: ErrFormat);
}

impl<T, E> RecordDerefError for &&&Returned<'_, Result<T, E>>
where
    E: std::ops::Deref + Display + Debug,
    E::Target: AsDynError,
{
    #[inline]
    fn __traced_record(&self, span: &Span, format: ErrFormat) {
        if let Err(error) = self.0 {
            if !span.is_disabled() {
                let inner = (**error).as_dyn_error();
                record_error(span, format, short_type_name::<E>(), error, Some(inner));
            }
        }
    }
}

/// An error behind a pointer, sized or a trait object, seen as `&dyn Error` to walk its `source()` chain.
pub trait AsDynError {
    /// Upcasts.
    fn as_dyn_error(&self) -> &(dyn std::error::Error + 'static);
}

impl<E: std::error::Error + 'static> AsDynError for E {
    fn as_dyn_error(&self) -> &(dyn std::error::Error + 'static) {
        self
    }
}

impl AsDynError for dyn std::error::Error + 'static {
    fn as_dyn_error(&self) -> &(dyn std::error::Error + 'static) {
        self
    }
}

impl AsDynError for dyn std::error::Error + Send + 'static {
    fn as_dyn_error(&self) -> &(dyn std::error::Error + 'static) {
        self
    }
}

impl AsDynError for dyn std::error::Error + Send + Sync + 'static {
    fn as_dyn_error(&self) -> &(dyn std::error::Error + 'static) {
        self
    }
}

/// `Result<T, E>` with `E: Display` only.
pub trait RecordDisplayError {
    /// Records an `Err` on `span`.
    fn __traced_record(&self, span: &Span, format: ErrFormat);
}

impl<T, E: Display> RecordDisplayError for &&Returned<'_, Result<T, E>> {
    #[inline]
    fn __traced_record(&self, span: &Span, _format: ErrFormat) {
        if let Err(error) = self.0 {
            if !span.is_disabled() {
                let message = error.to_string();
                record_exception(span, short_type_name::<E>(), &message, None);
            }
        }
    }
}

/// `Result<T, E>` with `E: Debug` only.
pub trait RecordDebugError {
    /// Records an `Err` on `span`.
    fn __traced_record(&self, span: &Span, format: ErrFormat);
}

impl<T, E: Debug> RecordDebugError for &Returned<'_, Result<T, E>> {
    #[inline]
    fn __traced_record(&self, span: &Span, _format: ErrFormat) {
        if let Err(error) = self.0 {
            if !span.is_disabled() {
                let message = format!("{error:?}");
                record_exception(span, short_type_name::<E>(), &message, None);
            }
        }
    }
}

/// Anything else: nothing to record.
pub trait RecordNothing {
    /// Does nothing.
    fn __traced_record(&self, span: &Span, format: ErrFormat);
}

impl<T: ?Sized> RecordNothing for Returned<'_, T> {
    #[inline(always)]
    fn __traced_record(&self, _span: &Span, _format: ErrFormat) {}
}

/// `error.type` must be low-cardinality: the type's path without generic arguments, so `Box<dyn Error>` and
/// `MyError<u8>` do not explode into one value per instantiation.
fn short_type_name<E: ?Sized>() -> &'static str {
    let full = std::any::type_name::<E>();
    match full.find('<') {
        Some(at) => &full[..at],
        None => full,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Values of arguments, fields and return values

/// A value recorded as an attribute, probed by autoref specialization: integers, floats, bools and strings keep
/// their OTLP type; other types use `Display` when they have it, `Debug` otherwise.
pub struct Value<'a, T: ?Sized>(pub &'a T);

/// Types recorded with their own OTLP type.
pub trait Native {
    /// The `tracing` value it records as.
    type Out<'a>: AsField
    where
        Self: 'a;
    /// Converts without allocating.
    fn native(&self) -> Self::Out<'_>;
}

macro_rules! native_copy {
    ($($t:ty => $out:ty),* $(,)?) => {$(
        impl Native for $t {
            type Out<'a> = $out;
            #[inline(always)]
            fn native(&self) -> $out {
                <$out>::from(*self)
            }
        }
    )*};
}

native_copy!(
    i8 => i64, i16 => i64, i32 => i64, i64 => i64,
    u8 => i64, u16 => i64, u32 => i64,
    f32 => f64, f64 => f64, bool => bool,
);

impl Native for isize {
    type Out<'a> = i64;
    #[inline(always)]
    fn native(&self) -> i64 {
        // `isize` is at most 64 bits on every target Rust supports.
        i64::try_from(*self).unwrap_or(i64::MAX)
    }
}

impl Native for u64 {
    type Out<'a> = Unsigned;
    #[inline(always)]
    fn native(&self) -> Unsigned {
        Unsigned::new(*self)
    }
}

impl Native for usize {
    type Out<'a> = Unsigned;
    #[inline(always)]
    fn native(&self) -> Unsigned {
        Unsigned::new(u64::try_from(*self).unwrap_or(u64::MAX))
    }
}

/// A `u64` as OTLP can hold it: an `i64` when it fits, its decimal text otherwise. OTLP has no unsigned type, and
/// tracing-opentelemetry exports every `u64` it is given as text, so the value is narrowed here.
#[derive(Debug)]
pub enum Unsigned {
    /// At most `i64::MAX`.
    Fits(i64),
    /// Above `i64::MAX`: recorded as text rather than wrapped or clamped.
    Wide(tracing::field::DisplayValue<u64>),
}

impl Unsigned {
    #[inline(always)]
    fn new(value: u64) -> Self {
        match i64::try_from(value) {
            Ok(fits) => Unsigned::Fits(fits),
            Err(_) => Unsigned::Wide(tracing::field::display(value)),
        }
    }
}

/// A value the expansion can hand to `tracing` as a field: any `tracing::Value`, or an [`Unsigned`].
pub trait AsField {
    /// The value as `tracing` records it.
    fn as_field(&self) -> &dyn tracing::Value;
}

impl<T: tracing::Value> AsField for T {
    #[inline(always)]
    fn as_field(&self) -> &dyn tracing::Value {
        self
    }
}

impl AsField for Unsigned {
    #[inline(always)]
    fn as_field(&self) -> &dyn tracing::Value {
        match self {
            Unsigned::Fits(fits) => fits,
            Unsigned::Wide(wide) => wide,
        }
    }
}

/// The field value of a probed argument, field or return value.
#[inline(always)]
pub fn field<V: AsField>(value: &V) -> &dyn tracing::Value {
    value.as_field()
}

impl Native for str {
    type Out<'a> = &'a str;
    #[inline(always)]
    fn native(&self) -> &str {
        self
    }
}

impl Native for String {
    type Out<'a> = &'a str;
    #[inline(always)]
    fn native(&self) -> &str {
        self
    }
}

impl Native for std::borrow::Cow<'_, str> {
    type Out<'a>
        = &'a str
    where
        Self: 'a;
    #[inline(always)]
    fn native(&self) -> &str {
        self
    }
}

/// Pointers record what they point to.
macro_rules! native_through {
    ($($pointer:ty),* $(,)?) => {$(
        impl<T: Native + ?Sized> Native for $pointer {
            type Out<'a>
                = T::Out<'a>
            where
                Self: 'a;
            #[inline(always)]
            fn native(&self) -> T::Out<'_> {
                (**self).native()
            }
        }
    )*};
}

native_through!(&T, &mut T, Box<T>, std::sync::Arc<T>);

/// First choice: a native OTLP type.
pub trait AsNative<'a> {
    /// The recorded value.
    type Out: AsField;
    /// Converts.
    fn __traced_value(&self) -> Self::Out;
}

impl<'a, T: Native + ?Sized> AsNative<'a> for &&Value<'a, T> {
    type Out = T::Out<'a>;
    #[inline(always)]
    fn __traced_value(&self) -> T::Out<'a> {
        self.0.native()
    }
}

/// Second choice: `Display`.
pub trait AsDisplay<'a> {
    /// The recorded value.
    type Out: tracing::Value;
    /// Converts.
    fn __traced_value(&self) -> Self::Out;
}

impl<'a, T: Display + ?Sized> AsDisplay<'a> for &Value<'a, T> {
    type Out = tracing::field::DisplayValue<&'a T>;
    #[inline(always)]
    fn __traced_value(&self) -> Self::Out {
        tracing::field::display(self.0)
    }
}

/// Last choice: `Debug`.
pub trait AsDebug<'a> {
    /// The recorded value.
    type Out: tracing::Value;
    /// Converts.
    fn __traced_value(&self) -> Self::Out;
}

impl<'a, T: Debug + ?Sized> AsDebug<'a> for Value<'a, T> {
    type Out = tracing::field::DebugValue<&'a T>;
    #[inline(always)]
    fn __traced_value(&self) -> Self::Out {
        tracing::field::debug(self.0)
    }
}

/// Records the returned value as `return.value` (option `ret`), with the same type rule as arguments.
#[inline]
pub fn record_return<V: AsField>(span: &Span, value: V) {
    span.record("return.value", value.as_field());
}

// ---------------------------------------------------------------------------------------------------------------
// Parents and links

/// What `parent = expr` accepts: a `tracing::Span`, an OpenTelemetry `Context` (for example one extracted from
/// request headers) or a `SpanContext`.
pub trait Parent {
    /// The parent in the `tracing` tree (the current span for OpenTelemetry contexts, so logs still nest).
    fn tracing_parent(&self) -> Option<tracing::Id>;
    /// Sets the OpenTelemetry parent, before the span is first entered.
    fn apply(&self, span: &Span);
}

impl Parent for Span {
    fn tracing_parent(&self) -> Option<tracing::Id> {
        self.id()
    }
    fn apply(&self, _span: &Span) {}
}

impl Parent for opentelemetry::Context {
    fn tracing_parent(&self) -> Option<tracing::Id> {
        Span::current().id()
    }
    fn apply(&self, span: &Span) {
        if !span.is_disabled() {
            crate::SpanExt::set_parent(span, self.clone());
        }
    }
}

impl Parent for SpanContext {
    fn tracing_parent(&self) -> Option<tracing::Id> {
        Span::current().id()
    }
    fn apply(&self, span: &Span) {
        Parent::apply(
            &opentelemetry::Context::new().with_remote_span_context(self.clone()),
            span,
        );
    }
}

impl<P: Parent + ?Sized> Parent for &P {
    fn tracing_parent(&self) -> Option<tracing::Id> {
        (**self).tracing_parent()
    }
    fn apply(&self, span: &Span) {
        (**self).apply(span);
    }
}

/// What `link = expr` accepts: a `SpanContext`, an OpenTelemetry `Context`, or a `tracing::Span`.
pub trait Link {
    /// Adds a link to `span` (invalid span contexts are ignored).
    fn add_to(&self, span: &Span);
}

impl Link for SpanContext {
    fn add_to(&self, span: &Span) {
        if !span.is_disabled() && self.is_valid() {
            crate::SpanExt::add_link(span, self.clone());
        }
    }
}

impl Link for opentelemetry::Context {
    fn add_to(&self, span: &Span) {
        self.span().span_context().add_to(span);
    }
}

impl Link for Span {
    fn add_to(&self, span: &Span) {
        if !span.is_disabled() {
            crate::SpanExt::context(self)
                .span()
                .span_context()
                .add_to(span);
        }
    }
}

impl<L: Link + ?Sized> Link for &L {
    fn add_to(&self, span: &Span) {
        (**self).add_to(span);
    }
}
