//! Configuration: what the environment, a YAML file or the builder say, merged into one [`Config`].
//!
//! Precedence (the OpenTelemetry SDK rule): a value set in code wins over the environment, which wins over the
//! spec default. A YAML file is code-level configuration: its values win over the environment, and `${VAR}`
//! expansion inside it lets a file defer to the environment explicitly.
//!
//! | source | entry point |
//! |---|---|
//! | environment | [`Config::from_env`], [`Config::from_lookup`] |
//! | YAML file | [`Config::from_yaml_file`], [`Config::from_yaml_str`] (over the environment) |
//! | code | [`Config::builder`] then [`ConfigBuilder::build`] (over the environment) |
//!
//! `docs/configuration.md` lists every option with its variable, YAML key, builder method and default; the
//! variable names are constants in [`env`](mod@env).

use std::time::Duration;

mod builder;
pub mod env;
mod expand;
mod layer;
mod parse;
mod yaml;

pub use crate::exporter::SpanExporters;
pub use builder::ConfigBuilder;

/// The complete, validated configuration of the tracing pipeline.
///
/// Build one with [`Config::from_env`], [`Config::builder`] or [`Config::from_yaml_file`]; pass it to
/// [`Config::init`]. Every field has the OpenTelemetry specification's default.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `OTEL_SDK_DISABLED`: when true, nothing is exported and no global state is installed.
    pub disabled: bool,
    /// `OTEL_SERVICE_NAME`; `None` means `unknown_service:<executable name>`.
    pub service_name: Option<String>,
    /// `service.version` resource attribute.
    pub service_version: Option<String>,
    /// `deployment.environment.name` resource attribute.
    pub deployment_environment: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`, decoded, in order. Never holds `service.name`, `service.version` or
    /// `deployment.environment.name`: those are moved into their fields above.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_TRACES_EXPORTER`: where finished spans go. Empty means none (unless `span_exporters` has some).
    pub exporters: Vec<ExporterKind>,
    /// Exporters given in code ([`ConfigBuilder::with_span_exporter`]), run beside `exporters`.
    pub span_exporters: SpanExporters,
    /// OTLP exporter settings.
    pub otlp: OtlpConfig,
    /// `OTEL_EXPORTER_ZIPKIN_ENDPOINT`.
    pub zipkin_endpoint: String,
    /// `OTEL_PROPAGATORS`, in order. Empty means none.
    pub propagators: Vec<PropagatorKind>,
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
    pub sampler: SamplerConfig,
    /// `OTEL_BSP_*`.
    pub batch: BatchConfig,
    /// `OTEL_*_LIMIT`.
    pub limits: LimitsConfig,
    /// `TRACED_REDACTION`, `TRACED_REDACT_KEYS`: secrets replaced before export.
    pub redaction: RedactionConfig,
    /// `RUST_LOG`: the filter for log lines and spans (default `info`).
    pub log_filter: String,
    /// `TRACED_LOG_FORMAT`: how log lines are printed on stderr.
    pub log_format: LogFormat,
}

/// A traces exporter named by `OTEL_TRACES_EXPORTER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExporterKind {
    /// `otlp`: OTLP over the protocol in [`OtlpConfig::protocol`].
    Otlp,
    /// `console`: a waterfall of each finished trace on stdout.
    Console,
    /// `zipkin`: Zipkin v2 JSON (feature `zipkin`).
    Zipkin,
}

/// OTLP transport protocol (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// `grpc`
    Grpc,
    /// `http/protobuf` (the spec default)
    #[default]
    HttpProtobuf,
    /// `http/json`
    HttpJson,
}

/// Payload compression (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// `gzip`
    Gzip,
    /// `zstd`
    Zstd,
}

/// OTLP exporter settings.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpConfig {
    /// The full traces URL, after the spec rules (`/v1/traces` appended to a generic HTTP endpoint, a per-signal
    /// endpoint used as is, the protocol's default port otherwise).
    pub endpoint: String,
    /// Transport.
    pub protocol: Protocol,
    /// `OTEL_EXPORTER_OTLP_HEADERS` (+ `_TRACES_`), decoded.
    pub headers: Vec<(String, String)>,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT` (+ `_TRACES_`), default 10 s.
    pub timeout: Duration,
    /// `OTEL_EXPORTER_OTLP_COMPRESSION` (+ `_TRACES_`), default none.
    pub compression: Option<Compression>,
}

/// A propagator named by `OTEL_PROPAGATORS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropagatorKind {
    /// W3C Trace Context.
    TraceContext,
    /// W3C Baggage.
    Baggage,
    /// B3 single header.
    B3,
    /// B3 multi header.
    B3Multi,
    /// Jaeger `uber-trace-id`.
    Jaeger,
}

/// A sampler (`OTEL_TRACES_SAMPLER` / `_ARG`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SamplerConfig {
    /// `always_on`
    AlwaysOn,
    /// `always_off`
    AlwaysOff,
    /// `traceidratio` with a ratio in `0.0..=1.0`
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default)
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`
    ParentBasedTraceIdRatio(f64),
}

/// Batch span processor settings (`OTEL_BSP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// `OTEL_BSP_SCHEDULE_DELAY`, default 5000 ms.
    pub schedule_delay: Duration,
    /// `OTEL_BSP_EXPORT_TIMEOUT`, default 30000 ms: enforced on every export call.
    pub export_timeout: Duration,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`, default 2048.
    pub max_queue_size: usize,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512 (at most the queue size).
    pub max_export_batch_size: usize,
}

/// Attribute and span limits (`OTEL_*_LIMIT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` (+ `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`), default unlimited.
    pub attribute_value_length: Option<usize>,
    /// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` (falls back to `OTEL_ATTRIBUTE_COUNT_LIMIT`), default 128.
    pub span_attribute_count: usize,
    /// `OTEL_SPAN_EVENT_COUNT_LIMIT`, default 128.
    pub span_event_count: usize,
    /// `OTEL_SPAN_LINK_COUNT_LIMIT`, default 128.
    pub span_link_count: usize,
}

/// Redaction of attribute values before export; see [`redact`](crate::redact).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedactionConfig {
    /// `TRACED_REDACTION` (`on`/`off`), default on.
    pub enabled: bool,
    /// `TRACED_REDACT_KEYS`: words redacted in addition to [`redact::DEFAULT_KEYS`](crate::redact::DEFAULT_KEYS).
    pub keys: Vec<String>,
}

impl Default for RedactionConfig {
    fn default() -> Self {
        RedactionConfig {
            enabled: true,
            keys: Vec::new(),
        }
    }
}

/// How log lines are printed (`TRACED_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Multi-line, human friendly.
    Pretty,
    /// One line per event (the default).
    #[default]
    Compact,
    /// One JSON object per line, with `trace_id` and `span_id`.
    Json,
    /// No log output.
    None,
}

impl Config {
    /// The `service.name` to report: [`Config::service_name`], or the spec's `unknown_service:<executable name>`
    /// (`unknown_service` alone when the executable name is unknown).
    pub fn service_name_or_default(&self) -> String {
        if let Some(name) = &self.service_name {
            return name.clone();
        }
        let executable = std::env::current_exe().ok().and_then(|path| {
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        });
        match executable {
            Some(executable) => format!("unknown_service:{executable}"),
            None => "unknown_service".to_owned(),
        }
    }
}

impl Default for Config {
    /// The specification's defaults, with nothing read from the environment.
    fn default() -> Self {
        Config {
            disabled: false,
            service_name: None,
            service_version: None,
            deployment_environment: None,
            resource_attributes: Vec::new(),
            exporters: vec![ExporterKind::Otlp],
            span_exporters: SpanExporters::default(),
            otlp: OtlpConfig::default(),
            zipkin_endpoint: "http://localhost:9411/api/v2/spans".to_owned(),
            propagators: vec![PropagatorKind::TraceContext, PropagatorKind::Baggage],
            sampler: SamplerConfig::ParentBasedAlwaysOn,
            batch: BatchConfig::default(),
            limits: LimitsConfig::default(),
            redaction: RedactionConfig::default(),
            log_filter: "info".to_owned(),
            log_format: LogFormat::default(),
        }
    }
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            endpoint: "http://localhost:4318/v1/traces".to_owned(),
            protocol: Protocol::HttpProtobuf,
            headers: Vec::new(),
            timeout: Duration::from_millis(10_000),
            compression: None,
        }
    }
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            schedule_delay: Duration::from_millis(5_000),
            export_timeout: Duration::from_millis(30_000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            attribute_value_length: None,
            span_attribute_count: 128,
            span_event_count: 128,
            span_link_count: 128,
        }
    }
}
