//! The YAML configuration file: a walk over [`serde_yaml::Value`], so that every error carries the full key path.
//!
//! Schema (every key optional; `examples/traced.yaml` documents each one):
//!
//! ```yaml
//! disabled: false
//! service: { name: checkout, version: "1.4.2", environment: production }
//! resource: { team.name: payments }
//! exporter:
//!   kinds: [otlp]                 # or `kind: otlp`
//!   otlp:
//!     endpoint: http://collector:4318         # base URL, /v1/traces appended for http
//!     traces_endpoint: http://c:4318/v1/traces  # full URL, used as is (wins over endpoint)
//!     protocol: http/protobuf
//!     headers: { x-api-key: "${API_KEY}" }
//!     timeout_ms: 10000
//!     compression: gzip
//!   zipkin: { endpoint: http://localhost:9411/api/v2/spans }
//! sampler: { kind: parentbased_traceidratio, ratio: 0.25 }
//! propagators: [tracecontext, baggage]
//! batch: { schedule_delay_ms: 5000, export_timeout_ms: 30000, max_queue_size: 2048, max_export_batch_size: 512 }
//! limits: { attribute_value_length: 4096, span_attribute_count: 128, span_event_count: 128, span_link_count: 128 }
//! redaction: { enabled: true, keys: [ssn, iban] }
//! log: { filter: info, format: compact }
//! ```
//!
//! Scalar values go through `${VAR}` expansion (see [`expand`](super::expand)); a value that is empty after
//! expansion counts as unset. Numbers and booleans may be written as strings, so that they can come from a
//! variable.

use std::path::Path;
use std::time::Duration;

use serde_yaml::Value;

use super::expand::expand;
use super::layer::{self, Endpoint, Layer};
use super::{env, parse, Config, SamplerConfig};
use crate::Error;

impl Config {
    /// Reads a YAML configuration file. Its values win over the environment, which wins over the spec defaults;
    /// `${VAR}` and `${VAR:-default}` inside values read the environment explicitly.
    ///
    /// Every mistake is reported at once, each with its key path, value and reason.
    pub fn from_yaml_file(path: impl AsRef<Path>) -> Result<Config, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::File {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Config::from_yaml_str(&text, &path.display().to_string())
    }

    /// Reads YAML configuration text; `origin` names it in error messages (a file name, `"inline"`).
    ///
    /// ```
    /// use traced_runtime::config::{Config, SamplerConfig};
    ///
    /// let config = Config::from_yaml_str(
    ///     "service: { name: checkout }\nsampler: { kind: traceidratio, ratio: 0.5 }",
    ///     "inline",
    /// )?;
    /// assert_eq!(config.sampler, SamplerConfig::TraceIdRatio(0.5));
    /// # Ok::<(), traced_runtime::Error>(())
    /// ```
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Config, Error> {
        from_yaml_with(text, origin, &|name| std::env::var(name).ok())
    }
}

/// [`Config::from_yaml_str`] with `lookup` answering for the environment.
pub(crate) fn from_yaml_with(
    text: &str,
    origin: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, Error> {
    let (env, mut errors) = env::read(lookup);
    let (yaml, yaml_errors) = read(text, origin, lookup);
    errors.extend(yaml_errors);
    layer::finish([env, yaml], errors)
}

/// Parses and walks the text into a layer (without the invalid values) and the errors.
pub(crate) fn read(
    text: &str,
    origin: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (Layer, Vec<Error>) {
    let root: Value = match serde_yaml::from_str(text) {
        Ok(root) => root,
        Err(e) => {
            let error = Error::File {
                file: origin.to_owned(),
                reason: e.to_string(),
            };
            return (Layer::default(), vec![error]);
        }
    };
    let mut walker = Walker {
        file: origin,
        lookup,
        errors: Vec::new(),
    };
    let layer = walker.root(&root);
    (layer, walker.errors)
}

const ROOT: &[&str] = &[
    "disabled",
    "service",
    "resource",
    "exporter",
    "sampler",
    "propagators",
    "batch",
    "limits",
    "redaction",
    "log",
];
const SERVICE: &[&str] = &["name", "version", "environment"];
const EXPORTER: &[&str] = &["kind", "kinds", "otlp", "zipkin"];
const OTLP: &[&str] = &[
    "endpoint",
    "traces_endpoint",
    "protocol",
    "headers",
    "timeout_ms",
    "compression",
];
const ZIPKIN: &[&str] = &["endpoint"];
const SAMPLER: &[&str] = &["kind", "ratio"];
const BATCH: &[&str] = &[
    "schedule_delay_ms",
    "export_timeout_ms",
    "max_queue_size",
    "max_export_batch_size",
];
const LIMITS: &[&str] = &[
    "attribute_value_length",
    "span_attribute_count",
    "span_event_count",
    "span_link_count",
];
const LOG: &[&str] = &["filter", "format"];
const REDACTION: &[&str] = &["enabled", "keys"];

struct Walker<'a> {
    file: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<Error>,
}

impl Walker<'_> {
    fn root(&mut self, root: &Value) -> Layer {
        let mut layer = Layer::default();
        for (key, value) in self.mapping("", root, Some(ROOT)) {
            match key.as_str() {
                "disabled" => layer.disabled = self.parsed(&key, value, parse::boolean),
                "service" => self.service(value, &mut layer),
                "resource" => layer.resource_attributes = self.string_map(&key, value),
                "exporter" => self.exporter(value, &mut layer),
                "sampler" => layer.sampler = self.sampler(value),
                "propagators" => layer.propagators = self.names(&key, value, parse::propagators),
                "batch" => self.batch(value, &mut layer),
                "limits" => self.limits(value, &mut layer),
                "redaction" => self.redaction(value, &mut layer),
                "log" => self.log(value, &mut layer),
                _ => unreachable!("mapping() only returns allowed keys"),
            }
        }
        layer
    }

    fn service(&mut self, value: &Value, layer: &mut Layer) {
        for (key, value) in self.mapping("service", value, Some(SERVICE)) {
            let text = self.scalar(&key, value);
            match key.as_str() {
                "service.name" => layer.service_name = text,
                "service.version" => layer.service_version = text,
                _ => layer.deployment_environment = text,
            }
        }
    }

    fn exporter(&mut self, value: &Value, layer: &mut Layer) {
        let entries = self.mapping("exporter", value, Some(EXPORTER));
        if entries
            .iter()
            .filter(|(key, _)| key.starts_with("exporter.kind"))
            .count()
            > 1
        {
            self.invalid(
                "exporter.kinds",
                "kind and kinds",
                "set one of exporter.kind and exporter.kinds",
            );
        }
        for (key, value) in entries {
            match key.as_str() {
                "exporter.kind" | "exporter.kinds" => {
                    layer.exporters = self.names(&key, value, parse::exporters)
                }
                "exporter.otlp" => self.otlp(value, layer),
                _ => {
                    for (key, value) in self.mapping("exporter.zipkin", value, Some(ZIPKIN)) {
                        layer.zipkin_endpoint = self.url(&key, value);
                    }
                }
            }
        }
    }

    fn otlp(&mut self, value: &Value, layer: &mut Layer) {
        let mut base = None;
        let mut traces = None;
        for (key, value) in self.mapping("exporter.otlp", value, Some(OTLP)) {
            match key.rsplit('.').next().unwrap_or_default() {
                "endpoint" => base = self.url(&key, value),
                "traces_endpoint" => traces = self.url(&key, value),
                "protocol" => layer.protocol = self.parsed(&key, value, parse::protocol),
                "headers" => layer.headers = self.string_map(&key, value),
                "timeout_ms" => layer.timeout = self.millis(&key, value, 1),
                _ => layer.compression = self.parsed(&key, value, parse::compression),
            }
        }
        // As in the environment, the per-signal URL wins.
        layer.endpoint = traces.map(Endpoint::Traces).or(base.map(Endpoint::Base));
    }

    fn sampler(&mut self, value: &Value) -> Option<SamplerConfig> {
        let mut kind = None;
        let mut ratio = None;
        for (key, value) in self.mapping("sampler", value, Some(SAMPLER)) {
            if key == "sampler.kind" {
                kind = self.parsed(&key, value, parse::sampler);
            } else {
                ratio = self
                    .parsed(&key, value, parse::ratio)
                    .map(|r| (r, describe(value)));
            }
        }
        match (kind, ratio) {
            (kind, None) => kind,
            (Some(kind), Some((ratio, text))) => parse::with_ratio(kind, ratio).or_else(|| {
                self.invalid(
                    "sampler.ratio",
                    &text,
                    "only the traceidratio samplers take a ratio",
                );
                Some(kind)
            }),
            (None, Some((_, text))) => {
                self.invalid(
                    "sampler.ratio",
                    &text,
                    "set sampler.kind to a traceidratio sampler too",
                );
                None
            }
        }
    }

    fn batch(&mut self, value: &Value, layer: &mut Layer) {
        for (key, value) in self.mapping("batch", value, Some(BATCH)) {
            match key.as_str() {
                "batch.schedule_delay_ms" => layer.schedule_delay = self.millis(&key, value, 0),
                "batch.export_timeout_ms" => layer.export_timeout = self.millis(&key, value, 1),
                "batch.max_queue_size" => layer.max_queue_size = self.count(&key, value, 1),
                _ => layer.max_export_batch_size = self.count(&key, value, 1),
            }
        }
    }

    fn limits(&mut self, value: &Value, layer: &mut Layer) {
        for (key, value) in self.mapping("limits", value, Some(LIMITS)) {
            let limit = self.count(&key, value, 0);
            match key.as_str() {
                "limits.attribute_value_length" => layer.attribute_value_length = limit,
                "limits.span_attribute_count" => layer.span_attribute_count = limit,
                "limits.span_event_count" => layer.span_event_count = limit,
                _ => layer.span_link_count = limit,
            }
        }
    }

    fn redaction(&mut self, value: &Value, layer: &mut Layer) {
        for (key, value) in self.mapping("redaction", value, Some(REDACTION)) {
            if key == "redaction.enabled" {
                layer.redaction = self.parsed(&key, value, parse::boolean);
            } else {
                layer.redact_keys = self
                    .names(&key, value, |v| Ok::<_, String>(parse::words(v)))
                    .unwrap_or_default();
            }
        }
    }

    fn log(&mut self, value: &Value, layer: &mut Layer) {
        for (key, value) in self.mapping("log", value, Some(LOG)) {
            if key == "log.filter" {
                layer.log_filter =
                    self.parsed(&key, value, |v| parse::log_filter(v).map(|()| v.to_owned()));
            } else {
                layer.log_format = self.parsed(&key, value, parse::log_format);
            }
        }
    }

    /// The entries of a mapping, keyed by full dotted path. With `allowed`, other keys are reported (with a
    /// did-you-mean hint) and skipped. `null` (an empty section) is an empty mapping.
    fn mapping<'v>(
        &mut self,
        path: &str,
        value: &'v Value,
        allowed: Option<&[&str]>,
    ) -> Vec<(String, &'v Value)> {
        let map = match value {
            Value::Null => return Vec::new(),
            Value::Mapping(map) => map,
            other => {
                let path = if path.is_empty() { "(top level)" } else { path };
                self.invalid(
                    path,
                    &describe(other),
                    "expected a mapping of keys to values",
                );
                return Vec::new();
            }
        };
        let mut entries = Vec::new();
        for (key, value) in map {
            let Some(key) = key.as_str() else {
                self.invalid(path, &describe(key), "keys must be strings");
                continue;
            };
            let full = if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            };
            match allowed {
                Some(allowed) if !allowed.contains(&key) => {
                    let hint = did_you_mean(key, allowed)
                        .map(|close| {
                            let close = if path.is_empty() {
                                close.to_owned()
                            } else {
                                format!("{path}.{close}")
                            };
                            format!(", did you mean {close:?}?")
                        })
                        .unwrap_or_default();
                    self.errors.push(Error::UnknownKey {
                        file: self.file.to_owned(),
                        key: full,
                        hint,
                    });
                }
                _ => entries.push((full, value)),
            }
        }
        entries
    }

    /// A mapping of free keys to scalar values (resource attributes, headers).
    fn string_map(&mut self, path: &str, value: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, value) in self.mapping(path, value, None) {
            if let Some(text) = self.scalar(&key, value) {
                let name = key[path.len() + 1..].to_owned();
                parse::upsert(&mut out, name, text);
            }
        }
        out
    }

    /// A scalar as text, expanded; `None` when null or empty after expansion.
    fn scalar(&mut self, path: &str, value: &Value) -> Option<String> {
        let text = match value {
            Value::Null => return None,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => match expand(s, self.lookup) {
                Ok(expanded) => expanded,
                Err(reason) => {
                    self.invalid(path, s, &reason);
                    return None;
                }
            },
            other => {
                self.invalid(
                    path,
                    &describe(other),
                    "expected a single value (string, number or boolean)",
                );
                return None;
            }
        };
        let text = text.trim().to_owned();
        (!text.is_empty()).then_some(text)
    }

    /// A scalar checked by `parse`.
    fn parsed<T>(
        &mut self,
        path: &str,
        value: &Value,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.scalar(path, value)?;
        match parse(&text) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.invalid(path, &text, &reason);
                None
            }
        }
    }

    /// A list of names: a YAML sequence, or one string (possibly a comma list, as in the environment).
    fn names<T>(
        &mut self,
        path: &str,
        value: &Value,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let Value::Sequence(items) = value else {
            return self.parsed(path, value, parse);
        };
        let mut names = Vec::new();
        for (i, item) in items.iter().enumerate() {
            names.extend(self.scalar(&format!("{path}[{i}]"), item));
        }
        let joined = names.join(",");
        match parse(&joined) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.invalid(path, &format!("[{}]", names.join(", ")), &reason);
                None
            }
        }
    }

    fn url(&mut self, path: &str, value: &Value) -> Option<String> {
        self.parsed(path, value, |v| parse::url(v).map(|()| v.to_owned()))
    }

    fn millis(&mut self, path: &str, value: &Value, min: u64) -> Option<Duration> {
        self.parsed(path, value, |v| parse::integer(v, min))
            .map(Duration::from_millis)
    }

    fn count(&mut self, path: &str, value: &Value, min: u64) -> Option<usize> {
        self.parsed(path, value, |v| parse::integer(v, min))
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn invalid(&mut self, path: &str, value: &str, reason: &str) {
        self.errors.push(Error::InvalidValue {
            option: format!("{path} in {}", self.file),
            value: value.to_owned(),
            reason: reason.to_owned(),
        });
    }
}

/// A short rendering of a YAML value for an error message.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
    }
}

/// The allowed key closest to `key`, if close enough to be a likely typo.
fn did_you_mean<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .filter(|(distance, candidate)| {
            *distance <= 2.max(key.len() / 3)
                || candidate.starts_with(key)
                || key.starts_with(candidate)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests;
