//! A collection as the Prometheus text format 0.0.4, or as OpenMetrics 1.0 with exemplars, following the
//! OpenTelemetry specification's Prometheus compatibility rules: dots become underscores, the unit is a suffix
//! (`s`: `_seconds`), counters end in `_total`, up-down counters are gauges, the resource is `target_info`.
//!
//! Every series also carries `service_name` (from `service.name`), as autometrics' queries expect.

use std::fmt::Write as _;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, Exemplar, Metric,
};

/// `Content-Type` of the text format.
pub(crate) const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `Content-Type` of OpenMetrics.
pub(crate) const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// True when the scraper's `Accept` header asks for OpenMetrics (Prometheus does, to read exemplars).
pub(crate) fn wants_openmetrics(accept: &str) -> bool {
    accept.contains("application/openmetrics-text")
}

/// The Prometheus name of an OpenTelemetry name: characters outside `[a-zA-Z0-9_:]` become `_`.
pub(crate) fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The unit as a name suffix: `s` is `seconds`; annotations (`{request}`) and `1` add nothing.
fn unit_suffix(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        _ => return None,
    })
}

/// The name of a metric's family: sanitized, with the unit suffix.
pub(crate) fn family_name(metric: &Metric) -> String {
    let mut name = sanitize(&metric.name);
    if let Some(suffix) = unit_suffix(&metric.unit) {
        if !name.ends_with(suffix) {
            name.push('_');
            name.push_str(suffix);
        }
    }
    if is_counter(metric) {
        // The family of `x_total` is `x`; the sample adds `_total` back.
        if let Some(stripped) = name.strip_suffix("_total") {
            name = stripped.to_owned();
        }
    }
    name
}

fn is_counter(metric: &Metric) -> bool {
    matches!(&metric.data, Some(metric::Data::Sum(sum)) if sum.is_monotonic)
}

/// Renders `request`; `openmetrics` adds exemplars, `# UNIT` lines and `# EOF`.
pub(crate) fn render(request: &ExportMetricsServiceRequest, openmetrics: bool) -> String {
    let mut out = String::new();
    let resource = request
        .resource_metrics
        .first()
        .and_then(|r| r.resource.as_ref())
        .map(|r| r.attributes.as_slice())
        .unwrap_or_default();
    let service = resource
        .iter()
        .find(|kv| kv.key == "service.name")
        .map(text)
        .unwrap_or_default();
    let service_label = [("service_name".to_owned(), service)];
    // Families must be contiguous: the metrics of every scope, grouped by family name in first-seen order.
    let mut families: Vec<(String, Vec<&Metric>)> = Vec::new();
    for metric in request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
    {
        let name = family_name(metric);
        match families.iter_mut().find(|(n, _)| *n == name) {
            Some((_, metrics)) => metrics.push(metric),
            None => families.push((name, vec![metric])),
        }
    }
    for (name, metrics) in &families {
        let first = metrics[0];
        let kind = match &first.data {
            Some(metric::Data::Sum(sum)) if sum.is_monotonic => "counter",
            Some(metric::Data::Sum(_) | metric::Data::Gauge(_)) => "gauge",
            Some(metric::Data::Histogram(_)) => "histogram",
            _ => continue,
        };
        if !first.description.is_empty() {
            let _ = writeln!(
                out,
                "# HELP {} {}",
                type_name(name, kind, openmetrics),
                escape_help(&first.description)
            );
        }
        let _ = writeln!(out, "# TYPE {} {kind}", type_name(name, kind, openmetrics));
        if openmetrics {
            if let Some(unit) = unit_suffix(&first.unit) {
                let _ = writeln!(out, "# UNIT {name} {unit}");
            }
        }
        for metric in metrics {
            write_points(&mut out, name, metric, &service_label, openmetrics);
        }
    }
    if !resource.is_empty() {
        let _ = writeln!(out, "# TYPE target_info gauge");
        let labels: Vec<(String, String)> = resource
            .iter()
            .map(|kv| (sanitize(&kv.key), text(kv)))
            .collect();
        let _ = writeln!(out, "target_info{} 1", labels_text(&labels, &[]));
    }
    if openmetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// The name on the `# TYPE` line: a text-format counter is named with its `_total`.
fn type_name(name: &str, kind: &str, openmetrics: bool) -> String {
    if kind == "counter" && !openmetrics {
        format!("{name}_total")
    } else {
        name.to_owned()
    }
}

fn write_points(
    out: &mut String,
    name: &str,
    metric: &Metric,
    service: &[(String, String)],
    openmetrics: bool,
) {
    let labels_of = |attributes: &[KeyValue]| -> Vec<(String, String)> {
        let mut labels: Vec<(String, String)> = service.to_vec();
        labels.extend(attributes.iter().map(|kv| (sanitize(&kv.key), text(kv))));
        labels
    };
    match &metric.data {
        Some(metric::Data::Sum(sum)) => {
            let sample = if sum.is_monotonic {
                format!("{name}_total")
            } else {
                name.to_owned()
            };
            for point in &sum.data_points {
                let labels = labels_of(&point.attributes);
                let _ = write!(
                    out,
                    "{sample}{} {}",
                    labels_text(&labels, &[]),
                    number(point.value)
                );
                if openmetrics && sum.is_monotonic {
                    write_exemplar(out, point.exemplars.last());
                }
                out.push('\n');
            }
        }
        Some(metric::Data::Gauge(gauge)) => {
            for point in &gauge.data_points {
                let labels = labels_of(&point.attributes);
                let _ = writeln!(
                    out,
                    "{name}{} {}",
                    labels_text(&labels, &[]),
                    number(point.value)
                );
            }
        }
        Some(metric::Data::Histogram(histogram)) => {
            for point in &histogram.data_points {
                let labels = labels_of(&point.attributes);
                let mut cumulative = 0;
                for (i, count) in point.bucket_counts.iter().enumerate() {
                    cumulative += count;
                    let le = point
                        .explicit_bounds
                        .get(i)
                        .map_or_else(|| "+Inf".to_owned(), |bound| float(*bound));
                    let _ = write!(
                        out,
                        "{name}_bucket{} {cumulative}",
                        labels_text(&labels, &[("le", &le)])
                    );
                    if openmetrics {
                        let lower = i
                            .checked_sub(1)
                            .and_then(|j| point.explicit_bounds.get(j))
                            .copied();
                        let upper = point.explicit_bounds.get(i).copied();
                        // The bucket's own exemplar: the one whose value falls in it.
                        let exemplar = point.exemplars.iter().rev().find(|e| {
                            let v = exemplar_value(e);
                            lower.is_none_or(|l| v > l) && upper.is_none_or(|u| v <= u)
                        });
                        write_exemplar(out, exemplar);
                    }
                    out.push('\n');
                }
                let _ = writeln!(
                    out,
                    "{name}_sum{} {}",
                    labels_text(&labels, &[]),
                    float(point.sum.unwrap_or_default())
                );
                let _ = writeln!(
                    out,
                    "{name}_count{} {}",
                    labels_text(&labels, &[]),
                    point.count
                );
            }
        }
        _ => {}
    }
}

fn exemplar_value(exemplar: &Exemplar) -> f64 {
    match exemplar.value {
        Some(exemplar::Value::AsDouble(v)) => v,
        #[allow(clippy::cast_precision_loss)]
        Some(exemplar::Value::AsInt(v)) => v as f64,
        None => 0.0,
    }
}

/// ` # {trace_id="..",span_id=".."} value timestamp` (OpenMetrics).
fn write_exemplar(out: &mut String, exemplar: Option<&Exemplar>) {
    let Some(exemplar) = exemplar else { return };
    let hex = |bytes: &[u8]| {
        bytes.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    #[allow(clippy::cast_precision_loss)]
    let seconds = exemplar.time_unix_nano as f64 / 1e9;
    let _ = write!(
        out,
        " # {{trace_id=\"{}\",span_id=\"{}\"}} {} {seconds:.3}",
        hex(&exemplar.trace_id),
        hex(&exemplar.span_id),
        float(exemplar_value(exemplar))
    );
}

fn labels_text(labels: &[(String, String)], extra: &[(&str, &str)]) -> String {
    if labels.is_empty() && extra.is_empty() {
        return String::new();
    }
    let mut out = String::from("{");
    let all = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra.iter().copied());
    for (i, (key, value)) in all.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{key}=\"{}\"", escape_value(value));
    }
    out.push('}');
    out
}

fn escape_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

/// An attribute value as label text.
fn text(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => float(*d),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn number(value: Option<number_data_point::Value>) -> String {
    match value {
        Some(number_data_point::Value::AsInt(i)) => i.to_string(),
        Some(number_data_point::Value::AsDouble(d)) => float(d),
        None => "0".to_owned(),
    }
}

fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_compatibility_rules() {
        let metric = |name: &str, unit: &str, monotonic| Metric {
            name: name.into(),
            unit: unit.into(),
            data: Some(metric::Data::Sum(
                opentelemetry_proto::tonic::metrics::v1::Sum {
                    is_monotonic: monotonic,
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        assert_eq!(
            family_name(&metric("function.calls", "", true)),
            "function_calls"
        );
        assert_eq!(
            family_name(&metric("http.server.active_requests", "{request}", false)),
            "http_server_active_requests"
        );
        assert_eq!(family_name(&metric("orders.total", "", true)), "orders");
        let histogram = Metric {
            name: "function.calls.duration".into(),
            unit: "s".into(),
            data: Some(metric::Data::Histogram(Default::default())),
            ..Default::default()
        };
        assert_eq!(family_name(&histogram), "function_calls_duration_seconds");
        assert_eq!(sanitize("9a.b-c"), "_9a_b_c");
        assert_eq!(escape_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert!(wants_openmetrics(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
        ));
        assert!(!wants_openmetrics("text/plain"));
    }
}
