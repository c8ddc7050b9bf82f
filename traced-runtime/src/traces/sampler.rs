//! The head sampler and span limits, from [`SamplerConfig`] and [`LimitsConfig`].

use opentelemetry_sdk::trace::{Sampler, SpanLimits};

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
