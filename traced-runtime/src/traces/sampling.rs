//! Head sampling decided before a `#[traced]` span is built.
//!
//! tracing-opentelemetry asks the sampler only when a span starts (its first enter, or its close), after the
//! `tracing` span, its registry slot and its OpenTelemetry builder were allocated and filled: a dropped trace
//! costs about as much as a kept one. `#[traced]` calls [`ask`] first, and a span that the sampler would drop
//! is never built:
//!
//! - the pipeline's [`RootSampler`] is found through the current dispatcher (the [`SamplingLayer`] that
//!   [`Config::init`](crate::Config::init) and [`Config::layer`](crate::Config::layer) wrap around the
//!   OpenTelemetry layer), so two pipelines on two threads never see each other's sampler;
//! - a trace dropped at its root is marked on the thread while the root runs (a sync body, or each poll of an
//!   async one): the `#[traced]` fns it calls are skipped at the cost of a thread-local read, and every other
//!   span created there (`tracing::info_span!`, `#[instrument]`) is kept away from the OpenTelemetry layer,
//!   so none of them becomes the root of a trace of its own;
//! - for ratio samplers the trace id is drawn here, judged with the SDK's own rule, and handed to the SDK
//!   through [`DecidedIdGenerator`] when the root is kept, so the SDK sampler, which still runs, agrees.

use std::cell::Cell;
use std::num::NonZeroU64;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};

use crate::config::{Config, SamplerConfig};

/// The ids a dropped trace still has: nothing is exported for it, but propagation must tell the next service
/// that this trace is not sampled (`traceparent` with flags `00`), or a parent-based sampler there would start
/// sampling a trace we dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unsampled {
    /// The trace id as its high and low halves: a `u128` would align the ids, and every instrumented future
    /// that holds them, to 16 bytes.
    trace_id: [u64; 2],
    /// Never zero, which also lets `Option<Unsampled>` take no more room than the ids.
    span_id: NonZeroU64,
}

impl Unsampled {
    /// Ids for a dropped root. They only need to be unique, not unpredictable (nothing is exported for them):
    /// a thread-local SplitMix64 seeded once from the SDK's generator costs a few ns, where the SDK's
    /// cryptographic generator would cost more than the rest of the dropped span.
    fn random(trace_id: Option<TraceId>) -> Self {
        let trace_id = trace_id.map_or_else(
            || [next_id().get(), next_id().get()],
            |id| {
                let id = u128::from_be_bytes(id.to_bytes());
                #[allow(clippy::cast_possible_truncation)] // the two halves, each kept whole
                [(id >> 64) as u64, id as u64]
            },
        );
        Unsampled {
            trace_id,
            span_id: next_id(),
        }
    }

    /// Ids of a dropped root, for tests elsewhere in the crate.
    #[cfg(test)]
    pub(crate) fn for_test() -> Self {
        Unsampled::random(None)
    }

    fn trace_id(self) -> TraceId {
        TraceId::from((u128::from(self.trace_id[0]) << 64) | u128::from(self.trace_id[1]))
    }

    fn context(self) -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            self.trace_id(),
            SpanId::from(self.span_id.get()),
            TraceFlags::default(),
            false,
            TraceState::default(),
        ))
    }
}

thread_local! {
    /// The ids of the dropped trace the innermost `#[traced]` span running on this thread belongs to, if the
    /// sampler dropped it.
    static UNSAMPLED: Cell<Option<Unsampled>> = const { Cell::new(None) };
    /// State of [`next_id`]; 0 until first seeded.
    static ID_STATE: Cell<u64> = const { Cell::new(0) };
    /// The trace id [`RootSampler::drops`] drew and kept for the root about to start, or 0.
    static NEXT_TRACE_ID: Cell<u128> = const { Cell::new(0) };
}

/// True while a trace dropped by the sampler runs on this thread: spans created now must not reach the
/// OpenTelemetry layer.
#[inline]
pub(crate) fn in_unsampled_trace() -> bool {
    UNSAMPLED.with(Cell::get).is_some()
}

/// The trace and span ids of the dropped trace running on this thread, if one is.
#[inline]
pub(crate) fn unsampled_ids() -> Option<(TraceId, SpanId)> {
    UNSAMPLED
        .with(Cell::get)
        .map(|ids| (ids.trace_id(), SpanId::from(ids.span_id.get())))
}

/// The thread's mark: the ids of the dropped trace running here, `None` in a sampled one or outside any trace.
/// A task spawned from here carries it over (`crate::task`).
#[inline]
pub(crate) fn mark() -> Option<Unsampled> {
    UNSAMPLED.with(Cell::get)
}

/// A non-zero pseudo-random u64 from this thread's SplitMix64 stream.
fn next_id() -> NonZeroU64 {
    ID_STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            x = u64::from_be_bytes(RandomIdGenerator::default().new_span_id().to_bytes()) | 1;
        }
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        NonZeroU64::new(z ^ (z >> 31)).unwrap_or(NonZeroU64::MIN)
    })
}

/// The context to propagate from here: the current OpenTelemetry context, or, inside a trace the sampler
/// dropped (where no span was built), a context naming that trace as not sampled.
pub(crate) fn current_context() -> Context {
    match UNSAMPLED.with(Cell::get) {
        Some(ids) => ids.context(),
        None => Context::current(),
    }
}

/// Sets the thread's mark (`Some` ids: a dropped trace; `None`: a sampled one) until the guard drops, then
/// restores the previous one.
#[derive(Debug)]
#[must_use]
pub(crate) struct Mark {
    previous: Option<Unsampled>,
}

impl Mark {
    #[inline]
    pub(crate) fn set(unsampled: Option<Unsampled>) -> Self {
        Mark {
            previous: replace_mark(unsampled),
        }
    }
}

/// Sets the thread's mark, returning the one before: [`Mark`] without the guard, for a caller that keeps the
/// previous mark elsewhere than on the stack and restores it itself.
#[inline]
pub(crate) fn replace_mark(unsampled: Option<Unsampled>) -> Option<Unsampled> {
    UNSAMPLED.with(|mark| mark.replace(unsampled))
}

impl Drop for Mark {
    #[inline]
    fn drop(&mut self) {
        UNSAMPLED.with(|mark| mark.set(self.previous));
    }
}

/// What the sampler and the subscriber say of a new `#[traced]` span, asked in one look-up of the dispatcher.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Asked {
    /// The sampler drops it: the ids of the dropped trace it belongs to (the trace running on this thread, or a
    /// new one for a dropped root), so the span need not be built.
    Dropped(Unsampled),
    /// The subscriber does not want it.
    Disabled,
    /// Build it; `timed_by_layer` when `traced`'s own pipeline is installed, whose span layer times spans itself.
    Build {
        /// See the variant.
        timed_by_layer: bool,
        /// The `code.*` values need not be passed (see [`Head::sole`]).
        statics_only: bool,
    },
}

/// Asks the sampler, then the subscriber (the check `enabled` makes, made only when the thread runs no dropped
/// trace), of a new span.
///
/// `root` is the `root` option: the span starts a trace whatever runs around it. Spans with an explicit
/// `parent` never ask (their parent decides).
#[inline]
pub(crate) fn ask<F: Fn(&tracing::Dispatch) -> bool>(
    root: bool,
    enabled: impl FnOnce() -> F,
) -> Asked {
    if !root {
        if let Some(ids) = UNSAMPLED.with(Cell::get) {
            return Asked::Dropped(ids);
        }
    }
    let enabled = enabled();
    tracing::dispatcher::get_default(|dispatch| {
        let (timed_by_layer, statics_only) = match dispatch.downcast_ref::<Head>() {
            Some(head) => match head.sampler.drops(root) {
                Some(ids) => return Asked::Dropped(ids),
                None => (true, head.statics_only),
            },
            None => (false, false),
        };
        if enabled(dispatch) {
            Asked::Build {
                timed_by_layer,
                statics_only,
            }
        } else {
            Asked::Disabled
        }
    })
}

/// True when the current dispatcher is `traced`'s with no layer but its own (see [`SamplingLayer::sole`]).
pub(crate) fn sole_pipeline() -> bool {
    tracing::dispatcher::get_default(|dispatch| {
        dispatch
            .downcast_ref::<Head>()
            .is_some_and(|head| head.sole)
    })
}

/// The sampler of one pipeline, as far as it can decide without the SDK: roots, and `always_off`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum RootSampler {
    /// Every trace is kept (`always_on`, `parentbased_always_on`): let the SDK do its work.
    Keep,
    /// Every span is dropped (`always_off`).
    Drop,
    /// Roots are dropped, children follow their parent (`parentbased_always_off`).
    DropRoots,
    /// Roots are kept when the low 63 bits of the trace id are below `bound`, the SDK's rule
    /// (`traceidratio`, `parentbased_traceidratio`); children follow their parent's trace.
    Ratio {
        /// `ratio * 2^63`.
        bound: u64,
    },
}

impl RootSampler {
    /// The root decision of a pipeline. With tail sampling on no span is skipped: every span is recorded, and
    /// the head sampler, asked in the span layer, only sets the flag propagated downstream.
    pub(crate) fn of(config: &Config) -> Self {
        if config.tail_sampling.is_some() {
            RootSampler::Keep
        } else {
            RootSampler::new(&config.sampler)
        }
    }

    /// The root decision of `config`, with the ratio clamped like the SDK sampler's.
    pub(crate) fn new(config: &SamplerConfig) -> Self {
        let ratio = |r: f64| {
            if super::sampler::ratio(r) >= 1.0 {
                RootSampler::Keep
            } else {
                RootSampler::Ratio {
                    bound: ratio_bound(r),
                }
            }
        };
        match *config {
            SamplerConfig::AlwaysOn | SamplerConfig::ParentBasedAlwaysOn => RootSampler::Keep,
            SamplerConfig::AlwaysOff => RootSampler::Drop,
            SamplerConfig::ParentBasedAlwaysOff => RootSampler::DropRoots,
            SamplerConfig::TraceIdRatio(r) | SamplerConfig::ParentBasedTraceIdRatio(r) => ratio(r),
        }
    }

    /// The ids of a new span's trace when it is dropped, decided without building it; a dropped root still
    /// names its trace to the services it calls, as not sampled. A span under a parent is left to the SDK (it
    /// follows the parent, or, for `traceidratio`, judges the parent's trace id like the parent was).
    fn drops(self, root: bool) -> Option<Unsampled> {
        match self {
            RootSampler::Keep => return None,
            RootSampler::DropRoots | RootSampler::Ratio { .. } if !root && has_parent() => {
                return None
            }
            _ => {}
        }
        let judged = match self {
            RootSampler::Ratio { bound } => {
                let trace_id = RandomIdGenerator::default().new_trace_id();
                if keeps(bound, trace_id) {
                    NEXT_TRACE_ID.with(|next| next.set(u128::from_be_bytes(trace_id.to_bytes())));
                    return None;
                }
                Some(trace_id)
            }
            _ => None,
        };
        Some(Unsampled::random(judged))
    }
}

/// The bound of the SDK's `traceidratio` rule for `ratio` (clamped; opentelemetry_sdk
/// `sample_based_on_probability`), computed once: `ratio * 2^63`.
pub(crate) fn ratio_bound(ratio: f64) -> u64 {
    let ratio = super::sampler::ratio(ratio);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let bound = (ratio * (1u64 << 63) as f64) as u64;
    bound
}

/// The SDK's `traceidratio` rule: the low 64 bits of the trace id, shifted right once, below the bound.
pub(crate) fn keeps(bound: u64, trace_id: TraceId) -> bool {
    let low = u128::from_be_bytes(trace_id.to_bytes()) as u64;
    (low >> 1) < bound
}

/// True when a span created now has a parent in OpenTelemetry's eyes: tracing-opentelemetry (with context
/// activation, its default) parents a contextual span on the current OpenTelemetry context, which holds the
/// entered span or an attached remote context.
fn has_parent() -> bool {
    Context::map_current(|cx| cx.has_active_span())
}

/// The SDK's random ids, except the trace id of a root [`RootSampler::drops`] already judged: that one is used as
/// drawn, so the SDK's ratio sampler reaches the same decision.
#[derive(Debug, Default)]
pub(crate) struct DecidedIdGenerator(RandomIdGenerator);

impl IdGenerator for DecidedIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        match NEXT_TRACE_ID.with(|next| next.replace(0)) {
            0 => self.0.new_trace_id(),
            id => TraceId::from(id),
        }
    }

    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}

/// What a `#[traced]` span asks of the pipeline before it is built, found through `Dispatch::downcast_ref`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    sampler: RootSampler,
    /// The pipeline's own subscriber (no log format, see [`Head::sole`]).
    sole: bool,
    /// No reader of field values but the pipeline's own, which take a site's `code.*` values from its statics.
    statics_only: bool,
}

impl Head {
    /// The head of the span subscriber, whose only consumers of spans are the pipeline's own (no log format): no
    /// other layer reads a span's fields, so a `#[traced]` span need not pass the values the span layer takes from
    /// the site's statics (the `code.*` ones), which saves visiting them.
    pub(crate) fn sole(sampler: RootSampler) -> Head {
        Head {
            sampler,
            sole: true,
            statics_only: true,
        }
    }

    /// The head of the span subscriber beside a log format, which sees the spans of a dropped trace and prints
    /// every span's fields (a site's `code.*` ones from its statics, as the span layer does).
    pub(crate) fn beside_log_lines(sampler: RootSampler) -> Head {
        Head {
            sampler,
            sole: false,
            statics_only: true,
        }
    }
}

/// The OpenTelemetry layer of a pipeline, carrying its [`RootSampler`] where [`ask`] finds it
/// (through `Dispatch::downcast_ref`). Everything else is the inner layer's.
#[derive(Debug)]
pub(crate) struct SamplingLayer<L> {
    inner: L,
    head: Head,
}

impl<L> SamplingLayer<L> {
    pub(crate) fn new(inner: L, sampler: RootSampler) -> Self {
        SamplingLayer {
            inner,
            head: Head {
                sampler,
                sole: false,
                statics_only: false,
            },
        }
    }
}

impl<S: Subscriber, L: Layer<S>> Layer<S> for SamplingLayer<L> {
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: LayerContext<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        self.inner.on_record(span, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        self.inner.on_event(event, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }

    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<Head>() {
            return Some(std::ptr::from_ref(&self.head).cast());
        }
        if id == std::any::TypeId::of::<Self>() {
            return Some(std::ptr::from_ref(self).cast());
        }
        // SAFETY: the inner layer answers for its own types, with the contract of this very method.
        unsafe { self.inner.downcast_raw(id) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_bound_matches_the_sdk() {
        let RootSampler::Ratio { bound } = RootSampler::new(&SamplerConfig::TraceIdRatio(0.5))
        else {
            panic!("ratio");
        };
        assert_eq!(bound, 1 << 62);
        assert!(keeps(bound, TraceId::from(0u128)));
        assert!(keeps(bound, TraceId::from((1u128 << 63) - 1)));
        assert!(!keeps(bound, TraceId::from(1u128 << 63)));
        assert_eq!(
            RootSampler::new(&SamplerConfig::TraceIdRatio(7.0)),
            RootSampler::Keep
        );
        assert_eq!(
            RootSampler::new(&SamplerConfig::ParentBasedTraceIdRatio(0.0)),
            RootSampler::Ratio { bound: 0 }
        );
    }

    #[test]
    fn the_drawn_trace_id_reaches_the_sdk() {
        NEXT_TRACE_ID.with(|next| next.set(42));
        let generator = DecidedIdGenerator::default();
        assert_eq!(generator.new_trace_id(), TraceId::from(42u128));
        assert_ne!(generator.new_trace_id(), TraceId::from(42u128));
    }

    #[test]
    fn marks_nest() {
        assert!(!in_unsampled_trace());
        {
            let _outer = Mark::set(Some(Unsampled::random(None)));
            assert!(in_unsampled_trace());
            {
                let _inner = Mark::set(None);
                assert!(!in_unsampled_trace());
            }
            assert!(in_unsampled_trace());
        }
        assert!(!in_unsampled_trace());
    }

    #[test]
    fn dropped_roots_get_distinct_non_zero_ids() {
        let ids: std::collections::HashSet<(TraceId, u64)> = (0..10_000)
            .map(|_| {
                let ids = Unsampled::random(None);
                assert!(ids.trace_id() != TraceId::INVALID);
                (ids.trace_id(), ids.span_id.get())
            })
            .collect();
        assert_eq!(ids.len(), 10_000);
        // A ratio root keeps the trace id the sampler judged.
        let judged = TraceId::from(0x1234_u128);
        assert_eq!(Unsampled::random(Some(judged)).trace_id(), judged);
    }
}
