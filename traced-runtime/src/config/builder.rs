//! [`ConfigBuilder`]: configuration in code, over the environment.

use std::time::Duration;

use super::layer::{self, Endpoint, Layer, Owner, Problems, SignalEndpoint};
use super::{
    env, parse, Compression, Config, ExporterKind, FileConfig, LogFormat, LogSpanAttributes,
    LogsExporterKind, MetricsExporterKind, PropagatorKind, Protocol, SamplerConfig, TailSampling,
    Temporality,
};
use crate::{redact, Error};
use opentelemetry_sdk::trace::SpanExporter;

/// Sets options in code. Values set here win over a YAML file given with [`ConfigBuilder::with_yaml_file`], which
/// wins over the environment, which wins over the spec defaults.
///
/// ```
/// use traced::config::{Config, ExporterKind, SamplerConfig};
///
/// let config = Config::builder()
///     .with_service_name("checkout")
///     // The version of the application, as Cargo knows it.
///     .with_service_version(env!("CARGO_PKG_VERSION"))
///     .with_exporter(ExporterKind::Console)
///     .with_sampler(SamplerConfig::ParentBasedTraceIdRatio(0.1))
///     .build()?;
/// assert_eq!(config.service_name.as_deref(), Some("checkout"));
/// assert_eq!(config.exporters, [ExporterKind::Console]);
/// # Ok::<(), traced::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until build() is called"]
pub struct ConfigBuilder {
    layer: Layer,
    /// Mistakes found by setters that cannot report them yet; `build` returns them.
    problems: Problems,
    without_env: bool,
    /// The file's keys, checked at `build` so that `${VAR}` uses the same environment.
    file: Option<FileConfig>,
}

impl Config {
    /// A builder whose unset options come from the environment, then the spec defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }
}

impl ConfigBuilder {
    /// Ignores the environment: unset options take the spec defaults. For tests and hermetic programs.
    pub fn without_env(mut self) -> Self {
        self.without_env = true;
        self
    }

    /// Reads a YAML file (see [`Config::from_yaml_file`]) as a layer between the environment and this builder:
    /// code wins over the file, which wins over the environment.
    ///
    /// ```no_run
    /// let config = traced::config::Config::builder()
    ///     .with_yaml_file("traced.yaml")
    ///     .with_service_version(env!("CARGO_PKG_VERSION"))
    ///     .build()?;
    /// # Ok::<(), traced::Error>(())
    /// ```
    pub fn with_yaml_file(self, path: impl AsRef<std::path::Path>) -> Self {
        self.with_read_file(FileConfig::from_yaml_file(path))
    }

    /// Like [`ConfigBuilder::with_yaml_file`], with the YAML text given; `origin` names it in errors.
    pub fn with_yaml_str(self, text: impl Into<String>, origin: impl Into<String>) -> Self {
        self.with_read_file(FileConfig::from_yaml_str(&text.into(), &origin.into()))
    }

    /// Reads the top-level key `section` of the application's own YAML file (`tracing:` in `config.yaml`) as the
    /// tracing configuration, ignoring the other keys; errors name the keys by their full path
    /// (`tracing.sampler.kind in config.yaml:7:11`). An absent section configures nothing.
    ///
    /// ```no_run
    /// let config = traced::config::Config::builder()
    ///     .with_yaml_section("config.yaml", "tracing")
    ///     .build()?;
    /// # Ok::<(), traced::Error>(())
    /// ```
    pub fn with_yaml_section(self, path: impl AsRef<std::path::Path>, section: &str) -> Self {
        self.with_read_file(FileConfig::from_yaml_section(path, section))
    }

    /// Uses a [`FileConfig`] read elsewhere (embedded in the application's own configuration struct) as the file
    /// layer: code wins over it, it wins over the environment. Its keys are checked by [`ConfigBuilder::build`].
    pub fn with_file_config(mut self, file: FileConfig) -> Self {
        self.file = Some(file);
        self
    }

    fn with_read_file(mut self, file: Result<FileConfig, Error>) -> Self {
        match file {
            Ok(file) => self.file = Some(file),
            Err(error) => self.problems.error(error),
        }
        self
    }

    /// `true` turns the pipeline off: nothing is exported and no global state is installed.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.layer.disabled = Some(disabled);
        self
    }

    /// The `service.name` resource attribute.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.layer.service_name = Some(name.into());
        self
    }

    /// The `service.version` resource attribute; pass `env!("CARGO_PKG_VERSION")` for the application's version.
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.layer.service_version = Some(version.into());
        self
    }

    /// The `deployment.environment.name` resource attribute (`production`, `staging`, ...).
    pub fn with_deployment_environment(mut self, environment: impl Into<String>) -> Self {
        self.layer.deployment_environment = Some(environment.into());
        self
    }

    /// Adds a resource attribute, or replaces the value the environment gave the same key.
    pub fn with_resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.layer
            .resource_attributes
            .insert(key.into(), value.into());
        self
    }

    /// Adds an exporter. The exporters set in code replace the whole `OTEL_TRACES_EXPORTER` list.
    pub fn with_exporter(mut self, exporter: ExporterKind) -> Self {
        let exporters = self.layer.exporters.get_or_insert_with(Vec::new);
        if !exporters.contains(&exporter) {
            exporters.push(exporter);
        }
        self
    }

    /// Sets the exporters; an empty list exports nothing.
    pub fn with_exporters(mut self, exporters: impl IntoIterator<Item = ExporterKind>) -> Self {
        self.layer.exporters = Some(Vec::new());
        exporters.into_iter().fold(self, Self::with_exporter)
    }

    /// Adds an `opentelemetry_sdk` span exporter of your own. It replaces the default `otlp` exporter, unless
    /// exporters are named (by `OTEL_TRACES_EXPORTER`, the YAML file or [`ConfigBuilder::with_exporters`]): then
    /// it runs beside them.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use traced::config::{Config, ExporterKind};
    ///
    /// let spans = InMemorySpanExporter::default();
    /// let alone = Config::builder()
    ///     .without_env()
    ///     .with_span_exporter(spans.clone())
    ///     .build()?;
    /// assert_eq!((alone.exporters.len(), alone.span_exporters.len()), (0, 1));
    /// let beside = Config::builder()
    ///     .without_env()
    ///     .with_exporter(ExporterKind::Console)
    ///     .with_span_exporter(spans)
    ///     .build()?;
    /// assert_eq!(beside.exporters, [ExporterKind::Console]);
    /// # Ok::<(), traced::Error>(())
    /// ```
    pub fn with_span_exporter<E: SpanExporter + 'static>(mut self, exporter: E) -> Self {
        self.layer.span_exporters.push(exporter);
        self
    }

    /// The OTLP base URL, like `OTEL_EXPORTER_OTLP_ENDPOINT`: `/v1/traces` is appended for the HTTP protocols.
    pub fn with_otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        if let Some(url) = self.checked_url(Owner::Otlp, "with_otlp_endpoint", url.into()) {
            self.layer.metrics.generic.endpoint = Some(Endpoint::Base(url.clone()));
            self.layer.endpoint = Some(Endpoint::Base(url));
        }
        self
    }

    /// The full OTLP traces URL, like `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: used as is.
    pub fn with_otlp_traces_endpoint(mut self, url: impl Into<String>) -> Self {
        if let Some(url) = self.checked_url(
            Owner::Spans(ExporterKind::Otlp),
            "with_otlp_traces_endpoint",
            url.into(),
        ) {
            self.layer.endpoint = Some(Endpoint::Traces(url));
        }
        self
    }

    /// The OTLP transport.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.layer.metrics.generic.protocol = Some(protocol);
        self.layer.protocol = Some(protocol);
        self
    }

    /// Adds a header to every OTLP export, or replaces the value the environment gave it. A name or value that
    /// HTTP cannot carry is an error of [`ConfigBuilder::build`], which never quotes the value.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        match parse::header(&name, &value) {
            Ok(()) => {
                self.layer
                    .metrics
                    .generic
                    .headers
                    .insert(name.clone(), value.clone());
                self.layer.headers.insert(name, value);
            }
            Err(reason) => self.problems.push(
                Owner::Otlp,
                Error::invalid("with_header", parse::hidden_header(&name), reason),
            ),
        }
        self
    }

    /// How long one OTLP request may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        if let Some(timeout) = self.checked_otlp("with_timeout", timeout, positive) {
            self.layer.metrics.generic.timeout = Some(timeout);
            self.layer.timeout = Some(timeout);
        }
        self
    }

    /// OTLP payload compression; `None` sends uncompressed even if the environment asks for compression.
    /// [`Compression::Zstd`] is refused: the exporters speak gzip only.
    pub fn with_compression(mut self, compression: impl Into<Option<Compression>>) -> Self {
        let compression = compression.into();
        if let Some(compression) = self.checked_otlp("with_compression", compression, |c| {
            parse::check_compression(*c)
        }) {
            self.layer.metrics.generic.compression = Some(compression);
            self.layer.compression = Some(compression);
        }
        self
    }

    /// The sampler; a ratio must be in `0..=1`.
    pub fn with_sampler(mut self, sampler: SamplerConfig) -> Self {
        let check =
            |sampler: &SamplerConfig| parse::ratio_of(*sampler).map_or(Ok(()), parse::check_ratio);
        if let Some(sampler) = self.checked("with_sampler", sampler, check) {
            self.layer.sampler = Some(sampler);
        }
        self
    }

    /// Turns tail sampling on (see [`TailSampling`]): every span is recorded and each local trace exported whole
    /// or not at all, once its local root ends. A ratio must be in `0..=1`, `max_spans` at least 1.
    pub fn with_tail_sampling(mut self, tail: TailSampling) -> Self {
        if let Some(tail) = self.checked("with_tail_sampling", tail, super::tail::check) {
            self.layer.tail_sampling = Some(tail);
        }
        self
    }

    /// The propagators, in order; an empty list propagates nothing.
    pub fn with_propagators(
        mut self,
        propagators: impl IntoIterator<Item = PropagatorKind>,
    ) -> Self {
        let mut list = Vec::new();
        for propagator in propagators {
            if !list.contains(&propagator) {
                list.push(propagator);
            }
        }
        self.layer.propagators = Some(list);
        self
    }

    /// Copies these baggage entries onto every span started where they are in the context, as attributes of the
    /// same keys (`TRACED_BAGGAGE_ATTRIBUTES`); `"*"` copies every entry, an empty list none.
    ///
    /// ```
    /// use traced::config::{BaggageAttributes, Config};
    ///
    /// let config = Config::builder()
    ///     .without_env()
    ///     .with_baggage_attributes(["tenant.id", "user.id"])
    ///     .build()?;
    /// assert_eq!(
    ///     config.baggage_attributes,
    ///     BaggageAttributes::Keys(vec!["tenant.id".into(), "user.id".into()])
    /// );
    /// # Ok::<(), traced::Error>(())
    /// ```
    pub fn with_baggage_attributes<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let keys: Vec<String> = keys.into_iter().map(Into::into).collect();
        match parse::baggage_keys(keys.iter().map(|key| key.trim().to_owned())) {
            Ok(attributes) => self.layer.baggage_attributes = Some(attributes),
            Err(reason) => self.problems.error(Error::invalid(
                "with_baggage_attributes",
                format!("{keys:?}"),
                reason,
            )),
        }
        self
    }

    /// Time between two batch exports.
    pub fn with_batch_schedule_delay(mut self, delay: Duration) -> Self {
        self.layer.schedule_delay = Some(delay);
        self
    }

    /// How long one batch export may take.
    pub fn with_batch_export_timeout(mut self, timeout: Duration) -> Self {
        if let Some(timeout) = self.checked("with_batch_export_timeout", timeout, positive) {
            self.layer.export_timeout = Some(timeout);
        }
        self
    }

    /// Spans buffered before new ones are dropped.
    pub fn with_batch_max_queue_size(mut self, size: usize) -> Self {
        if let Some(size) = self.checked("with_batch_max_queue_size", size, at_least_one) {
            self.layer.max_queue_size = Some(size);
        }
        self
    }

    /// Spans per export call; clamped to the queue size.
    pub fn with_batch_max_export_batch_size(mut self, size: usize) -> Self {
        if let Some(size) = self.checked("with_batch_max_export_batch_size", size, at_least_one) {
            self.layer.max_export_batch_size = Some(size);
        }
        self
    }

    /// The largest OTLP export request in bytes, before compression (`TRACED_MAX_EXPORT_BYTES`, default 4 MiB):
    /// larger batches are split, and a span larger than this on its own is dropped and counted as failed.
    pub fn with_max_export_bytes(mut self, bytes: usize) -> Self {
        if let Some(bytes) = self.checked("with_max_export_bytes", bytes, at_least_one) {
            self.layer.max_export_bytes = Some(bytes);
        }
        self
    }

    /// How long dropping the guard (or `Guard::shutdown`) may wait for the last spans
    /// (`TRACED_SHUTDOWN_TIMEOUT`, default 5 s); never longer than the batch export timeout.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.layer.shutdown_timeout = Some(timeout);
        self
    }

    /// Maximum length of an attribute value; longer values are truncated.
    pub fn with_attribute_value_length_limit(mut self, limit: usize) -> Self {
        self.layer.attribute_value_length = Some(limit);
        self
    }

    /// Maximum number of resource attributes, and of attributes per span unless
    /// [`ConfigBuilder::with_span_attribute_count_limit`] says otherwise (`OTEL_ATTRIBUTE_COUNT_LIMIT`).
    pub fn with_attribute_count_limit(mut self, limit: usize) -> Self {
        self.layer.attribute_count = Some(limit);
        self
    }

    /// Maximum number of attributes per span.
    pub fn with_span_attribute_count_limit(mut self, limit: usize) -> Self {
        self.layer.span_attribute_count = Some(limit);
        self
    }

    /// Maximum number of events per span.
    pub fn with_span_event_count_limit(mut self, limit: usize) -> Self {
        self.layer.span_event_count = Some(limit);
        self
    }

    /// Maximum number of links per span.
    pub fn with_span_link_count_limit(mut self, limit: usize) -> Self {
        self.layer.span_link_count = Some(limit);
        self
    }

    /// Redacts the attributes whose keys contain one of `words`, in addition to the defaults and to
    /// `TRACED_REDACT_KEYS` (see [`redact`](crate::redact)).
    pub fn with_redacted_keys<I, S>(mut self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.layer
            .redact_keys
            .extend(words.into_iter().map(Into::into));
        self
    }

    /// Exports attribute values as they are, secrets included (`TRACED_REDACTION=off`).
    pub fn without_redaction(mut self) -> Self {
        self.layer.redaction = Some(false);
        self
    }

    /// The log and span filter, `RUST_LOG` syntax (`info,my_crate=debug`).
    pub fn with_log_filter(mut self, filter: impl Into<String>) -> Self {
        let filter = filter.into();
        match parse::log_filter(&filter) {
            Ok(()) => self.layer.log_filter = Some(filter),
            Err(reason) => self
                .problems
                .error(Error::invalid("with_log_filter", filter, reason)),
        }
        self
    }

    /// How log lines are printed on stderr.
    pub fn with_log_format(mut self, format: LogFormat) -> Self {
        self.layer.log_format = Some(format);
        self
    }

    /// The Zipkin v2 spans URL, used as is.
    pub fn with_zipkin_endpoint(mut self, url: impl Into<String>) -> Self {
        if let Some(url) = self.checked_url(
            Owner::Spans(ExporterKind::Zipkin),
            "with_zipkin_endpoint",
            url.into(),
        ) {
            self.layer.zipkin_endpoint = Some(url);
        }
        self
    }

    /// The metrics exporters (like `OTEL_METRICS_EXPORTER`); an empty list records no metrics.
    pub fn with_metrics_exporters(
        mut self,
        exporters: impl IntoIterator<Item = MetricsExporterKind>,
    ) -> Self {
        let mut list = Vec::new();
        for exporter in exporters {
            if !list.contains(&exporter) {
                list.push(exporter);
            }
        }
        self.layer.metrics.exporters = Some(list);
        self
    }

    /// Time between two metric pushes (`OTEL_METRIC_EXPORT_INTERVAL`).
    pub fn with_metric_export_interval(mut self, interval: Duration) -> Self {
        if let Some(interval) = self.checked("with_metric_export_interval", interval, positive) {
            self.layer.metrics.export_interval = Some(interval);
        }
        self
    }

    /// What one metric push may take, retries included (`OTEL_METRIC_EXPORT_TIMEOUT`).
    pub fn with_metric_export_timeout(mut self, timeout: Duration) -> Self {
        if let Some(timeout) = self.checked("with_metric_export_timeout", timeout, positive) {
            self.layer.metrics.export_timeout = Some(timeout);
        }
        self
    }

    /// The full OTLP metrics URL, like `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`: used as is.
    pub fn with_otlp_metrics_endpoint(mut self, url: impl Into<String>) -> Self {
        if let Some(url) = self.checked_url(
            Owner::Metrics(MetricsExporterKind::Otlp),
            "with_otlp_metrics_endpoint",
            url.into(),
        ) {
            self.layer.metrics.otlp.endpoint = Some(Endpoint::Traces(url));
        }
        self
    }

    /// The OTLP transport of the metrics (`OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`).
    pub fn with_metrics_protocol(mut self, protocol: Protocol) -> Self {
        self.layer.metrics.otlp.protocol = Some(protocol);
        self
    }

    /// Adds a header to every OTLP metrics export (`OTEL_EXPORTER_OTLP_METRICS_HEADERS`).
    pub fn with_metrics_header(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        let (name, value) = (name.into(), value.into());
        match parse::header(&name, &value) {
            Ok(()) => self.layer.metrics.otlp.headers.insert(name, value),
            Err(reason) => self.problems.push(
                Owner::Metrics(MetricsExporterKind::Otlp),
                Error::invalid("with_metrics_header", parse::hidden_header(&name), reason),
            ),
        }
        self
    }

    /// How long one OTLP metrics request may take (`OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`).
    pub fn with_metrics_timeout(mut self, timeout: Duration) -> Self {
        if let Some(timeout) = self.checked_for(
            Owner::Metrics(MetricsExporterKind::Otlp),
            "with_metrics_timeout",
            timeout,
            positive,
        ) {
            self.layer.metrics.otlp.timeout = Some(timeout);
        }
        self
    }

    /// OTLP metrics payload compression (`OTEL_EXPORTER_OTLP_METRICS_COMPRESSION`); zstd is refused.
    pub fn with_metrics_compression(mut self, compression: impl Into<Option<Compression>>) -> Self {
        let compression = compression.into();
        if let Some(compression) = self.checked_for(
            Owner::Metrics(MetricsExporterKind::Otlp),
            "with_metrics_compression",
            compression,
            |c| parse::check_compression(*c),
        ) {
            self.layer.metrics.otlp.compression = Some(compression);
        }
        self
    }

    /// Cumulative, delta or low-memory sums and histograms over OTLP
    /// (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
    pub fn with_metrics_temporality(mut self, temporality: Temporality) -> Self {
        self.layer.metrics.temporality = Some(temporality);
        self
    }

    /// The host the Prometheus endpoint listens on (`OTEL_EXPORTER_PROMETHEUS_HOST`).
    pub fn with_prometheus_host(mut self, host: impl Into<String>) -> Self {
        let host = host.into();
        match parse::host(&host) {
            Ok(host) => self.layer.metrics.prometheus_host = Some(host),
            Err(reason) => {
                self.problems
                    .error(Error::invalid("with_prometheus_host", host, reason))
            }
        }
        self
    }

    /// The port the Prometheus endpoint listens on (`OTEL_EXPORTER_PROMETHEUS_PORT`; 0: any free port).
    pub fn with_prometheus_port(mut self, port: u16) -> Self {
        self.layer.metrics.prometheus_port = Some(port);
        self
    }

    /// `false` leaves every `#[traced]` fn out of the function metrics (`TRACED_FUNCTION_METRICS=false`);
    /// the HTTP and user instruments still export.
    pub fn with_function_metrics(mut self, on: bool) -> Self {
        self.layer.metrics.functions = Some(on);
        self
    }

    /// Adds a logs exporter. The exporters set in code replace the whole `OTEL_LOGS_EXPORTER` list.
    pub fn with_logs_exporter(mut self, exporter: LogsExporterKind) -> Self {
        let exporters = self.layer.logs.exporters.get_or_insert_with(Vec::new);
        if !exporters.contains(&exporter) {
            exporters.push(exporter);
        }
        self
    }

    /// Sets the logs exporters; an empty list exports no log record (the stderr lines stay).
    pub fn with_logs_exporters(
        mut self,
        exporters: impl IntoIterator<Item = LogsExporterKind>,
    ) -> Self {
        self.layer.logs.exporters = Some(Vec::new());
        exporters.into_iter().fold(self, Self::with_logs_exporter)
    }

    /// The full OTLP logs URL, like `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`: used as is.
    pub fn with_otlp_logs_endpoint(mut self, url: impl Into<String>) -> Self {
        if let Some(url) = self.checked_url(
            Owner::Logs(LogsExporterKind::Otlp),
            "with_otlp_logs_endpoint",
            url.into(),
        ) {
            self.layer.logs.endpoint = Some(SignalEndpoint::Full(url));
        }
        self
    }

    /// The OTLP transport of the logs, over [`ConfigBuilder::with_protocol`].
    pub fn with_logs_protocol(mut self, protocol: Protocol) -> Self {
        self.layer.logs.protocol = Some(protocol);
        self
    }

    /// Adds a header to every OTLP logs export, over those of [`ConfigBuilder::with_header`]. A name or value
    /// that HTTP cannot carry is an error of [`ConfigBuilder::build`], which never quotes the value.
    pub fn with_logs_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        match parse::header(&name, &value) {
            Ok(()) => self.layer.logs.headers.insert(name, value),
            Err(reason) => self.problems.push(
                Owner::Logs(LogsExporterKind::Otlp),
                Error::invalid("with_logs_header", parse::hidden_header(&name), reason),
            ),
        }
        self
    }

    /// How long one OTLP logs request may take, over [`ConfigBuilder::with_timeout`].
    pub fn with_logs_timeout(mut self, timeout: Duration) -> Self {
        if let Some(timeout) = self.checked_logs_otlp("with_logs_timeout", timeout, positive) {
            self.layer.logs.timeout = Some(timeout);
        }
        self
    }

    /// OTLP logs payload compression, over [`ConfigBuilder::with_compression`].
    pub fn with_logs_compression(mut self, compression: impl Into<Option<Compression>>) -> Self {
        let compression = compression.into();
        if let Some(compression) =
            self.checked_logs_otlp("with_logs_compression", compression, |c| {
                parse::check_compression(*c)
            })
        {
            self.layer.logs.compression = Some(compression);
        }
        self
    }

    /// Time between two log record batch exports (`OTEL_BLRP_SCHEDULE_DELAY`).
    pub fn with_logs_batch_schedule_delay(mut self, delay: Duration) -> Self {
        self.layer.logs.schedule_delay = Some(delay);
        self
    }

    /// How long one log record batch export may take (`OTEL_BLRP_EXPORT_TIMEOUT`).
    pub fn with_logs_batch_export_timeout(mut self, timeout: Duration) -> Self {
        if let Some(timeout) = self.checked("with_logs_batch_export_timeout", timeout, positive) {
            self.layer.logs.export_timeout = Some(timeout);
        }
        self
    }

    /// Log records buffered before new ones are dropped (`OTEL_BLRP_MAX_QUEUE_SIZE`).
    pub fn with_logs_batch_max_queue_size(mut self, size: usize) -> Self {
        if let Some(size) = self.checked("with_logs_batch_max_queue_size", size, at_least_one) {
            self.layer.logs.max_queue_size = Some(size);
        }
        self
    }

    /// Log records per export call (`OTEL_BLRP_MAX_EXPORT_BATCH_SIZE`); clamped to the queue size.
    pub fn with_logs_batch_max_export_batch_size(mut self, size: usize) -> Self {
        if let Some(size) =
            self.checked("with_logs_batch_max_export_batch_size", size, at_least_one)
        {
            self.layer.logs.max_export_batch_size = Some(size);
        }
        self
    }

    /// Maximum number of attributes per log record (`OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT`).
    pub fn with_log_record_attribute_count_limit(mut self, limit: usize) -> Self {
        self.layer.logs.attribute_count = Some(limit);
        self
    }

    /// Maximum length of a log record attribute value (`OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`).
    pub fn with_log_record_attribute_value_length_limit(mut self, limit: usize) -> Self {
        self.layer.logs.attribute_value_length = Some(limit);
        self
    }

    /// The attributes of the enclosing spans copied onto each log record (`TRACED_LOG_SPAN_ATTRIBUTES`); `"*"`
    /// alone copies all of them.
    ///
    /// ```
    /// use traced::config::{Config, LogSpanAttributes};
    ///
    /// let config = Config::builder().without_env().with_log_span_attributes(["tenant.id"]).build()?;
    /// assert_eq!(config.logs.span_attributes, LogSpanAttributes::Named(vec!["tenant.id".into()]));
    /// # Ok::<(), traced::Error>(())
    /// ```
    pub fn with_log_span_attributes<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let keys: Vec<String> = keys.into_iter().map(Into::into).collect();
        match parse::span_attributes(&keys.join(",")) {
            Ok(attributes) => self.layer.logs.span_attributes = Some(attributes),
            Err(reason) => self.problems.error(Error::invalid(
                "with_log_span_attributes",
                format!("{keys:?}"),
                reason,
            )),
        }
        self
    }

    /// Copies every attribute of the enclosing spans onto each log record (`TRACED_LOG_SPAN_ATTRIBUTES=*`).
    pub fn with_all_log_span_attributes(mut self) -> Self {
        self.layer.logs.span_attributes = Some(LogSpanAttributes::All);
        self
    }

    /// Validates and merges: this builder's values over the environment's over the spec defaults.
    ///
    /// Returns every mistake at once, from the setters and from the environment.
    pub fn build(self) -> Result<Config, Error> {
        self.build_with(&|name| std::env::var(name).ok())
    }

    /// [`ConfigBuilder::build`] with `lookup` answering for the environment.
    pub(crate) fn build_with(
        self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, Error> {
        let mut problems = self.problems;
        let mut layers = Vec::with_capacity(3);
        if !self.without_env {
            let (env, env_problems) = env::read(lookup);
            layers.push(env);
            problems.extend(env_problems);
        }
        if let Some(file) = &self.file {
            layers.push(file.read(lookup, &mut problems));
        }
        let mut code = self.layer;
        let generic = code.clone();
        code.logs.fall_back_to(&generic);
        layers.push(code);
        layer::finish(layers, problems)
    }

    /// A valid URL of `owner`'s, or `None` with the error recorded (quoting the URL without credentials): an
    /// invalid value never reaches the layer.
    fn checked_url(&mut self, owner: Owner, method: &str, url: String) -> Option<String> {
        match parse::url(&url) {
            Ok(()) => Some(url),
            Err(reason) => {
                let error = Error::invalid(method, redact::url(&url), reason);
                self.problems.push(owner, error);
                None
            }
        }
    }

    /// `value` if `check` accepts it, else `None` with the error recorded.
    fn checked<T: std::fmt::Debug>(
        &mut self,
        method: &str,
        value: T,
        check: impl FnOnce(&T) -> Result<(), String>,
    ) -> Option<T> {
        self.checked_for(Owner::All, method, value, check)
    }

    /// [`ConfigBuilder::checked`] for an option of the OTLP exporter.
    fn checked_otlp<T: std::fmt::Debug>(
        &mut self,
        method: &str,
        value: T,
        check: impl FnOnce(&T) -> Result<(), String>,
    ) -> Option<T> {
        self.checked_for(Owner::Otlp, method, value, check)
    }

    /// [`ConfigBuilder::checked`] for an option of the OTLP logs exporter.
    fn checked_logs_otlp<T: std::fmt::Debug>(
        &mut self,
        method: &str,
        value: T,
        check: impl FnOnce(&T) -> Result<(), String>,
    ) -> Option<T> {
        self.checked_for(Owner::Logs(LogsExporterKind::Otlp), method, value, check)
    }

    fn checked_for<T: std::fmt::Debug>(
        &mut self,
        owner: Owner,
        method: &str,
        value: T,
        check: impl FnOnce(&T) -> Result<(), String>,
    ) -> Option<T> {
        match check(&value) {
            Ok(()) => Some(value),
            Err(reason) => {
                let error = Error::invalid(method, format!("{value:?}"), reason);
                self.problems.push(owner, error);
                None
            }
        }
    }
}

fn positive(duration: &Duration) -> Result<(), String> {
    if duration.is_zero() {
        Err("must be positive".to_owned())
    } else {
        Ok(())
    }
}

fn at_least_one(size: &usize) -> Result<(), String> {
    if *size == 0 {
        Err("must be at least 1".to_owned())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
