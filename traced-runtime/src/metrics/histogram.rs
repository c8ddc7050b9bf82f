//! The explicit-bucket histogram of a duration: atomic bucket counts and sum, and an exemplar slot per bucket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use super::exemplar::{Exemplar, ExemplarSlot};

/// The bucket bounds in seconds, for `function.calls.duration` (the autometrics specification's default) and
/// for `http.server.request.duration` / `http.client.request.duration` (the HTTP semantic conventions'): the
/// same fourteen.
pub(crate) const BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// [`BOUNDS`] in nanoseconds, to find a bucket without a float compare.
pub(crate) const BOUNDS_NANOS: [u64; 14] = [
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    75_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    750_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    7_500_000_000,
    10_000_000_000,
];
/// One bucket per bound, and the last one above them all.
pub(crate) const BUCKETS: usize = BOUNDS.len() + 1;

/// A duration histogram.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    sum_nanos: AtomicU64,
    exemplars: Exemplars,
}

/// The exemplar of each bucket, allocated by the first sampled measurement: a histogram of unsampled calls
/// never pays for it.
#[derive(Debug, Default)]
pub(crate) struct Exemplars(OnceLock<Box<[ExemplarSlot; BUCKETS]>>);

impl Exemplars {
    /// Keeps `exemplar` for `bucket` (a sampled measurement).
    pub(crate) fn offer(&self, bucket: usize, exemplar: Exemplar) {
        self.0.get_or_init(Default::default)[bucket].offer(exemplar);
    }

    /// The exemplars not older than `since` (ns since the epoch), by bucket.
    pub(crate) fn since(&self, since: u64) -> Vec<(usize, Exemplar)> {
        self.0.get().map_or_else(Vec::new, |slots| {
            slots
                .iter()
                .enumerate()
                .filter_map(|(i, slot)| slot.since(since).map(|e| (i, e)))
                .collect()
        })
    }
}

/// What a histogram holds at one collection.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HistogramPoint {
    pub(crate) buckets: [u64; BUCKETS],
    pub(crate) sum_nanos: u64,
    pub(crate) exemplars: Vec<(usize, Exemplar)>,
}

impl HistogramPoint {
    /// The number of measurements.
    pub(crate) fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// The bucket of a duration: the first bound it does not exceed (bounds are inclusive upper limits).
#[inline(always)]
pub(crate) fn bucket(nanos: u64) -> usize {
    bucket_in(nanos, BOUNDS_NANOS)
}

/// The bucket of `value` among `bounds`, [`BOUNDS`] in some unit: the first it does not exceed.
#[inline(always)]
pub(crate) fn bucket_in(value: u64, bounds: impl IntoIterator<Item = u64>) -> usize {
    bounds
        .into_iter()
        .position(|bound| value <= bound)
        .unwrap_or(BOUNDS.len())
}

impl Histogram {
    /// Counts one duration; returns its bucket.
    #[inline(always)]
    pub(crate) fn record(&self, nanos: u64) -> usize {
        let bucket = bucket(nanos);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        bucket
    }

    /// Keeps `exemplar` for `bucket` (a sampled measurement).
    pub(crate) fn offer(&self, bucket: usize, exemplar: Exemplar) {
        self.exemplars.offer(bucket, exemplar);
    }

    /// The counts so far (cumulative) and the exemplars not older than `since` (ns since the epoch).
    pub(crate) fn collect(&self, since: u64) -> HistogramPoint {
        let mut buckets = [0; BUCKETS];
        for (out, bucket) in buckets.iter_mut().zip(&self.buckets) {
            *out = bucket.load(Ordering::Relaxed);
        }
        HistogramPoint {
            buckets,
            sum_nanos: self.sum_nanos.load(Ordering::Relaxed),
            exemplars: self.exemplars.since(since),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_upper_limits() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(5_000_000), 0);
        assert_eq!(bucket(5_000_001), 1);
        assert_eq!(bucket(10_000_000_000), 13);
        assert_eq!(bucket(10_000_000_001), 14);
        for (seconds, nanos) in BOUNDS.iter().zip(BOUNDS_NANOS) {
            assert_eq!((seconds * 1e9).round() as u64, nanos);
        }
    }

    #[test]
    fn a_histogram_counts_sums_and_keeps_one_exemplar_per_bucket() {
        let histogram = Histogram::default();
        for nanos in [1, 2, 6_000_000, 20_000_000_000] {
            histogram.record(nanos);
        }
        let exemplar = |v| Exemplar {
            trace_id: [1; 16],
            span_id: [2; 8],
            value: v,
            time_unix_nano: 3,
        };
        histogram.offer(0, exemplar(1e-9));
        histogram.offer(0, exemplar(2e-9));
        let point = histogram.collect(0);
        assert_eq!(point.count(), 4);
        assert_eq!(point.buckets[0], 2);
        assert_eq!(point.buckets[1], 1);
        assert_eq!(point.buckets[14], 1);
        assert_eq!(point.sum_nanos, 20_006_000_003);
        assert_eq!(point.exemplars, vec![(0, exemplar(2e-9))]);
        assert_eq!(histogram.collect(3).exemplars.len(), 1, "still the latest");
        assert!(
            histogram.collect(4).exemplars.is_empty(),
            "older than the last collection"
        );
    }
}
