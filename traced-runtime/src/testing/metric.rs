//! The metrics of a capture: the function metrics of the calls the captured code made, as they would be exported.

use opentelemetry::{KeyValue, Value};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric};

/// One instrument of a capture (`function.calls`, `function.calls.duration`, `function.calls.concurrent`), with
/// its points; see [`Captured::metric`](super::Captured::metric).
#[derive(Clone, Debug, PartialEq)]
pub struct CapturedMetric {
    name: String,
    unit: String,
    points: Vec<MetricPoint>,
}

/// One data point: an attribute set and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    attributes: Vec<KeyValue>,
    /// A sum's value, or a histogram's count.
    value: i64,
    /// A histogram's sum, in its unit.
    sum: Option<f64>,
}

impl CapturedMetric {
    pub(super) fn from_proto(metric: &Metric) -> CapturedMetric {
        let points = match &metric.data {
            Some(metric::Data::Sum(sum)) => sum
                .data_points
                .iter()
                .map(|p| MetricPoint {
                    attributes: attributes(&p.attributes),
                    value: match p.value {
                        Some(number_data_point::Value::AsInt(v)) => v,
                        #[allow(clippy::cast_possible_truncation)]
                        Some(number_data_point::Value::AsDouble(v)) => v as i64,
                        None => 0,
                    },
                    sum: None,
                })
                .collect(),
            Some(metric::Data::Histogram(histogram)) => histogram
                .data_points
                .iter()
                .map(|p| MetricPoint {
                    attributes: attributes(&p.attributes),
                    value: i64::try_from(p.count).unwrap_or(i64::MAX),
                    sum: p.sum,
                })
                .collect(),
            _ => Vec::new(),
        };
        CapturedMetric {
            name: metric.name.clone(),
            unit: metric.unit.clone(),
            points,
        }
    }

    /// The instrument's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its unit (`s` for the durations).
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// Every point, one per attribute set.
    pub fn points(&self) -> &[MetricPoint] {
        &self.points
    }

    /// The points whose attributes include every `(key, value)` of `attributes` (string values, as in
    /// `("function", "checkout")`).
    pub fn points_where(&self, attributes: &[(&str, &str)]) -> Vec<&MetricPoint> {
        self.points
            .iter()
            .filter(|point| point.matches(attributes))
            .collect()
    }

    /// The only point whose attributes include every `(key, value)` of `attributes`.
    ///
    /// ```
    /// #[traced::traced]
    /// fn lookup(id: u32) -> Result<u32, std::fmt::Error> {
    ///     if id == 0 { Err(std::fmt::Error) } else { Ok(id) }
    /// }
    ///
    /// let ((), captured) = traced::testing::capture(|| {
    ///     let _ = (lookup(1), lookup(2), lookup(0));
    /// });
    /// let calls = captured.metric("function.calls");
    /// assert_eq!(calls.point(&[("function", "lookup"), ("result", "ok")]).value(), 2);
    /// assert_eq!(calls.point(&[("function", "lookup"), ("result", "error")]).value(), 1);
    /// assert_eq!(captured.metric("function.calls.duration").total(), 3);
    /// ```
    ///
    /// # Panics
    ///
    /// When no point or several match; the message lists the attribute sets there are.
    pub fn point(&self, attributes: &[(&str, &str)]) -> &MetricPoint {
        match self.points_where(attributes).as_slice() {
            [only] => only,
            found => panic!(
                "{} points of {} have {attributes:?}, expected one; the points: {}",
                found.len(),
                self.name,
                self.describe()
            ),
        }
    }

    /// The values of every point added up (for a histogram: the number of measurements).
    pub fn total(&self) -> i64 {
        self.points.iter().map(MetricPoint::value).sum()
    }

    fn describe(&self) -> String {
        let sets: Vec<String> = self
            .points
            .iter()
            .map(|point| {
                let pairs: Vec<String> = point
                    .attributes
                    .iter()
                    .map(|kv| format!("{}={}", kv.key, kv.value))
                    .collect();
                format!("{{{}}} {}", pairs.join(", "), point.value)
            })
            .collect();
        if sets.is_empty() {
            "none".to_owned()
        } else {
            sets.join("; ")
        }
    }
}

impl MetricPoint {
    /// The value of the attribute `key`, with its type.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// Every attribute of the point.
    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    /// A counter's or up-down counter's value; for a histogram, the number of measurements.
    pub fn value(&self) -> i64 {
        self.value
    }

    /// A histogram's sum of measurements, in the instrument's unit (seconds for the durations); `None` for a sum.
    pub fn sum(&self) -> Option<f64> {
        self.sum
    }

    fn matches(&self, attributes: &[(&str, &str)]) -> bool {
        attributes
            .iter()
            .all(|(key, value)| self.attr(key).is_some_and(|found| found.as_str() == *value))
    }
}

fn attributes(proto: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> Vec<KeyValue> {
    proto
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()? {
                AnyValue {
                    value: Some(any_value::Value::StringValue(s)),
                } => Value::from(s.clone()),
                AnyValue {
                    value: Some(any_value::Value::IntValue(i)),
                } => Value::I64(*i),
                AnyValue {
                    value: Some(any_value::Value::BoolValue(b)),
                } => Value::Bool(*b),
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(d)),
                } => Value::F64(*d),
                _ => return None,
            };
            Some(KeyValue::new(kv.key.clone(), value))
        })
        .collect()
}
