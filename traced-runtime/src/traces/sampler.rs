//! The head sampler and span limits, from [`SamplerConfig`] and [`LimitsConfig`].

use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SamplingResult, ShouldSample, SpanLimits,
};

use crate::config::{LimitsConfig, SamplerConfig};

/// A ratio as the samplers use it: the sources refuse ratios outside `0..=1`, but a `Config` built field by field
/// can hold any `f64`, which is clamped (NaN counts as 1).
pub(crate) fn ratio(r: f64) -> f64 {
    if r.is_nan() {
        1.0
    } else {
        r.clamp(0.0, 1.0)
    }
}

/// The SDK sampler with the specification's semantics for each `OTEL_TRACES_SAMPLER` value.
pub(crate) fn sampler(config: &SamplerConfig) -> Sampler {
    match *config {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(r) => Sampler::TraceIdRatioBased(ratio(r)),
        SamplerConfig::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerConfig::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerConfig::ParentBasedTraceIdRatio(r) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio(r))))
        }
    }
}

/// The head sampler of this crate's span layer: the SDK's [`sampler`], with `always_on` and
/// `parentbased_always_on` (the default) answered here as the SDK answers them, without its call (about 50
/// instructions a span: the call, its second look at the parent, its result's vector).
#[derive(Debug)]
pub(crate) struct HeadSampler {
    sdk: Sampler,
    /// `Some(true)` for `parentbased_always_on`, `Some(false)` for `always_on`; `None`: the SDK's answers.
    own: Option<bool>,
}

impl HeadSampler {
    pub(crate) fn new(config: &SamplerConfig) -> Self {
        let own = match config {
            SamplerConfig::AlwaysOn => Some(false),
            SamplerConfig::ParentBasedAlwaysOn => Some(true),
            _ => None,
        };
        HeadSampler {
            sdk: sampler(config),
            own,
        }
    }

    /// [`ShouldSample::should_sample`] for a span under `parent`.
    pub(crate) fn should_sample(
        &self,
        parent: &Context,
        trace_id: TraceId,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let Some(parent_based) = self.own else {
            return self
                .sdk
                .should_sample(Some(parent), trace_id, name, kind, attributes, links);
        };
        let span = parent.span();
        // The SDK's `ParentBased` follows any active span's flag, an invalid one's included.
        let sampled =
            !parent_based || !parent.has_active_span() || span.span_context().is_sampled();
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state: span.span_context().trace_state().clone(),
        }
    }
}

/// The SDK span limits. The attribute value length limit is not an SDK limit in Rust: the batch processor applies
/// it before export.
pub(crate) fn span_limits(config: &LimitsConfig) -> SpanLimits {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    SpanLimits {
        max_attributes_per_span: count(config.span_attribute_count),
        max_events_per_span: count(config.span_event_count),
        max_links_per_span: count(config.span_link_count),
        ..SpanLimits::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_is_clamped() {
        assert!(matches!(
            sampler(&SamplerConfig::TraceIdRatio(7.0)),
            Sampler::TraceIdRatioBased(r) if r == 1.0
        ));
        assert!(matches!(
            sampler(&SamplerConfig::TraceIdRatio(-1.0)),
            Sampler::TraceIdRatioBased(r) if r == 0.0
        ));
    }

    /// The samplers answered here answer as the SDK's, under every kind of parent.
    #[test]
    fn own_answers_are_the_sdks() {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

        let state = TraceState::from_key_value([("k", "v")]).unwrap();
        let context = |trace: u128, flags, remote| {
            SpanContext::new(
                TraceId::from(trace),
                SpanId::from(trace as u64),
                flags,
                remote,
                state.clone(),
            )
        };
        let parents = [
            Context::new(),
            Context::new().with_remote_span_context(context(1, TraceFlags::SAMPLED, false)),
            Context::new().with_remote_span_context(context(2, TraceFlags::default(), true)),
            Context::new().with_remote_span_context(context(3, TraceFlags::SAMPLED, true)),
            // An active span with an invalid context.
            Context::new().with_remote_span_context(SpanContext::empty_context()),
        ];
        for config in [SamplerConfig::AlwaysOn, SamplerConfig::ParentBasedAlwaysOn] {
            let head = HeadSampler::new(&config);
            assert!(head.own.is_some(), "{config:?}");
            let sdk = sampler(&config);
            for parent in &parents {
                let trace_id = TraceId::from(9);
                let ours = head.should_sample(parent, trace_id, "s", &SpanKind::Internal, &[], &[]);
                let theirs =
                    sdk.should_sample(Some(parent), trace_id, "s", &SpanKind::Internal, &[], &[]);
                assert_eq!(ours.decision, theirs.decision, "{config:?} {parent:?}");
                assert_eq!(
                    ours.trace_state, theirs.trace_state,
                    "{config:?} {parent:?}"
                );
                assert_eq!(ours.attributes, theirs.attributes, "{config:?} {parent:?}");
            }
        }
        assert!(HeadSampler::new(&SamplerConfig::TraceIdRatio(0.5))
            .own
            .is_none());
    }

    #[test]
    fn limits_carry_over() {
        let limits = span_limits(&LimitsConfig {
            span_attribute_count: 3,
            span_event_count: 4,
            span_link_count: 5,
            ..LimitsConfig::default()
        });
        assert_eq!(
            (
                limits.max_attributes_per_span,
                limits.max_events_per_span,
                limits.max_links_per_span
            ),
            (3, 4, 5)
        );
    }
}
