//! The environment variables `traced` reads, and the rules it reads them by.
//!
//! Strictness: an unparseable number is warned about once on stderr and replaced by the default (the spec's rule;
//! no subscriber exists yet to log through). An unknown name (exporter, protocol, sampler, propagator,
//! compression, log format), a malformed URL, key-value list or log filter is an
//! [`Error::InvalidValue`] naming the variable: those are typos that would otherwise
//! silently send telemetry nowhere. An empty variable counts as unset. When tracing ends up disabled, errors are
//! only warned about: the kill switch must work even around a mistake.

use std::time::Duration;

use super::layer::{
    Endpoint, Layer, LogsLayer, MetricsLayer, OtlpLayer, Owner, Problems, SignalEndpoint,
};
use super::{
    parse, warn, Config, ExporterKind, LogsExporterKind, MetricsExporterKind, SamplerConfig,
    StringMap,
};
use crate::{redact, Error};

/// `true` (case-insensitive) turns the whole pipeline off.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// The `service.name` resource attribute.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `key=value,key2=value2`, percent-encoded.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `otlp`, `console`, `zipkin`, `none`, or a comma list.
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// `tracecontext`, `baggage`, `b3`, `b3multi`, `jaeger`, `none`, or a comma list.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";
/// The sampler name.
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// The ratio of the `traceidratio` samplers.
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// Milliseconds between two batch exports.
pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// Milliseconds one batch export may take.
pub const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// Spans buffered before new ones are dropped.
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// Spans per export call.
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
/// Base URL of the OTLP receiver (`/v1/traces` appended for HTTP).
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Full traces URL of the OTLP receiver, used as is.
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `grpc`, `http/protobuf` or `http/json`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// Traces-only override of [`OTEL_EXPORTER_OTLP_PROTOCOL`].
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// `key=value,...` headers sent with every export, percent-encoded.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Traces-only headers, merged over [`OTEL_EXPORTER_OTLP_HEADERS`].
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// Milliseconds one OTLP request may take.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// Traces-only override of [`OTEL_EXPORTER_OTLP_TIMEOUT`].
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// `gzip`, `zstd` or `none`.
pub const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// Traces-only override of [`OTEL_EXPORTER_OTLP_COMPRESSION`].
pub const OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
/// Maximum length of an attribute value, for all signals.
pub const OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Span-only override of [`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`].
pub const OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Maximum number of attributes, for all signals.
pub const OTEL_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_ATTRIBUTE_COUNT_LIMIT";
/// Span-only override of [`OTEL_ATTRIBUTE_COUNT_LIMIT`].
pub const OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
/// Maximum number of events per span.
pub const OTEL_SPAN_EVENT_COUNT_LIMIT: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
/// Maximum number of links per span.
pub const OTEL_SPAN_LINK_COUNT_LIMIT: &str = "OTEL_SPAN_LINK_COUNT_LIMIT";
/// Zipkin v2 spans URL.
pub const OTEL_EXPORTER_ZIPKIN_ENDPOINT: &str = "OTEL_EXPORTER_ZIPKIN_ENDPOINT";
/// The log and span filter, `tracing_subscriber::EnvFilter` syntax.
pub const RUST_LOG: &str = "RUST_LOG";
/// `pretty`, `compact`, `json` or `none`.
pub const TRACED_LOG_FORMAT: &str = "TRACED_LOG_FORMAT";
/// `off` disables the redaction of secrets before export (`on`, the default, keeps it).
pub const TRACED_REDACTION: &str = "TRACED_REDACTION";
/// Comma-separated words whose attributes are redacted, in addition to the defaults.
pub const TRACED_REDACT_KEYS: &str = "TRACED_REDACT_KEYS";
/// `otlp`, `prometheus`, `console`, `none`, or a comma list.
pub const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// Milliseconds between two metric pushes.
pub const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// Milliseconds one metric push may take.
pub const OTEL_METRIC_EXPORT_TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
/// Full metrics URL of the OTLP receiver, used as is.
pub const OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// Metrics-only override of [`OTEL_EXPORTER_OTLP_PROTOCOL`].
pub const OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
/// Metrics-only headers, merged over [`OTEL_EXPORTER_OTLP_HEADERS`].
pub const OTEL_EXPORTER_OTLP_METRICS_HEADERS: &str = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
/// Metrics-only override of [`OTEL_EXPORTER_OTLP_TIMEOUT`].
pub const OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";
/// Metrics-only override of [`OTEL_EXPORTER_OTLP_COMPRESSION`].
pub const OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION";
/// `cumulative`, `delta` or `lowmemory`.
pub const OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
/// The host the Prometheus endpoint (`GET /metrics`) listens on.
pub const OTEL_EXPORTER_PROMETHEUS_HOST: &str = "OTEL_EXPORTER_PROMETHEUS_HOST";
/// The port the Prometheus endpoint listens on.
pub const OTEL_EXPORTER_PROMETHEUS_PORT: &str = "OTEL_EXPORTER_PROMETHEUS_PORT";
/// `false` (or `off`) leaves every `#[traced]` fn out of the function metrics.
pub const TRACED_FUNCTION_METRICS: &str = "TRACED_FUNCTION_METRICS";
/// Tail sampling: `errors`, `slow=<duration>`, `ratio=<0..1>`, `max_spans=<n>`, comma-separated.
pub const TRACED_TAIL_SAMPLING: &str = "TRACED_TAIL_SAMPLING";
/// `otlp`, `console`, `none`, or a comma list: where log records go.
pub const OTEL_LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";
/// Milliseconds between two log record batch exports.
pub const OTEL_BLRP_SCHEDULE_DELAY: &str = "OTEL_BLRP_SCHEDULE_DELAY";
/// Milliseconds one log record batch export may take.
pub const OTEL_BLRP_EXPORT_TIMEOUT: &str = "OTEL_BLRP_EXPORT_TIMEOUT";
/// Log records buffered before new ones are dropped.
pub const OTEL_BLRP_MAX_QUEUE_SIZE: &str = "OTEL_BLRP_MAX_QUEUE_SIZE";
/// Log records per export call.
pub const OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE";
/// Full logs URL of the OTLP receiver, used as is.
pub const OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
/// Logs-only override of [`OTEL_EXPORTER_OTLP_PROTOCOL`].
pub const OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL";
/// Logs-only headers, merged over [`OTEL_EXPORTER_OTLP_HEADERS`].
pub const OTEL_EXPORTER_OTLP_LOGS_HEADERS: &str = "OTEL_EXPORTER_OTLP_LOGS_HEADERS";
/// Logs-only override of [`OTEL_EXPORTER_OTLP_TIMEOUT`].
pub const OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT";
/// Logs-only override of [`OTEL_EXPORTER_OTLP_COMPRESSION`].
pub const OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION";
/// Maximum number of attributes per log record (falls back to [`OTEL_ATTRIBUTE_COUNT_LIMIT`]).
pub const OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT";
/// Maximum length of a log record attribute value (falls back to [`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`]).
pub const OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str =
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Comma list of span attribute keys copied onto each log record of the span, or `*` for all.
pub const TRACED_LOG_SPAN_ATTRIBUTES: &str = "TRACED_LOG_SPAN_ATTRIBUTES";
/// Milliseconds dropping the guard may wait for the last spans (at most the export timeout).
pub const TRACED_SHUTDOWN_TIMEOUT: &str = "TRACED_SHUTDOWN_TIMEOUT";
/// The largest OTLP export request in bytes, before compression.
pub const TRACED_MAX_EXPORT_BYTES: &str = "TRACED_MAX_EXPORT_BYTES";
/// Comma-separated baggage keys copied onto every span as attributes; `*` for every entry.
pub const TRACED_BAGGAGE_ATTRIBUTES: &str = "TRACED_BAGGAGE_ATTRIBUTES";

impl Config {
    /// Reads the configuration from the process environment, over the spec defaults.
    ///
    /// See the [module docs](crate::config::env) for what is an error and what is only warned about.
    ///
    /// ```
    /// let config = traced::config::Config::from_env()?;
    /// # let _ = config;
    /// # Ok::<(), traced::Error>(())
    /// ```
    pub fn from_env() -> Result<Config, Error> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], with `lookup` answering for the environment (tests, or variables kept
    /// elsewhere).
    ///
    /// ```
    /// use traced::config::{Config, Protocol};
    ///
    /// let config = Config::from_lookup(|name| match name {
    ///     "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("grpc".to_owned()),
    ///     _ => None,
    /// })?;
    /// assert_eq!(config.otlp.protocol, Protocol::Grpc);
    /// assert_eq!(config.otlp.endpoint, "http://localhost:4317");
    /// # Ok::<(), traced::Error>(())
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let (layer, problems) = read(&lookup);
        super::layer::finish([layer], problems)
    }
}

/// Reads every variable into a layer (without the invalid ones) and the mistakes; prints the warnings.
pub(crate) fn read(lookup: &dyn Fn(&str) -> Option<String>) -> (Layer, Problems) {
    let (layer, problems, warnings) = read_quietly(lookup);
    for warning in &warnings {
        warn::warn_once(warning);
    }
    (layer, problems)
}

/// Reads every variable into a layer, returning the mistakes and the warnings instead of printing them.
pub(crate) fn read_quietly(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (Layer, Problems, Vec<String>) {
    let mut env = Reader {
        lookup,
        problems: Problems::default(),
        warnings: Vec::new(),
        owner: Owner::All,
    };
    let layer = env.layer();
    (layer, env.problems, env.warnings)
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Problems,
    warnings: Vec<String>,
    /// The exporters whose options are being read: their mistakes matter only if one of them is used.
    owner: Owner,
}

impl Reader<'_> {
    fn layer(&mut self) -> Layer {
        let mut layer = Layer {
            disabled: self.disabled(),
            service_name: self.get(OTEL_SERVICE_NAME),
            resource_attributes: self
                .shown_strict(
                    OTEL_RESOURCE_ATTRIBUTES,
                    parse::key_values,
                    redact::key_value_list,
                )
                .unwrap_or_default(),
            exporters: self.strict(OTEL_TRACES_EXPORTER, parse::exporters),
            propagators: self.strict(OTEL_PROPAGATORS, parse::propagators),
            baggage_attributes: self.strict(TRACED_BAGGAGE_ATTRIBUTES, parse::baggage_attributes),
            sampler: self.sampler(),
            tail_sampling: self.strict(TRACED_TAIL_SAMPLING, super::tail::parse_list),
            schedule_delay: self
                .lenient(OTEL_BSP_SCHEDULE_DELAY, 0)
                .map(Duration::from_millis),
            export_timeout: self
                .lenient(OTEL_BSP_EXPORT_TIMEOUT, 1)
                .map(Duration::from_millis),
            max_queue_size: self.lenient(OTEL_BSP_MAX_QUEUE_SIZE, 1).map(to_usize),
            max_export_batch_size: self
                .lenient(OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 1)
                .map(to_usize),
            max_export_bytes: self.lenient(TRACED_MAX_EXPORT_BYTES, 1).map(to_usize),
            shutdown_timeout: self
                .lenient(TRACED_SHUTDOWN_TIMEOUT, 0)
                .map(Duration::from_millis),
            attribute_value_length: self
                .lenient_either(
                    OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
                    OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
                    0,
                )
                .map(to_usize),
            attribute_count: self.lenient(OTEL_ATTRIBUTE_COUNT_LIMIT, 0).map(to_usize),
            // Falls back to the general limit when the layers are merged.
            span_attribute_count: self
                .lenient(OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, 0)
                .map(to_usize),
            span_event_count: self.lenient(OTEL_SPAN_EVENT_COUNT_LIMIT, 0).map(to_usize),
            span_link_count: self.lenient(OTEL_SPAN_LINK_COUNT_LIMIT, 0).map(to_usize),
            log_filter: self.strict(RUST_LOG, |v| {
                parse::log_filter(v).map(|()| v.trim().to_owned())
            }),
            log_format: self.strict(TRACED_LOG_FORMAT, parse::log_format),
            redaction: self.strict(TRACED_REDACTION, parse::switch),
            redact_keys: self
                .get(TRACED_REDACT_KEYS)
                .map(|v| parse::words(&v))
                .unwrap_or_default(),
            ..Layer::default()
        };
        self.owner = Owner::Spans(ExporterKind::Otlp);
        layer.endpoint = self.endpoint();
        layer.protocol = self.either(
            OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
            OTEL_EXPORTER_OTLP_PROTOCOL,
            parse::protocol,
        );
        layer.headers = self.headers_with(OTEL_EXPORTER_OTLP_TRACES_HEADERS);
        layer.timeout = self
            .lenient_either(
                OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
                OTEL_EXPORTER_OTLP_TIMEOUT,
                1,
            )
            .map(Duration::from_millis);
        layer.compression = self.either(
            OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
            OTEL_EXPORTER_OTLP_COMPRESSION,
            parse::compression,
        );
        self.owner = Owner::Spans(ExporterKind::Zipkin);
        layer.zipkin_endpoint = self.url(OTEL_EXPORTER_ZIPKIN_ENDPOINT);
        self.owner = Owner::All;
        layer.logs = self.logs();
        layer.metrics = self.metrics();
        layer
    }

    /// The metrics variables, and the generic OTLP ones again (parsed quietly: the traces read reported them).
    fn metrics(&mut self) -> MetricsLayer {
        let generic = OtlpLayer {
            endpoint: self
                .get(OTEL_EXPORTER_OTLP_ENDPOINT)
                .filter(|v| parse::url(v).is_ok())
                .map(Endpoint::Base),
            protocol: self
                .get(OTEL_EXPORTER_OTLP_PROTOCOL)
                .and_then(|v| parse::protocol(&v).ok()),
            headers: self
                .get(OTEL_EXPORTER_OTLP_HEADERS)
                .and_then(|v| parse::headers(&v).ok())
                .unwrap_or_default(),
            timeout: self
                .get(OTEL_EXPORTER_OTLP_TIMEOUT)
                .and_then(|v| parse::integer(&v, 1).ok())
                .map(Duration::from_millis),
            compression: self
                .get(OTEL_EXPORTER_OTLP_COMPRESSION)
                .and_then(|v| parse::compression(&v).ok()),
        };
        let exporters = self.strict(OTEL_METRICS_EXPORTER, parse::metrics_exporters);
        self.owner = Owner::Metrics(MetricsExporterKind::Otlp);
        let otlp = OtlpLayer {
            // The full URL, used as is, like the traces one.
            endpoint: self
                .url(OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)
                .map(Endpoint::Traces),
            protocol: self.strict(OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, parse::protocol),
            headers: self
                .shown_strict(
                    OTEL_EXPORTER_OTLP_METRICS_HEADERS,
                    parse::headers,
                    parse::hidden_headers,
                )
                .unwrap_or_default(),
            timeout: self
                .lenient(OTEL_EXPORTER_OTLP_METRICS_TIMEOUT, 1)
                .map(Duration::from_millis),
            compression: self.strict(OTEL_EXPORTER_OTLP_METRICS_COMPRESSION, parse::compression),
        };
        self.owner = Owner::All;
        MetricsLayer {
            exporters,
            export_interval: self
                .lenient(OTEL_METRIC_EXPORT_INTERVAL, 1)
                .map(Duration::from_millis),
            export_timeout: self
                .lenient(OTEL_METRIC_EXPORT_TIMEOUT, 1)
                .map(Duration::from_millis),
            otlp,
            generic,
            temporality: self.strict(
                OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
                parse::temporality,
            ),
            prometheus_host: self.strict(OTEL_EXPORTER_PROMETHEUS_HOST, parse::host),
            prometheus_port: self.strict(OTEL_EXPORTER_PROMETHEUS_PORT, parse::port),
            functions: self.strict(TRACED_FUNCTION_METRICS, parse::switch),
        }
    }

    /// The log record options, each logs-specific variable over its generic one.
    fn logs(&mut self) -> LogsLayer {
        let exporters = self.strict(OTEL_LOGS_EXPORTER, parse::logs_exporters);
        let span_attributes = self.strict(TRACED_LOG_SPAN_ATTRIBUTES, parse::span_attributes);
        self.owner = Owner::Logs(LogsExporterKind::Otlp);
        let logs = LogsLayer {
            exporters,
            span_attributes,
            endpoint: self.signal_endpoint(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT),
            protocol: self.either(
                OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
                OTEL_EXPORTER_OTLP_PROTOCOL,
                parse::protocol,
            ),
            headers: self.headers_with(OTEL_EXPORTER_OTLP_LOGS_HEADERS),
            timeout: self
                .lenient_either(
                    OTEL_EXPORTER_OTLP_LOGS_TIMEOUT,
                    OTEL_EXPORTER_OTLP_TIMEOUT,
                    1,
                )
                .map(Duration::from_millis),
            compression: self.either(
                OTEL_EXPORTER_OTLP_LOGS_COMPRESSION,
                OTEL_EXPORTER_OTLP_COMPRESSION,
                parse::compression,
            ),
            schedule_delay: self
                .lenient(OTEL_BLRP_SCHEDULE_DELAY, 0)
                .map(Duration::from_millis),
            export_timeout: self
                .lenient(OTEL_BLRP_EXPORT_TIMEOUT, 1)
                .map(Duration::from_millis),
            max_queue_size: self.lenient(OTEL_BLRP_MAX_QUEUE_SIZE, 1).map(to_usize),
            max_export_batch_size: self
                .lenient(OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, 1)
                .map(to_usize),
            attribute_count: self
                .lenient_either(
                    OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT,
                    OTEL_ATTRIBUTE_COUNT_LIMIT,
                    0,
                )
                .map(to_usize),
            attribute_value_length: self
                .lenient_either(
                    OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT,
                    OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
                    0,
                )
                .map(to_usize),
        };
        self.owner = Owner::All;
        logs
    }

    /// Reads a generic variable, which the OTLP exporters of both signals share.
    fn generic<T>(&mut self, read: impl FnOnce(&mut Self) -> T) -> T {
        let owner = std::mem::replace(&mut self.owner, Owner::Otlp);
        let value = read(self);
        self.owner = owner;
        value
    }

    /// A signal's own endpoint (`specific`), else the generic base.
    fn signal_endpoint(&mut self, specific: &str) -> Option<SignalEndpoint> {
        if let Some(url) = self.url(specific) {
            return Some(SignalEndpoint::Full(url));
        }
        if self.get(specific).is_some() {
            // Invalid and already reported: do not fall back to the generic one and hide the typo.
            return None;
        }
        self.generic(|reader| reader.url(OTEL_EXPORTER_OTLP_ENDPOINT))
            .map(SignalEndpoint::Base)
    }

    /// The trimmed value, `None` when unset or empty (the spec treats both alike).
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A value whose refusal is an error.
    fn strict<T>(&mut self, name: &str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        self.shown_strict(name, parse, str::to_owned)
    }

    /// [`Reader::strict`] for a value that may hold secrets: `show` is what the error quotes of it.
    fn shown_strict<T>(
        &mut self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, String>,
        show: impl Fn(&str) -> String,
    ) -> Option<T> {
        let value = self.get(name)?;
        match parse(&value) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                let error = Error::invalid(name, show(&value), reason);
                self.problems.push(self.owner, error);
                None
            }
        }
    }

    /// The signal-specific variable if set, else the generic one.
    fn either<T>(
        &mut self,
        specific: &str,
        generic: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        if self.get(specific).is_some() {
            self.strict(specific, parse)
        } else {
            self.generic(|reader| reader.strict(generic, parse))
        }
    }

    /// A number whose refusal is a warning: the spec default applies.
    fn lenient(&mut self, name: &str, min: u64) -> Option<u64> {
        let value = self.get(name)?;
        match parse::integer(&value, min) {
            Ok(n) => Some(n),
            Err(reason) => {
                let warning = format!("ignoring {name}={value:?} ({reason}); using the default");
                if !self.warnings.contains(&warning) {
                    self.warnings.push(warning);
                }
                None
            }
        }
    }

    fn lenient_either(&mut self, specific: &str, generic: &str, min: u64) -> Option<u64> {
        self.lenient(specific, min)
            .or_else(|| self.lenient(generic, min))
    }

    /// A URL; an error quotes it without credentials.
    fn url(&mut self, name: &str) -> Option<String> {
        self.shown_strict(name, |v| parse::url(v).map(|()| v.to_owned()), redact::url)
    }

    /// The spec: only `true`, case-insensitive, is true; anything but `false` is warned about.
    fn disabled(&mut self) -> Option<bool> {
        let value = self.get(OTEL_SDK_DISABLED)?;
        if value.eq_ignore_ascii_case("true") {
            return Some(true);
        }
        if !value.eq_ignore_ascii_case("false") {
            self.warnings.push(format!(
                "{OTEL_SDK_DISABLED}={value:?} is neither true nor false; the SDK stays enabled"
            ));
        }
        Some(false)
    }

    /// The per-signal endpoint wins over the generic one within the environment.
    fn endpoint(&mut self) -> Option<Endpoint> {
        if let Some(url) = self.url(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
            return Some(Endpoint::Traces(url));
        }
        if self.get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).is_some() {
            // Invalid and already reported: do not fall back to the generic one and hide the typo.
            return None;
        }
        self.generic(|reader| reader.url(OTEL_EXPORTER_OTLP_ENDPOINT))
            .map(Endpoint::Base)
    }

    /// Generic headers, then a signal's headers (`specific`) over them key by key. An error quotes the names,
    /// never a value.
    fn headers_with(&mut self, specific: &str) -> StringMap {
        let read = |reader: &mut Self, name: &str| {
            reader
                .shown_strict(name, parse::headers, parse::hidden_headers)
                .unwrap_or_default()
        };
        let mut headers = self.generic(|reader| read(reader, OTEL_EXPORTER_OTLP_HEADERS));
        headers.merge(read(self, specific));
        headers
    }

    /// An unknown sampler is an error; a bad ratio is warned about and the sampler keeps the default 1.0.
    fn sampler(&mut self) -> Option<SamplerConfig> {
        let sampler = self.strict(OTEL_TRACES_SAMPLER, parse::sampler)?;
        let Some(arg) = self.get(OTEL_TRACES_SAMPLER_ARG) else {
            return Some(sampler);
        };
        // The spec: the argument only applies to samplers that take one; others ignore it.
        if parse::ratio_of(sampler).is_none() {
            return Some(sampler);
        }
        match parse::ratio(&arg) {
            Ok(ratio) => parse::with_ratio(sampler, ratio),
            Err(reason) => {
                self.warnings.push(format!(
                    "ignoring {OTEL_TRACES_SAMPLER_ARG}={arg:?} ({reason}); using the ratio 1.0"
                ));
                Some(sampler)
            }
        }
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests;
