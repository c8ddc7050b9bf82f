//! [`FileConfig`]: the tracing keys of a configuration file, read from YAML or embedded in the application's own
//! configuration struct, and the walk that checks them into a [`Layer`] so that every error carries its full key
//! path (and its line and column when the reader knows them).
//!
//! Schema (every key optional; `examples/traced.yaml` documents each one):
//!
//! ```yaml
//! disabled: false
//! shutdown_timeout_ms: 5000
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
//! sampler: { kind: parentbased_traceidratio, ratio: 0.25, tail: { errors: true, slow: 500ms, ratio: 0.1 } }
//! propagators: [tracecontext, baggage]
//! propagation: { baggage_attributes: [tenant.id, user.id] }   # or "*" for every entry
//! batch: { schedule_delay_ms: 5000, export_timeout_ms: 30000, max_queue_size: 2048, max_export_batch_size: 512,
//!          max_export_bytes: 4194304 }
//! limits: { attribute_value_length: 4096, attribute_count: 128, span_attribute_count: 128, span_event_count: 128, span_link_count: 128 }
//! redaction: { enabled: true, keys: [ssn, iban] }
//! log: { filter: info, format: compact }
//! metrics:
//!   exporters: [otlp, prometheus]   # or none
//!   export_interval_ms: 60000
//!   export_timeout_ms: 30000
//!   temporality: cumulative         # delta, lowmemory
//!   functions: true                 # function.calls* for every #[traced] fn
//!   otlp: { endpoint: http://c:4318/v1/metrics, protocol: http/protobuf, headers: {}, timeout_ms: 10000, compression: gzip }
//!   prometheus: { host: localhost, port: 9464 }
//! logs:                           # tracing events exported as log records
//!   exporters: [otlp]
//!   span_attributes: [tenant.id]  # or "*"
//!   otlp: { endpoint: http://c:4318/v1/logs, protocol: grpc, headers: {}, timeout_ms: 10000, compression: gzip }
//!   batch: { schedule_delay_ms: 1000, export_timeout_ms: 30000, max_queue_size: 2048, max_export_batch_size: 512 }
//!   limits: { attribute_count: 128, attribute_value_length: 4096 }
//! ```
//!
//! `logs.otlp.endpoint` is the full logs URL; without it the logs go to `exporter.otlp.endpoint` + `/v1/logs`,
//! and the other `logs.otlp` and `logs.limits` keys fall back to their `exporter.otlp` and `limits` twins.
//!
//! Scalar values go through `${VAR}` expansion (see [`expand`](super::expand)); a value that is empty after
//! expansion counts as unset. Numbers and booleans may be written as strings, so that they can come from a
//! variable.

use std::path::Path;
use std::time::Duration;

use serde::de::{Deserialize, DeserializeSeed, Deserializer};
use traced_conventions::suggest::closest;

use super::expand::expand;
use super::layer::{Endpoint, Layer, OtlpLayer, Owner, Problems, SignalEndpoint};
use super::tree::{located, Node, NodeSeed, Position, Value};
use super::yaml;
use super::{
    parse, Config, ExporterKind, LogsExporterKind, MetricsExporterKind, SamplerConfig, TailSampling,
};
use crate::Error;

/// The tracing keys of a configuration file, as read and not yet checked: the schema above, from a YAML file, a
/// section of the application's own file, or any serde format.
///
/// It is checked when a [`ConfigBuilder`](super::ConfigBuilder) builds with it
/// ([`with_file_config`](super::ConfigBuilder::with_file_config)): every mistake at once, each naming its key
/// path, with a did-you-mean hint for a misspelt key. Reading never fails on a key, so an application can embed
/// it in its own configuration struct, in any serde format, and still get those errors:
///
/// ```
/// use traced::config::{Config, FileConfig, SamplerConfig};
///
/// #[derive(serde::Deserialize)]
/// struct AppConfig {
///     listen: String,
///     tracing: FileConfig,
/// }
///
/// let app: AppConfig = serde_json::from_str(
///     r#"{ "listen": "0.0.0.0:8080", "tracing": { "sampler": { "kind": "always_off" } } }"#,
/// )?;
/// let config = Config::builder()
///     .without_env()
///     .with_file_config(app.tracing.in_file("config.json", "tracing"))
///     .build()?;
/// assert_eq!(config.sampler, SamplerConfig::AlwaysOff);
///
/// let typo: AppConfig = serde_json::from_str(
///     r#"{ "listen": "", "tracing": { "sampler": { "knd": "always_off" } } }"#,
/// )?;
/// let error = Config::builder()
///     .without_env()
///     .with_file_config(typo.tracing.in_file("config.json", "tracing"))
///     .build()
///     .unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     r#"unknown key "tracing.sampler.knd" in config.json, did you mean "tracing.sampler.kind"?"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileConfig {
    root: Node,
    /// The file, in error messages.
    origin: Option<String>,
    /// The key path of the section in that file, prefixed to the key paths of errors.
    section: Option<String>,
}

impl Config {
    /// Reads a YAML configuration file. Its values win over the environment, which wins over the spec defaults;
    /// `${VAR}` and `${VAR:-default}` inside values read the environment explicitly.
    ///
    /// Every mistake is reported at once, each with its key path, line and column, value and reason. For a
    /// section of the application's own file, see [`ConfigBuilder::with_yaml_section`](super::ConfigBuilder::with_yaml_section).
    pub fn from_yaml_file(path: impl AsRef<Path>) -> Result<Config, Error> {
        Config::builder()
            .with_file_config(FileConfig::from_yaml_file(path)?)
            .build()
    }

    /// Reads YAML configuration text; `origin` names it in error messages (a file name, `"inline"`).
    ///
    /// ```
    /// use traced::config::{Config, SamplerConfig};
    ///
    /// let config = Config::from_yaml_str(
    ///     "service: { name: checkout }\nsampler: { kind: traceidratio, ratio: 0.5 }",
    ///     "inline",
    /// )?;
    /// assert_eq!(config.sampler, SamplerConfig::TraceIdRatio(0.5));
    /// # Ok::<(), traced::Error>(())
    /// ```
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Config, Error> {
        Config::builder()
            .with_file_config(FileConfig::from_yaml_str(text, origin)?)
            .build()
    }
}

/// [`Config::from_yaml_str`] with `lookup` answering for the environment.
#[cfg(test)]
pub(crate) fn from_yaml_with(
    text: &str,
    origin: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, Error> {
    Config::builder()
        .with_file_config(FileConfig::from_yaml_str(text, origin)?)
        .build_with(lookup)
}

/// How errors name a configuration that was not told where it comes from.
const UNNAMED: &str = "the tracing configuration";

impl FileConfig {
    /// Reads YAML text; `origin` names it in error messages (a file name, `"inline"`).
    ///
    /// # Errors
    ///
    /// [`Error::File`] for a YAML syntax error, with its line and column.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<FileConfig, Error> {
        Ok(FileConfig {
            root: yaml::parse(text, origin)?,
            origin: Some(origin.to_owned()),
            section: None,
        })
    }

    /// Reads a YAML file whose top level is the schema (`examples/traced.yaml`).
    ///
    /// # Errors
    ///
    /// [`Error::File`] when the file cannot be read or is not YAML, with the line and column.
    pub fn from_yaml_file(path: impl AsRef<Path>) -> Result<FileConfig, Error> {
        let path = path.as_ref();
        FileConfig::from_yaml_str(&yaml::read_file(path)?, &path.display().to_string())
    }

    /// Reads the top-level key `section` of YAML text (`tracing:` in the application's `config.yaml`) and ignores
    /// the other keys. An absent section configures nothing.
    ///
    /// ```
    /// use traced::config::{Config, FileConfig};
    ///
    /// let text = "listen: 0.0.0.0:8080\ndatabase: { url: postgres://db }\ntracing:\n  service: { name: checkout }\n";
    /// let file = FileConfig::from_yaml_section_str(text, "config.yaml", "tracing")?;
    /// let config = Config::builder().without_env().with_file_config(file).build()?;
    /// assert_eq!(config.service_name.as_deref(), Some("checkout"));
    /// # Ok::<(), traced::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::File`] for a YAML syntax error anywhere in the text.
    pub fn from_yaml_section_str(
        text: &str,
        origin: &str,
        section: &str,
    ) -> Result<FileConfig, Error> {
        Ok(FileConfig {
            root: yaml::section(text, origin, section)?,
            origin: Some(origin.to_owned()),
            section: Some(section.to_owned()),
        })
    }

    /// [`FileConfig::from_yaml_section_str`] on a file.
    ///
    /// # Errors
    ///
    /// [`Error::File`] when the file cannot be read or is not YAML.
    pub fn from_yaml_section(path: impl AsRef<Path>, section: &str) -> Result<FileConfig, Error> {
        let path = path.as_ref();
        let text = yaml::read_file(path)?;
        FileConfig::from_yaml_section_str(&text, &path.display().to_string(), section)
    }

    /// Names where this configuration was written, for error messages: the `file`, and the key path of the
    /// `section` in it (`tracing.sampler.kind in config.yaml`). For a value deserialized as part of the
    /// application's own configuration, which serde cannot locate.
    pub fn in_file(mut self, file: impl Into<String>, section: impl Into<String>) -> FileConfig {
        self.origin = Some(file.into());
        self.section = Some(section.into()).filter(|s: &String| !s.is_empty());
        self
    }

    /// Checks the keys into a layer, `lookup` answering `${VAR}`.
    pub(crate) fn read(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        problems: &mut Problems,
    ) -> Layer {
        let mut walker = Walker {
            file: self.origin.as_deref().unwrap_or(UNNAMED),
            lookup,
            problems,
            owner: Owner::All,
            base_endpoint: None,
        };
        walker.root(self.section.as_deref().unwrap_or_default(), &self.root)
    }
}

impl<'de> Deserialize<'de> for FileConfig {
    /// Reads any value: the keys are checked later, all at once, by the builder. Only nesting deeper than any
    /// configuration needs (64 levels) is refused here.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(FileConfig {
            root: NodeSeed { depth: 0 }.deserialize(deserializer)?,
            origin: None,
            section: None,
        })
    }
}

const ROOT: &[&str] = &[
    "disabled",
    "shutdown_timeout_ms",
    "service",
    "resource",
    "exporter",
    "sampler",
    "propagators",
    "propagation",
    "batch",
    "limits",
    "redaction",
    "log",
    "logs",
    "metrics",
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
const SAMPLER: &[&str] = &["kind", "ratio", "tail"];
const TAIL: &[&str] = &["errors", "slow", "ratio", "max_spans"];
const BATCH: &[&str] = &[
    "schedule_delay_ms",
    "export_timeout_ms",
    "max_queue_size",
    "max_export_batch_size",
    "max_export_bytes",
];
const LIMITS: &[&str] = &[
    "attribute_value_length",
    "attribute_count",
    "span_attribute_count",
    "span_event_count",
    "span_link_count",
];
const PROPAGATION: &[&str] = &["baggage_attributes"];
const LOG: &[&str] = &["filter", "format"];
const METRICS: &[&str] = &[
    "exporters",
    "export_interval_ms",
    "export_timeout_ms",
    "temporality",
    "functions",
    "otlp",
    "prometheus",
];
const PROMETHEUS: &[&str] = &["host", "port"];
const LOGS: &[&str] = &["exporters", "span_attributes", "otlp", "batch", "limits"];
/// The OTLP keys of a signal's own section (`logs.otlp`, `metrics.otlp`).
const SIGNAL_OTLP: &[&str] = &[
    "endpoint",
    "protocol",
    "headers",
    "timeout_ms",
    "compression",
];
const LOGS_BATCH: &[&str] = &[
    "schedule_delay_ms",
    "export_timeout_ms",
    "max_queue_size",
    "max_export_batch_size",
];
const LOGS_LIMITS: &[&str] = &["attribute_count", "attribute_value_length"];
const REDACTION: &[&str] = &["enabled", "keys"];

/// One entry of a mapping: its key as written, its full dotted path (for messages), its value.
struct Entry<'v> {
    key: String,
    path: String,
    value: &'v Node,
}

struct Walker<'a> {
    file: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: &'a mut Problems,
    /// The exporters whose options are being read: their mistakes matter only if one of them is used.
    owner: Owner,
    /// `exporter.otlp.endpoint`, for the signals after traces.
    base_endpoint: Option<String>,
}

impl Walker<'_> {
    fn root(&mut self, path: &str, root: &Node) -> Layer {
        let mut layer = Layer::default();
        for Entry { key, path, value } in self.mapping(path, root, Some(ROOT)) {
            match key.as_str() {
                "disabled" => layer.disabled = self.parsed(&path, value, parse::boolean),
                "shutdown_timeout_ms" => layer.shutdown_timeout = self.millis(&path, value, 0),
                "service" => self.service(&path, value, &mut layer),
                "resource" => layer.resource_attributes = self.string_map(&path, value),
                "exporter" => self.exporter(&path, value, &mut layer),
                "sampler" => layer.sampler = self.sampler(&path, value, &mut layer.tail_sampling),
                "propagators" => layer.propagators = self.names(&path, value, parse::propagators),
                "propagation" => {
                    for Entry { path, value, .. } in self.mapping(&path, value, Some(PROPAGATION)) {
                        layer.baggage_attributes =
                            self.names(&path, value, parse::baggage_attributes);
                    }
                }
                "batch" => self.batch(&path, value, &mut layer),
                "limits" => self.limits(&path, value, &mut layer),
                "redaction" => self.redaction(&path, value, &mut layer),
                "log" => self.log(&path, value, &mut layer),
                "logs" => self.logs(&path, value, &mut layer),
                _ => self.metrics(&path, value, &mut layer),
            }
        }
        let generic = layer.clone();
        layer.logs.fall_back_to(&generic);
        if layer.logs.endpoint.is_none() {
            // `exporter.otlp.endpoint` beside a `traces_endpoint`, which hid it from `layer.endpoint`.
            layer.logs.endpoint = self.base_endpoint.take().map(SignalEndpoint::Base);
        }
        layer
    }

    fn logs(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        for Entry { key, path, value } in self.mapping(path, value, Some(LOGS)) {
            match key.as_str() {
                "exporters" => {
                    layer.logs.exporters = self.names(&path, value, parse::logs_exporters)
                }
                "span_attributes" => {
                    layer.logs.span_attributes = self.names(&path, value, parse::span_attributes)
                }
                "otlp" => {
                    self.owner = Owner::Logs(LogsExporterKind::Otlp);
                    self.logs_otlp(&path, value, layer);
                    self.owner = Owner::All;
                }
                "batch" => self.logs_batch(&path, value, layer),
                _ => {
                    for Entry { key, path, value } in self.mapping(&path, value, Some(LOGS_LIMITS))
                    {
                        let limit = self.count(&path, value, 0);
                        if key == "attribute_count" {
                            layer.logs.attribute_count = limit;
                        } else {
                            layer.logs.attribute_value_length = limit;
                        }
                    }
                }
            }
        }
    }

    fn metrics(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        for Entry { key, path, value } in self.mapping(path, value, Some(METRICS)) {
            let metrics = &mut layer.metrics;
            match key.as_str() {
                "exporters" => {
                    metrics.exporters = self.names(&path, value, parse::metrics_exporters)
                }
                "export_interval_ms" => metrics.export_interval = self.millis(&path, value, 1),
                "export_timeout_ms" => metrics.export_timeout = self.millis(&path, value, 1),
                "temporality" => {
                    metrics.temporality = self.parsed(&path, value, parse::temporality)
                }
                "functions" => metrics.functions = self.parsed(&path, value, parse::boolean),
                "otlp" => {
                    self.owner = Owner::Metrics(MetricsExporterKind::Otlp);
                    self.metrics_otlp(&path, value, layer);
                    self.owner = Owner::All;
                }
                _ => {
                    for Entry { key, path, value } in self.mapping(&path, value, Some(PROMETHEUS)) {
                        if key == "host" {
                            layer.metrics.prometheus_host = self.parsed(&path, value, parse::host);
                        } else {
                            layer.metrics.prometheus_port = self.parsed(&path, value, parse::port);
                        }
                    }
                }
            }
        }
    }

    fn metrics_otlp(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        for Entry { key, path, value } in self.mapping(path, value, Some(SIGNAL_OTLP)) {
            let otlp = &mut layer.metrics.otlp;
            match key.as_str() {
                // The full metrics URL, used as is.
                "endpoint" => otlp.endpoint = self.url(&path, value).map(Endpoint::Traces),
                "protocol" => otlp.protocol = self.parsed(&path, value, parse::protocol),
                "headers" => otlp.headers = self.headers(&path, value),
                "timeout_ms" => otlp.timeout = self.millis(&path, value, 1),
                _ => otlp.compression = self.parsed(&path, value, parse::compression),
            }
        }
    }

    fn logs_otlp(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        for Entry { key, path, value } in self.mapping(path, value, Some(SIGNAL_OTLP)) {
            let logs = &mut layer.logs;
            match key.as_str() {
                "endpoint" => logs.endpoint = self.url(&path, value).map(SignalEndpoint::Full),
                "protocol" => logs.protocol = self.parsed(&path, value, parse::protocol),
                "headers" => logs.headers = self.headers(&path, value),
                "timeout_ms" => logs.timeout = self.millis(&path, value, 1),
                _ => logs.compression = self.parsed(&path, value, parse::compression),
            }
        }
    }

    fn logs_batch(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        for Entry { key, path, value } in self.mapping(path, value, Some(LOGS_BATCH)) {
            let logs = &mut layer.logs;
            match key.as_str() {
                "schedule_delay_ms" => logs.schedule_delay = self.millis(&path, value, 0),
                "export_timeout_ms" => logs.export_timeout = self.millis(&path, value, 1),
                "max_queue_size" => logs.max_queue_size = self.count(&path, value, 1),
                _ => logs.max_export_batch_size = self.count(&path, value, 1),
            }
        }
    }

    fn service(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        for Entry { key, path, value } in self.mapping(path, value, Some(SERVICE)) {
            let text = self.scalar(&path, value);
            match key.as_str() {
                "name" => layer.service_name = text,
                "version" => layer.service_version = text,
                _ => layer.deployment_environment = text,
            }
        }
    }

    fn exporter(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        let entries = self.mapping(path, value, Some(EXPORTER));
        let kinds: Vec<&Entry<'_>> = entries
            .iter()
            .filter(|entry| entry.key.starts_with("kind"))
            .collect();
        if let [_, second] = kinds[..] {
            self.invalid(
                &second.path,
                second.value.at,
                "kind and kinds",
                &format!("set one of {path}.kind and {path}.kinds"),
            );
        }
        for Entry { key, path, value } in entries {
            match key.as_str() {
                "kind" | "kinds" => layer.exporters = self.names(&path, value, parse::exporters),
                "otlp" => {
                    // Shared with the logs, which fall back to these keys.
                    self.owner = Owner::Otlp;
                    self.otlp(&path, value, layer);
                    self.owner = Owner::All;
                }
                _ => {
                    self.owner = Owner::Spans(ExporterKind::Zipkin);
                    for Entry { path, value, .. } in self.mapping(&path, value, Some(ZIPKIN)) {
                        layer.zipkin_endpoint = self.url(&path, value);
                    }
                    self.owner = Owner::All;
                }
            }
        }
    }

    fn otlp(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        let mut base = None;
        let mut traces = None;
        for Entry { key, path, value } in self.mapping(path, value, Some(OTLP)) {
            match key.as_str() {
                "endpoint" => base = self.url(&path, value),
                "traces_endpoint" => {
                    self.owner = Owner::Spans(ExporterKind::Otlp);
                    traces = self.url(&path, value);
                    self.owner = Owner::Otlp;
                }
                "protocol" => layer.protocol = self.parsed(&path, value, parse::protocol),
                "headers" => layer.headers = self.headers(&path, value),
                "timeout_ms" => layer.timeout = self.millis(&path, value, 1),
                _ => layer.compression = self.parsed(&path, value, parse::compression),
            }
        }
        // The generic options reach the metrics too (the traces URL does not).
        layer.metrics.generic = OtlpLayer {
            endpoint: base.clone().map(Endpoint::Base),
            protocol: layer.protocol,
            headers: layer.headers.clone(),
            timeout: layer.timeout,
            compression: layer.compression,
        };
        // As in the environment, the per-signal URL wins.
        self.base_endpoint.clone_from(&base);
        layer.endpoint = traces.map(Endpoint::Traces).or(base.map(Endpoint::Base));
    }

    /// The head sampler; `sampler.tail` goes to `tail`.
    fn sampler(
        &mut self,
        path: &str,
        value: &Node,
        tail: &mut Option<TailSampling>,
    ) -> Option<SamplerConfig> {
        let mut kind = None;
        let mut ratio = None;
        for Entry { key, path, value } in self.mapping(path, value, Some(SAMPLER)) {
            match key.as_str() {
                "kind" => kind = self.parsed(&path, value, parse::sampler),
                "ratio" => {
                    ratio = self
                        .parsed(&path, value, parse::ratio)
                        .map(|r| (r, describe(value), path, value.at));
                }
                _ => *tail = self.tail(&path, value),
            }
        }
        match (kind, ratio) {
            (kind, None) => kind,
            (Some(kind), Some((ratio, text, path, at))) => {
                parse::with_ratio(kind, ratio).or_else(|| {
                    self.invalid(
                        &path,
                        at,
                        &text,
                        "only the traceidratio samplers take a ratio",
                    );
                    Some(kind)
                })
            }
            (None, Some((_, text, ratio_path, at))) => {
                self.invalid(
                    &ratio_path,
                    at,
                    &text,
                    &format!("set {path}.kind to a traceidratio sampler too"),
                );
                None
            }
        }
    }

    /// `sampler.tail`: on with the defaults of [`TailSampling::new`] for the keys it does not set; `null` is unset.
    fn tail(&mut self, path: &str, value: &Node) -> Option<TailSampling> {
        if matches!(value.value, Value::Null) {
            return None;
        }
        let mut tail = TailSampling::new();
        for Entry { key, path, value } in self.mapping(path, value, Some(TAIL)) {
            match key.as_str() {
                "errors" => {
                    tail.errors = self.parsed(&path, value, parse::boolean).unwrap_or(false)
                }
                "slow" => tail.slow = self.parsed(&path, value, parse::duration),
                "ratio" => tail.ratio = self.parsed(&path, value, parse::ratio).unwrap_or(0.0),
                _ => {
                    tail.max_spans = self
                        .count(&path, value, 1)
                        .unwrap_or(TailSampling::DEFAULT_MAX_SPANS)
                }
            }
        }
        Some(tail)
    }

    fn batch(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        for Entry { key, path, value } in self.mapping(path, value, Some(BATCH)) {
            match key.as_str() {
                "schedule_delay_ms" => layer.schedule_delay = self.millis(&path, value, 0),
                "export_timeout_ms" => layer.export_timeout = self.millis(&path, value, 1),
                "max_queue_size" => layer.max_queue_size = self.count(&path, value, 1),
                "max_export_bytes" => layer.max_export_bytes = self.count(&path, value, 1),
                _ => layer.max_export_batch_size = self.count(&path, value, 1),
            }
        }
    }

    fn limits(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        for Entry { key, path, value } in self.mapping(path, value, Some(LIMITS)) {
            let limit = self.count(&path, value, 0);
            match key.as_str() {
                "attribute_value_length" => layer.attribute_value_length = limit,
                "attribute_count" => layer.attribute_count = limit,
                "span_attribute_count" => layer.span_attribute_count = limit,
                "span_event_count" => layer.span_event_count = limit,
                _ => layer.span_link_count = limit,
            }
        }
    }

    fn redaction(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        for Entry { key, path, value } in self.mapping(path, value, Some(REDACTION)) {
            if key == "enabled" {
                layer.redaction = self.parsed(&path, value, parse::boolean);
            } else {
                layer.redact_keys = self
                    .names(&path, value, |v| Ok::<_, String>(parse::words(v)))
                    .unwrap_or_default();
            }
        }
    }

    fn log(&mut self, path: &str, value: &Node, layer: &mut Layer) {
        for Entry { key, path, value } in self.mapping(path, value, Some(LOG)) {
            if key == "filter" {
                layer.log_filter = self.parsed(&path, value, |v| {
                    parse::log_filter(v).map(|()| v.to_owned())
                });
            } else {
                layer.log_format = self.parsed(&path, value, parse::log_format);
            }
        }
    }

    /// The entries of a mapping. With `allowed`, other keys are reported (with a did-you-mean hint) and skipped.
    /// `null` (an empty section) is an empty mapping.
    fn mapping<'v>(
        &mut self,
        path: &str,
        node: &'v Node,
        allowed: Option<&[&str]>,
    ) -> Vec<Entry<'v>> {
        let map = match &node.value {
            Value::Null => return Vec::new(),
            Value::Mapping(map) => map,
            _ => {
                let path = if path.is_empty() { "(top level)" } else { path };
                self.invalid(
                    path,
                    node.at,
                    &describe(node),
                    "expected a mapping of keys to values",
                );
                return Vec::new();
            }
        };
        let mut entries = Vec::new();
        for (key_node, value) in map {
            let Some(key) = key_node.as_str() else {
                self.invalid(
                    path,
                    key_node.at,
                    &describe(key_node),
                    "keys must be strings",
                );
                continue;
            };
            let full = join(path, key);
            match allowed {
                Some(allowed) if !allowed.contains(&key) => {
                    let hint = closest(key, allowed)
                        .map(|close| format!(", did you mean {:?}?", join(path, close)))
                        .unwrap_or_default();
                    self.problems.push(
                        self.owner,
                        Error::UnknownKey {
                            file: located(self.file, key_node.at),
                            key: full,
                            hint,
                        },
                    );
                }
                _ => entries.push(Entry {
                    key: key.to_owned(),
                    path: full,
                    value,
                }),
            }
        }
        entries
    }

    /// A mapping of free keys to scalar values (resource attributes).
    fn string_map(&mut self, path: &str, node: &Node) -> super::StringMap {
        let mut out = super::StringMap::default();
        for Entry { key, path, value } in self.mapping(path, node, None) {
            if let Some(text) = self.scalar(&path, value) {
                out.insert(key, text);
            }
        }
        out
    }

    /// Headers: a string map whose names and values are valid on the wire, values never echoed in an error.
    fn headers(&mut self, path: &str, node: &Node) -> super::StringMap {
        let mut out = super::StringMap::default();
        for Entry { key, path, value } in self.mapping(path, node, None) {
            let Some(text) = self.secret_scalar(&path, value) else {
                continue;
            };
            match parse::header(&key, &text) {
                Ok(()) => out.insert(key, text),
                Err(reason) => self.invalid(&path, value.at, &parse::hidden_header(&key), &reason),
            }
        }
        out
    }

    /// A scalar as text, expanded; `None` when null or empty after expansion.
    fn scalar(&mut self, path: &str, node: &Node) -> Option<String> {
        self.expanded(path, node, false)
    }

    /// [`Walker::scalar`] for a value that may be a secret: an error shows the text as written, before
    /// expansion, or nothing.
    fn secret_scalar(&mut self, path: &str, node: &Node) -> Option<String> {
        self.expanded(path, node, true)
    }

    fn expanded(&mut self, path: &str, node: &Node, secret: bool) -> Option<String> {
        let text = match &node.value {
            Value::Null => return None,
            Value::Scalar(text) => match expand(text, self.lookup) {
                Ok(expanded) => expanded,
                Err(reason) => {
                    let shown = if secret {
                        crate::redact::REDACTED
                    } else {
                        text
                    };
                    self.invalid(path, node.at, shown, &reason);
                    return None;
                }
            },
            _ => {
                self.invalid(
                    path,
                    node.at,
                    &describe(node),
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
        node: &Node,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.scalar(path, node)?;
        match parse(&text) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.invalid(path, node.at, &text, &reason);
                None
            }
        }
    }

    /// A list of names: a YAML sequence, or one string (possibly a comma list, as in the environment).
    fn names<T>(
        &mut self,
        path: &str,
        node: &Node,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let Value::Sequence(items) = &node.value else {
            return self.parsed(path, node, parse);
        };
        let mut names = Vec::new();
        for (i, item) in items.iter().enumerate() {
            names.extend(self.scalar(&format!("{path}[{i}]"), item));
        }
        let joined = names.join(",");
        match parse(&joined) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.invalid(path, node.at, &format!("[{}]", names.join(", ")), &reason);
                None
            }
        }
    }

    /// A URL; an error shows it without credentials.
    fn url(&mut self, path: &str, node: &Node) -> Option<String> {
        let text = self.secret_scalar(path, node)?;
        match parse::url(&text) {
            Ok(()) => Some(text),
            Err(reason) => {
                self.invalid(path, node.at, &crate::redact::url(&text), &reason);
                None
            }
        }
    }

    fn millis(&mut self, path: &str, node: &Node, min: u64) -> Option<Duration> {
        self.parsed(path, node, |v| parse::integer(v, min))
            .map(Duration::from_millis)
    }

    fn count(&mut self, path: &str, node: &Node, min: u64) -> Option<usize> {
        self.parsed(path, node, |v| parse::integer(v, min))
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn invalid(&mut self, path: &str, at: Option<Position>, value: &str, reason: &str) {
        let option = format!("{path} in {}", located(self.file, at));
        self.problems
            .push(self.owner, Error::invalid(option, value, reason));
    }
}

/// `path.key`, or `key` at the top.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A short rendering of a value for an error message.
fn describe(node: &Node) -> String {
    match &node.value {
        Value::Null => "null".to_owned(),
        Value::Scalar(text) => text.clone(),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
    }
}
