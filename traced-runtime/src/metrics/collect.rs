//! One collection: the function and HTTP instruments, `build_info`, and the user's instruments of the SDK meter
//! provider, as one OTLP `ExportMetricsServiceRequest`. The OTLP exporters encode it; the Prometheus endpoint
//! renders it as text.
//!
//! Our instruments are cumulative from the first pipeline that turned metrics on (their state lives in
//! `static`s); [`super::temporality`] turns them into deltas for an exporter that asks.

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar as ProtoExemplar, Gauge,
    Histogram as ProtoHistogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_sdk::metrics::data::ResourceMetrics as SdkResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::ManualReader;
use opentelemetry_sdk::Resource;

use super::exemplar::Exemplar;
use super::function::{self, FnMetrics};
use super::histogram::{HistogramPoint, BOUNDS};
use super::http::{self, Attributes, Value};
use traced_conventions::error::ERROR_TYPE;
use traced_conventions::metrics::{
    BUILD_INFO, CALLER_FUNCTION, CALLER_MODULE, CARDINALITY_LIMIT, ERROR, FUNCTION, FUNCTION_CALLS,
    FUNCTION_CALLS_CONCURRENT, FUNCTION_CALLS_DURATION, MODULE, OBJECTIVE_LATENCY_THRESHOLD,
    OBJECTIVE_NAME, OBJECTIVE_PERCENTILE, OK, OVERFLOW, RESULT,
};

/// When our instruments started counting: the start of every cumulative point.
static START: OnceLock<u64> = OnceLock::new();

/// Now, in nanoseconds since the epoch.
pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// What every collection of one pipeline is made of.
#[derive(Debug)]
pub(crate) struct Collector {
    resource: ProtoResource,
    schema_url: String,
    /// The user's instruments (`opentelemetry::global::meter`), read on demand.
    reader: Arc<ManualReader>,
    functions: bool,
    build_info: Vec<KeyValue>,
}

impl Collector {
    pub(crate) fn new(resource: &Resource, reader: Arc<ManualReader>, functions: bool) -> Self {
        START.get_or_init(now_nanos);
        let attribute = |key: &str| {
            resource
                .get(&opentelemetry::Key::new(key.to_owned()))
                .map(|v| v.to_string())
        };
        // autometrics joins its queries on `build_info{version, commit}` (empty when unknown).
        let build_info = vec![
            string("version", attribute("service.version").unwrap_or_default()),
            string(
                "commit",
                attribute("vcs.ref.head.revision").unwrap_or_default(),
            ),
            string("branch", attribute("vcs.ref.head.name").unwrap_or_default()),
            string("autometrics.version", "1.0.0"),
        ];
        Collector {
            resource: resource.into(),
            schema_url: resource.schema_url().unwrap_or_default().to_owned(),
            reader,
            functions,
            build_info,
        }
    }

    /// Every instrument now, cumulative; exemplars not older than `since` (ns since the epoch).
    pub(crate) fn collect(&self, since: u64) -> ExportMetricsServiceRequest {
        let start = *START.get_or_init(now_nanos);
        let now = now_nanos();
        let mut ours = Vec::new();
        if self.functions {
            functions(&mut ours, &function::registered(), start, now, since);
        }
        for (name, description, durations) in http::durations() {
            let (points, overflow) = durations.collect(since);
            let mut data_points: Vec<HistogramDataPoint> = points
                .iter()
                .map(|(attributes, point)| {
                    histogram_point(http_attributes(attributes), point, start, now)
                })
                .collect();
            data_points.extend(
                overflow
                    .map(|point| histogram_point(vec![overflow_attribute()], &point, start, now)),
            );
            if !data_points.is_empty() {
                ours.push(histogram(name, description, data_points));
            }
        }
        let (name, active) = http::active();
        let (points, overflow) = active.collect();
        let mut data_points: Vec<NumberDataPoint> = points
            .iter()
            .map(|(attributes, value)| int_point(http_attributes(attributes), *value, start, now))
            .collect();
        data_points.extend(overflow.map(|v| int_point(vec![overflow_attribute()], v, start, now)));
        if !data_points.is_empty() {
            ours.push(sum(
                name,
                "{request}",
                "Number of active HTTP server requests.",
                false,
                data_points,
            ));
        }
        ours.push(Metric {
            name: BUILD_INFO.to_owned(),
            description: "The version the metrics come from (autometrics' build_info).".to_owned(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![int_point(self.build_info.clone(), 1, 0, now)],
            })),
            ..Metric::default()
        });
        let mut scope_metrics = vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: "traced".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                ..InstrumentationScope::default()
            }),
            metrics: ours,
            schema_url: String::new(),
        }];
        let mut user = SdkResourceMetrics::default();
        if self.reader.collect(&mut user).is_ok() {
            let request = ExportMetricsServiceRequest::from(&user);
            scope_metrics.extend(
                request
                    .resource_metrics
                    .into_iter()
                    .flat_map(|r| r.scope_metrics)
                    .filter(|s| !s.metrics.is_empty()),
            );
        }
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.resource.clone()),
                scope_metrics,
                schema_url: self.schema_url.clone(),
            }],
        }
    }
}

/// `function.calls`, `function.calls.duration` and `function.calls.concurrent` of `fns` (every fn called so far,
/// in the order of their first call), with the exemplars not older than `since`.
fn functions(out: &mut Vec<Metric>, fns: &[&'static FnMetrics], start: u64, now: u64, since: u64) {
    let series = fns.iter().filter_map(|metrics| {
        metrics.collect(since).map(|point| FnSeries {
            metrics,
            calls: point.calls,
            duration: point.duration,
            concurrent: point.concurrent,
        })
    });
    out.extend(function_metrics(series, start, now));
}

/// What one fn recorded, as the function instruments report it.
pub(super) struct FnSeries {
    pub(super) metrics: &'static FnMetrics,
    pub(super) calls: Vec<function::CallsPoint>,
    pub(super) duration: HistogramPoint,
    pub(super) concurrent: u64,
}

/// The three function instruments of `fns` (none when there is no fn); past [`CARDINALITY_LIMIT`] attribute
/// sets per instrument, the rest are added into one overflow point.
pub(super) fn function_metrics(
    fns: impl IntoIterator<Item = FnSeries>,
    start: u64,
    now: u64,
) -> Vec<Metric> {
    let mut any = false;
    let mut calls = Vec::new();
    let mut calls_overflow = None::<u64>;
    let mut durations = Vec::new();
    let mut durations_overflow: Option<HistogramPoint> = None;
    let mut concurrent = Vec::new();
    let mut concurrent_overflow = None::<u64>;
    for (index, point) in fns.into_iter().enumerate() {
        any = true;
        let metrics = point.metrics;
        for series in &point.calls {
            if calls.len() < CARDINALITY_LIMIT {
                let mut data_point = int_point(
                    calls_attributes(metrics, series.key),
                    to_i64(series.count),
                    start,
                    now,
                );
                data_point.exemplars = series.exemplar.iter().map(proto_exemplar).collect();
                calls.push(data_point);
            } else {
                *calls_overflow.get_or_insert(0) += series.count;
            }
        }
        if index < CARDINALITY_LIMIT {
            durations.push(histogram_point(
                duration_attributes(metrics),
                &point.duration,
                start,
                now,
            ));
            concurrent.push(int_point(
                fn_attributes(metrics),
                to_i64(point.concurrent),
                start,
                now,
            ));
        } else {
            match &mut durations_overflow {
                Some(total) => {
                    for (sum, add) in total.buckets.iter_mut().zip(point.duration.buckets) {
                        *sum += add;
                    }
                    total.sum_nanos += point.duration.sum_nanos;
                }
                None => {
                    durations_overflow = Some(HistogramPoint {
                        exemplars: Vec::new(),
                        ..point.duration
                    })
                }
            }
            *concurrent_overflow.get_or_insert(0) += point.concurrent;
        }
    }
    if !any {
        return Vec::new();
    }
    calls.extend(
        calls_overflow.map(|v| int_point(vec![overflow_attribute()], to_i64(v), start, now)),
    );
    durations.extend(
        durations_overflow
            .map(|point| histogram_point(vec![overflow_attribute()], &point, start, now)),
    );
    concurrent.extend(
        concurrent_overflow.map(|v| int_point(vec![overflow_attribute()], to_i64(v), start, now)),
    );
    vec![
        sum(FUNCTION_CALLS, "", "Calls of #[traced] fns.", true, calls),
        histogram(
            FUNCTION_CALLS_DURATION,
            "Duration of the calls of #[traced] fns.",
            durations,
        ),
        sum(
            FUNCTION_CALLS_CONCURRENT,
            "",
            "Calls of #[traced] fns under way.",
            false,
            concurrent,
        ),
    ]
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn fn_attributes(metrics: &FnMetrics) -> Vec<KeyValue> {
    vec![
        string(FUNCTION, metrics.function()),
        string(MODULE, metrics.module()),
    ]
}

fn calls_attributes(metrics: &FnMetrics, key: function::Key) -> Vec<KeyValue> {
    let mut attributes = fn_attributes(metrics);
    attributes.push(string(RESULT, if key.error.is_some() { ERROR } else { OK }));
    attributes.push(string(
        CALLER_FUNCTION,
        key.caller.map_or("", FnMetrics::function),
    ));
    attributes.push(string(
        CALLER_MODULE,
        key.caller.map_or("", FnMetrics::module),
    ));
    if let Some(error) = key.error {
        attributes.push(string(ERROR_TYPE, error));
    }
    if let Some(objective) = metrics.objective() {
        if let Some(percentile) = objective.success {
            attributes.push(string(OBJECTIVE_NAME, objective.name));
            attributes.push(string(OBJECTIVE_PERCENTILE, percentile));
        }
    }
    attributes
}

fn duration_attributes(metrics: &FnMetrics) -> Vec<KeyValue> {
    let mut attributes = fn_attributes(metrics);
    if let Some(objective) = metrics.objective() {
        if let Some((threshold, percentile)) = objective.latency {
            attributes.push(string(OBJECTIVE_NAME, objective.name));
            attributes.push(string(OBJECTIVE_PERCENTILE, percentile));
            attributes.push(string(OBJECTIVE_LATENCY_THRESHOLD, threshold));
        }
    }
    attributes
}

fn http_attributes(attributes: &Attributes) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|(key, value)| match value {
            Value::Str(text) => string(key, text.as_str()),
            Value::Int(int) => KeyValue {
                key: (*key).to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(*int)),
                }),
                ..KeyValue::default()
            },
        })
        .collect()
}

pub(crate) fn string(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    }
}

fn overflow_attribute() -> KeyValue {
    KeyValue {
        key: OVERFLOW.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BoolValue(true)),
        }),
        ..KeyValue::default()
    }
}

fn int_point(attributes: Vec<KeyValue>, value: i64, start: u64, now: u64) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: now,
        value: Some(number_data_point::Value::AsInt(value)),
        ..NumberDataPoint::default()
    }
}

fn proto_exemplar(exemplar: &Exemplar) -> ProtoExemplar {
    ProtoExemplar {
        filtered_attributes: Vec::new(),
        time_unix_nano: exemplar.time_unix_nano,
        span_id: exemplar.span_id.to_vec(),
        trace_id: exemplar.trace_id.to_vec(),
        value: Some(exemplar::Value::AsDouble(exemplar.value)),
    }
}

fn histogram_point(
    attributes: Vec<KeyValue>,
    point: &HistogramPoint,
    start: u64,
    now: u64,
) -> HistogramDataPoint {
    #[allow(clippy::cast_precision_loss)]
    let sum = point.sum_nanos as f64 / 1e9;
    HistogramDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: now,
        count: point.count(),
        sum: Some(sum),
        bucket_counts: point.buckets.to_vec(),
        explicit_bounds: BOUNDS.to_vec(),
        exemplars: point
            .exemplars
            .iter()
            .map(|(_, e)| proto_exemplar(e))
            .collect(),
        ..HistogramDataPoint::default()
    }
}

fn sum(
    name: &str,
    unit: &str,
    description: &str,
    monotonic: bool,
    points: Vec<NumberDataPoint>,
) -> Metric {
    Metric {
        name: name.to_owned(),
        description: description.to_owned(),
        unit: unit.to_owned(),
        data: Some(metric::Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: monotonic,
        })),
        ..Metric::default()
    }
}

fn histogram(name: &str, description: &str, points: Vec<HistogramDataPoint>) -> Metric {
    Metric {
        name: name.to_owned(),
        description: description.to_owned(),
        unit: "s".to_owned(),
        data: Some(metric::Data::Histogram(ProtoHistogram {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Metric::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAST: usize = 5;
    static CALLERS: [FnMetrics; CARDINALITY_LIMIT + PAST] =
        [const { FnMetrics::new("caller", "tests", None) }; CARDINALITY_LIMIT + PAST];
    static CALLEE: FnMetrics = FnMetrics::new("callee", "tests", None);

    fn ints(metric: &Metric) -> Vec<(&[KeyValue], i64)> {
        let Some(metric::Data::Sum(sum)) = &metric.data else {
            panic!("not a sum: {metric:?}");
        };
        sum.data_points
            .iter()
            .map(|p| match p.value {
                Some(number_data_point::Value::AsInt(v)) => (&p.attributes[..], v),
                _ => panic!("not an integer: {p:?}"),
            })
            .collect()
    }

    #[test]
    fn series_past_the_cardinality_limit_go_to_one_overflow_point() {
        function::set_on(true);
        let concurrent = CALLERS[0].call();
        for caller in &CALLERS {
            let call = caller.call();
            CALLEE.call().finish(None);
            call.finish(None);
        }
        // The callee first: its series (one per caller) fill the limit but for the first `PAST` callers'.
        let fns: Vec<&'static FnMetrics> = std::iter::once(&CALLEE).chain(&CALLERS).collect();
        let mut out = Vec::new();
        functions(&mut out, &fns, 0, 1, 0);
        let names: Vec<&str> = out.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                FUNCTION_CALLS,
                FUNCTION_CALLS_DURATION,
                FUNCTION_CALLS_CONCURRENT
            ]
        );

        let calls = ints(&out[0]);
        assert_eq!(calls.len(), CARDINALITY_LIMIT + 1);
        let (attributes, overflowed) = calls[CARDINALITY_LIMIT];
        assert_eq!(attributes, [overflow_attribute()]);
        // The callee's calls from the last `PAST` callers, and every call of the callers.
        assert_eq!(overflowed, to_i64((PAST + CALLERS.len()) as u64));
        assert!(calls[..CARDINALITY_LIMIT]
            .iter()
            .all(|(a, v)| *v == 1 && !a.contains(&overflow_attribute())));
        let total: i64 = calls.iter().map(|(_, v)| v).sum();
        assert_eq!(total, to_i64(2 * CALLERS.len() as u64), "no call lost");

        let Some(metric::Data::Histogram(durations)) = &out[1].data else {
            panic!("{:?}", out[1]);
        };
        let points = &durations.data_points;
        assert_eq!(points.len(), CARDINALITY_LIMIT + 1);
        assert_eq!(points[CARDINALITY_LIMIT].attributes, [overflow_attribute()]);
        // The fns past the limit: the last `PAST + 1` callers (the callee took the first place).
        assert_eq!(points[CARDINALITY_LIMIT].count, PAST as u64 + 1);
        assert_eq!(points[0].count, CALLERS.len() as u64);

        let concurrent_points = ints(&out[2]);
        assert_eq!(concurrent_points.len(), CARDINALITY_LIMIT + 1);
        assert_eq!(
            concurrent_points[1].1, 1,
            "the first caller is still under way"
        );
        assert_eq!(concurrent_points[CARDINALITY_LIMIT].1, 0);
        concurrent.finish(None);
    }
}
