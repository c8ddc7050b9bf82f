//! Cumulative collections turned into deltas for an OTLP exporter that asks for them
//! (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`): each point less the same series at the previous export.
//!
//! `delta`: counters and histograms as deltas, up-down counters cumulative (the SDK specification's mapping);
//! `lowmemory` is the same here, as every counter we collect is synchronous.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, AggregationTemporality};

use crate::config::Temporality;

/// The series of the previous export of one exporter.
#[derive(Debug, Default)]
pub(crate) struct Deltas {
    previous: HashMap<(String, String), Previous>,
    last_time: Option<u64>,
}

#[derive(Debug)]
enum Previous {
    Int(i64),
    Double(f64),
    Histogram {
        count: u64,
        sum: f64,
        buckets: Vec<u64>,
    },
}

fn series(name: &str, attributes: &[KeyValue]) -> (String, String) {
    (name.to_owned(), format!("{attributes:?}"))
}

impl Deltas {
    /// Rewrites the cumulative `request` as `temporality` asks; `now` is its collection time.
    pub(crate) fn apply(
        &mut self,
        temporality: Temporality,
        request: &mut ExportMetricsServiceRequest,
        now: u64,
    ) {
        if temporality == Temporality::Cumulative {
            return;
        }
        let start = self.last_time.replace(now);
        let delta = AggregationTemporality::Delta as i32;
        let cumulative = AggregationTemporality::Cumulative as i32;
        for metric in request
            .resource_metrics
            .iter_mut()
            .flat_map(|r| r.scope_metrics.iter_mut())
            .flat_map(|s| s.metrics.iter_mut())
        {
            let name = metric.name.clone();
            match &mut metric.data {
                Some(metric::Data::Sum(sum))
                    if sum.is_monotonic && sum.aggregation_temporality == cumulative =>
                {
                    sum.aggregation_temporality = delta;
                    for point in &mut sum.data_points {
                        let key = series(&name, &point.attributes);
                        point.value = match point.value {
                            Some(number_data_point::Value::AsInt(value)) => {
                                let before = match self.previous.insert(key, Previous::Int(value)) {
                                    Some(Previous::Int(before)) if before <= value => before,
                                    _ => 0,
                                };
                                Some(number_data_point::Value::AsInt(value - before))
                            }
                            Some(number_data_point::Value::AsDouble(value)) => {
                                let before =
                                    match self.previous.insert(key, Previous::Double(value)) {
                                        Some(Previous::Double(before)) if before <= value => before,
                                        _ => 0.0,
                                    };
                                Some(number_data_point::Value::AsDouble(value - before))
                            }
                            None => None,
                        };
                        point.start_time_unix_nano = start.unwrap_or(point.start_time_unix_nano);
                    }
                }
                Some(metric::Data::Histogram(histogram))
                    if histogram.aggregation_temporality == cumulative =>
                {
                    histogram.aggregation_temporality = delta;
                    for point in &mut histogram.data_points {
                        let key = series(&name, &point.attributes);
                        let now = Previous::Histogram {
                            count: point.count,
                            sum: point.sum.unwrap_or_default(),
                            buckets: point.bucket_counts.clone(),
                        };
                        if let Some(Previous::Histogram {
                            count,
                            sum,
                            buckets,
                        }) = self.previous.insert(key, now)
                        {
                            if count <= point.count && buckets.len() == point.bucket_counts.len() {
                                point.count -= count;
                                point.sum = point.sum.map(|s| s - sum);
                                for (bucket, before) in point.bucket_counts.iter_mut().zip(buckets)
                                {
                                    *bucket = bucket.saturating_sub(before);
                                }
                            }
                        }
                        point.start_time_unix_nano = start.unwrap_or(point.start_time_unix_nano);
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::metrics::v1::{
        Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    };

    use super::*;

    fn request(count: i64, buckets: Vec<u64>, active: i64) -> ExportMetricsServiceRequest {
        let cumulative = AggregationTemporality::Cumulative as i32;
        let metrics = vec![
            Metric {
                name: "calls".into(),
                data: Some(metric::Data::Sum(Sum {
                    data_points: vec![NumberDataPoint {
                        value: Some(number_data_point::Value::AsInt(count)),
                        ..Default::default()
                    }],
                    aggregation_temporality: cumulative,
                    is_monotonic: true,
                })),
                ..Default::default()
            },
            Metric {
                name: "active".into(),
                data: Some(metric::Data::Sum(Sum {
                    data_points: vec![NumberDataPoint {
                        value: Some(number_data_point::Value::AsInt(active)),
                        ..Default::default()
                    }],
                    aggregation_temporality: cumulative,
                    is_monotonic: false,
                })),
                ..Default::default()
            },
            Metric {
                name: "duration".into(),
                data: Some(metric::Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        count: buckets.iter().sum(),
                        sum: Some(buckets.iter().sum::<u64>() as f64),
                        bucket_counts: buckets,
                        ..Default::default()
                    }],
                    aggregation_temporality: cumulative,
                })),
                ..Default::default()
            },
        ];
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn values(request: &ExportMetricsServiceRequest) -> (i64, i64, Vec<u64>, u64) {
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        let int = |m: &Metric| match &m.data {
            Some(metric::Data::Sum(s)) => match s.data_points[0].value {
                Some(number_data_point::Value::AsInt(v)) => v,
                _ => panic!(),
            },
            _ => panic!(),
        };
        let Some(metric::Data::Histogram(h)) = &metrics[2].data else {
            panic!()
        };
        (
            int(&metrics[0]),
            int(&metrics[1]),
            h.data_points[0].bucket_counts.clone(),
            h.data_points[0].count,
        )
    }

    #[test]
    fn deltas_subtract_the_previous_export_and_keep_up_down_counters_cumulative() {
        let mut deltas = Deltas::default();
        let mut first = request(5, vec![1, 2], 3);
        deltas.apply(Temporality::Delta, &mut first, 10);
        assert_eq!(values(&first), (5, 3, vec![1, 2], 3));
        let mut second = request(8, vec![2, 4], 1);
        deltas.apply(Temporality::Delta, &mut second, 20);
        assert_eq!(values(&second), (3, 1, vec![1, 2], 3));
        let Some(metric::Data::Sum(sum)) =
            &second.resource_metrics[0].scope_metrics[0].metrics[0].data
        else {
            panic!()
        };
        assert_eq!(
            sum.aggregation_temporality,
            AggregationTemporality::Delta as i32
        );
        assert_eq!(sum.data_points[0].start_time_unix_nano, 10);
        let mut cumulative = request(8, vec![2, 4], 1);
        Deltas::default().apply(Temporality::Cumulative, &mut cumulative, 30);
        assert_eq!(values(&cumulative), (8, 1, vec![2, 4], 6));
    }
}
