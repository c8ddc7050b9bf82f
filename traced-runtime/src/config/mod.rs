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
//! | a section of the application's file | [`ConfigBuilder::with_yaml_section`], or [`FileConfig`] inside the application's own serde struct |
//! | code | [`Config::builder`] then [`ConfigBuilder::build`] (over the environment) |
//!
//! `docs/configuration.md` lists every option with its variable, YAML key, builder method and default; the
//! variable names are constants in [`env`](mod@env).

use std::time::Duration;

mod builder;
pub mod env;
mod expand;
mod file;
mod layer;
pub(crate) mod parse;
mod string_map;
mod tail;
mod tree;
mod warn;
mod yaml;

pub use crate::code_exporters::SpanExporters;
pub use builder::ConfigBuilder;
pub use file::FileConfig;
pub(crate) use parse::is_token;
use string_map::StringMap;
pub use tail::TailSampling;

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
    /// Exporters given in code ([`ConfigBuilder::with_span_exporter`]), run beside `exporters` (which are then
    /// empty unless a source named them).
    pub span_exporters: SpanExporters,
    /// OTLP exporter settings.
    pub otlp: OtlpConfig,
    /// `OTEL_EXPORTER_ZIPKIN_ENDPOINT`.
    pub zipkin_endpoint: String,
    /// `OTEL_PROPAGATORS`, in order. Empty means none.
    pub propagators: Vec<PropagatorKind>,
    /// `TRACED_BAGGAGE_ATTRIBUTES`: the baggage entries copied onto every span as attributes.
    pub baggage_attributes: BaggageAttributes,
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
    pub sampler: SamplerConfig,
    /// `TRACED_TAIL_SAMPLING`: which local traces are exported once complete; `None` (the default) exports what
    /// the head sampler samples, as each span ends.
    pub tail_sampling: Option<TailSampling>,
    /// `OTEL_BSP_*`, `TRACED_MAX_EXPORT_BYTES`.
    pub batch: BatchConfig,
    /// `TRACED_SHUTDOWN_TIMEOUT`, default 5000 ms: how long dropping the [`Guard`](crate::Guard) (or
    /// [`Guard::shutdown`](crate::Guard::shutdown)) waits for the last spans; never longer than the export
    /// timeout.
    pub shutdown_timeout: Duration,
    /// `OTEL_*_LIMIT`.
    pub limits: LimitsConfig,
    /// `TRACED_REDACTION`, `TRACED_REDACT_KEYS`: secrets replaced before export.
    pub redaction: RedactionConfig,
    /// `RUST_LOG`: the filter for log lines and spans (default `info`).
    pub log_filter: String,
    /// `TRACED_LOG_FORMAT`: how log lines are printed on stderr.
    pub log_format: LogFormat,
    /// `OTEL_METRICS_EXPORTER`, `OTEL_METRIC_EXPORT_*`, `TRACED_FUNCTION_METRICS`: the metrics the same
    /// instrumentation records, and where they go.
    pub metrics: MetricsConfig,
    /// `OTEL_LOGS_EXPORTER`, `OTEL_BLRP_*`, ...: every `tracing` event exported as a log record.
    pub logs: LogsConfig,
}

/// The export of `tracing` events as OpenTelemetry log records (the stderr lines are [`Config::log_format`]'s).
#[derive(Clone, Debug, PartialEq)]
pub struct LogsConfig {
    /// `OTEL_LOGS_EXPORTER`: where log records go. Empty means none.
    pub exporters: Vec<LogsExporterKind>,
    /// `OTEL_EXPORTER_OTLP_LOGS_*` over `OTEL_EXPORTER_OTLP_*`; the endpoint is the full logs URL (`/v1/logs`
    /// appended to a generic HTTP endpoint).
    pub otlp: OtlpConfig,
    /// `OTEL_BLRP_*`: the batch log record processor (schedule delay 1000 ms by default).
    pub batch: BatchConfig,
    /// `OTEL_LOGRECORD_ATTRIBUTE_*_LIMIT`.
    pub limits: LogLimitsConfig,
    /// `TRACED_LOG_SPAN_ATTRIBUTES`: attributes of the enclosing spans copied onto each record.
    pub span_attributes: LogSpanAttributes,
}

/// A logs exporter named by `OTEL_LOGS_EXPORTER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogsExporterKind {
    /// `otlp`: OTLP over the protocol in [`LogsConfig::otlp`].
    Otlp,
    /// `console`: each record under its span in the console waterfall (on a line of its own outside a trace).
    Console,
}

impl LogsExporterKind {
    /// The name `OTEL_LOGS_EXPORTER` gives it.
    pub fn name(self) -> &'static str {
        match self {
            LogsExporterKind::Otlp => "otlp",
            LogsExporterKind::Console => "console",
        }
    }
}

/// Log record limits (`OTEL_LOGRECORD_ATTRIBUTE_*_LIMIT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLimitsConfig {
    /// `OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT` (falls back to `OTEL_ATTRIBUTE_COUNT_LIMIT`), default 128.
    pub attribute_count: usize,
    /// `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT` (falls back to `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`), default
    /// unlimited.
    pub attribute_value_length: Option<usize>,
}

/// Which attributes of the enclosing spans each log record gets (`TRACED_LOG_SPAN_ATTRIBUTES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogSpanAttributes {
    /// These keys, from the innermost span that has each (none by default).
    Named(Vec<String>),
    /// `*`: every attribute of every enclosing span, the innermost value of each key.
    All,
}

impl Default for LogSpanAttributes {
    fn default() -> Self {
        LogSpanAttributes::Named(Vec::new())
    }
}

impl LogSpanAttributes {
    /// True when no attribute is copied.
    pub fn is_empty(&self) -> bool {
        matches!(self, LogSpanAttributes::Named(keys) if keys.is_empty())
    }
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

impl ExporterKind {
    /// Every exporter, in the order of the documentation.
    pub const ALL: [ExporterKind; 3] = [
        ExporterKind::Otlp,
        ExporterKind::Console,
        ExporterKind::Zipkin,
    ];

    /// The name `OTEL_TRACES_EXPORTER` gives it.
    pub fn name(self) -> &'static str {
        match self {
            ExporterKind::Otlp => "otlp",
            ExporterKind::Console => "console",
            ExporterKind::Zipkin => "zipkin",
        }
    }
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
    /// `zstd`: a name of the specification, refused by every source: the exporters speak gzip only.
    Zstd,
}

/// OTLP exporter settings. Its `Debug` shows the header names, never their values (credentials, most often).
#[derive(Clone, PartialEq)]
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

impl std::fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), crate::redact::REDACTED))
            .collect();
        f.debug_struct("OtlpConfig")
            .field("endpoint", &crate::redact::url(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .finish()
    }
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

/// Which baggage entries become attributes of every span started where they are in the context
/// (`TRACED_BAGGAGE_ATTRIBUTES`), so that `tenant.id` or `user.id` set once at the edge is on every span of the
/// request, the HTTP layers' included. Redaction applies to them like to any attribute.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BaggageAttributes {
    /// None (the default).
    #[default]
    None,
    /// Every entry (`*`).
    All,
    /// The entries with these keys, in this order.
    Keys(Vec<String>),
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
    /// `TRACED_MAX_EXPORT_BYTES`, default 4 MiB: the largest OTLP export request, before compression. Larger
    /// batches are split; a span larger than this on its own is dropped and counted as failed.
    pub max_export_bytes: usize,
}

/// Attribute and span limits (`OTEL_*_LIMIT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` (+ `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`), default unlimited: every
    /// string that leaves the process is cut to it (attribute values, span and event names, the status
    /// description, resource values).
    pub attribute_value_length: Option<usize>,
    /// `OTEL_ATTRIBUTE_COUNT_LIMIT`, default 128: the resource attributes kept (the first ones), and the default
    /// of the per-signal count limits. (The specification exempts the resource; a resource of thousands of
    /// attributes makes every export request too large for a collector, so it is bounded too.)
    pub attribute_count: usize,
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

/// A metrics exporter named by `OTEL_METRICS_EXPORTER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsExporterKind {
    /// `otlp`: pushed every export interval over [`MetricsConfig::otlp`].
    Otlp,
    /// `prometheus`: pulled from `GET /metrics` on [`MetricsConfig::prometheus_host`] and
    /// [`MetricsConfig::prometheus_port`] (Prometheus text 0.0.4, or OpenMetrics with exemplars by `Accept`).
    Prometheus,
    /// `console`: printed on stdout every export interval.
    Console,
}

impl MetricsExporterKind {
    /// The name `OTEL_METRICS_EXPORTER` gives it.
    pub fn name(self) -> &'static str {
        match self {
            MetricsExporterKind::Otlp => "otlp",
            MetricsExporterKind::Prometheus => "prometheus",
            MetricsExporterKind::Console => "console",
        }
    }
}

/// How sums and histograms are reported (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Temporality {
    /// `cumulative` (the default): every export carries the totals since the start.
    #[default]
    Cumulative,
    /// `delta`: every export carries what changed since the previous one (up-down counters stay cumulative).
    Delta,
    /// `lowmemory`: delta for counters and histograms, cumulative for up-down counters.
    LowMemory,
}

/// Metrics settings: the instruments `#[traced]` and the HTTP layers record, and the exporters they go to.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsConfig {
    /// `OTEL_METRICS_EXPORTER`, default `otlp`. Empty means none: nothing is recorded.
    pub exporters: Vec<MetricsExporterKind>,
    /// `OTEL_METRIC_EXPORT_INTERVAL`, default 60000 ms: time between two pushes.
    pub export_interval: Duration,
    /// `OTEL_METRIC_EXPORT_TIMEOUT`, default 30000 ms: what one push may take, retries included.
    pub export_timeout: Duration,
    /// The OTLP metrics exporter: `OTEL_EXPORTER_OTLP_METRICS_*` over the generic `OTEL_EXPORTER_OTLP_*`
    /// (`/v1/metrics` appended to a base HTTP endpoint).
    pub otlp: OtlpConfig,
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, default cumulative (the Prometheus endpoint is
    /// always cumulative).
    pub temporality: Temporality,
    /// `OTEL_EXPORTER_PROMETHEUS_HOST`, default `localhost`.
    pub prometheus_host: String,
    /// `OTEL_EXPORTER_PROMETHEUS_PORT`, default 9464.
    pub prometheus_port: u16,
    /// `TRACED_FUNCTION_METRICS`, default true: `function.calls`, `function.calls.duration` and
    /// `function.calls.concurrent` for every `#[traced]` fn and `span!` block.
    pub functions: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            exporters: vec![MetricsExporterKind::Otlp],
            export_interval: Duration::from_millis(60_000),
            export_timeout: Duration::from_millis(30_000),
            otlp: OtlpConfig {
                endpoint: layer::default_metrics_endpoint(Protocol::HttpProtobuf).to_owned(),
                ..OtlpConfig::default()
            },
            temporality: Temporality::Cumulative,
            prometheus_host: "localhost".to_owned(),
            prometheus_port: 9464,
            functions: true,
        }
    }
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
            baggage_attributes: BaggageAttributes::None,
            sampler: SamplerConfig::ParentBasedAlwaysOn,
            tail_sampling: None,
            batch: BatchConfig::default(),
            shutdown_timeout: Duration::from_millis(5_000),
            limits: LimitsConfig::default(),
            redaction: RedactionConfig::default(),
            log_filter: "info".to_owned(),
            log_format: LogFormat::default(),
            metrics: MetricsConfig::default(),
            logs: LogsConfig::default(),
        }
    }
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            exporters: vec![LogsExporterKind::Otlp],
            otlp: OtlpConfig {
                endpoint: "http://localhost:4318/v1/logs".to_owned(),
                ..OtlpConfig::default()
            },
            batch: BatchConfig {
                schedule_delay: Duration::from_millis(1_000),
                ..BatchConfig::default()
            },
            limits: LogLimitsConfig {
                attribute_count: 128,
                attribute_value_length: None,
            },
            span_attributes: LogSpanAttributes::default(),
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
            // What gRPC servers accept by default (`max_recv_msg_size` of grpc-go, tonic's decoding limit).
            max_export_bytes: 4 * 1024 * 1024,
        }
    }
}

impl LimitsConfig {
    /// `text` cut to [`LimitsConfig::attribute_value_length`] characters.
    pub(crate) fn cut<'a>(&self, text: &'a str) -> &'a str {
        match self
            .attribute_value_length
            .and_then(|limit| char_boundary(text, limit))
        {
            Some(end) => &text[..end],
            None => text,
        }
    }
}

/// Where the first `limit` characters of `text` end, if it has more.
pub(crate) fn char_boundary(text: &str, limit: usize) -> Option<usize> {
    // A text of at most `limit` bytes has at most `limit` characters: no need to count them.
    if text.len() <= limit {
        return None;
    }
    text.char_indices().nth(limit).map(|(index, _)| index)
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            attribute_value_length: None,
            attribute_count: 128,
            span_attribute_count: 128,
            span_event_count: 128,
            span_link_count: 128,
        }
    }
}
