//! [`ConfigBuilder`]: configuration in code, over the environment.

use std::time::Duration;

use super::layer::{self, Endpoint, Layer};
use super::{
    env, parse, yaml, Compression, Config, ExporterKind, LogFormat, PropagatorKind, Protocol,
    SamplerConfig, SpanExporters,
};
use crate::Error;
use opentelemetry_sdk::trace::SpanExporter;

/// Sets options in code. Values set here win over a YAML file given with [`ConfigBuilder::with_yaml_file`], which
/// wins over the environment, which wins over the spec defaults.
///
/// ```
/// use traced_runtime::config::{Config, ExporterKind, SamplerConfig};
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
/// # Ok::<(), traced_runtime::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until build() is called"]
pub struct ConfigBuilder {
    layer: Layer,
    /// Errors found by setters that cannot report them yet; `build` returns them.
    errors: Vec<Error>,
    without_env: bool,
    /// YAML text and its name, read at `build` so that `${VAR}` uses the same environment.
    yaml: Option<(String, String)>,
    /// Exporters given in code; no environment variable or file can name them.
    span_exporters: SpanExporters,
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
    /// let config = traced_runtime::config::Config::builder()
    ///     .with_yaml_file("traced.yaml")
    ///     .with_service_version(env!("CARGO_PKG_VERSION"))
    ///     .build()?;
    /// # Ok::<(), traced_runtime::Error>(())
    /// ```
    pub fn with_yaml_file(mut self, path: impl AsRef<std::path::Path>) -> Self {
        let path = path.as_ref().display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => self.yaml = Some((text, path)),
            Err(e) => self.errors.push(Error::File {
                file: path,
                reason: e.to_string(),
            }),
        }
        self
    }

    /// Like [`ConfigBuilder::with_yaml_file`], with the YAML text given; `origin` names it in errors.
    pub fn with_yaml_str(mut self, text: impl Into<String>, origin: impl Into<String>) -> Self {
        self.yaml = Some((text.into(), origin.into()));
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
        parse::upsert(
            &mut self.layer.resource_attributes,
            key.into(),
            value.into(),
        );
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

    /// Adds an `opentelemetry_sdk` span exporter of your own, run beside the exporters `OTEL_TRACES_EXPORTER`
    /// or [`ConfigBuilder::with_exporters`] name (set those to none to use it alone).
    ///
    /// ```
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use traced_runtime::config::Config;
    ///
    /// let spans = InMemorySpanExporter::default();
    /// let config = Config::builder()
    ///     .without_env()
    ///     .with_exporters([])
    ///     .with_span_exporter(spans.clone())
    ///     .build()?;
    /// assert_eq!(config.span_exporters.len(), 1);
    /// # Ok::<(), traced_runtime::Error>(())
    /// ```
    pub fn with_span_exporter<E: SpanExporter + 'static>(mut self, exporter: E) -> Self {
        self.span_exporters.push(exporter);
        self
    }

    /// The OTLP base URL, like `OTEL_EXPORTER_OTLP_ENDPOINT`: `/v1/traces` is appended for the HTTP protocols.
    pub fn with_otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        if let Some(url) = self.checked_url("with_otlp_endpoint", url.into()) {
            self.layer.endpoint = Some(Endpoint::Base(url));
        }
        self
    }

    /// The full OTLP traces URL, like `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: used as is.
    pub fn with_otlp_traces_endpoint(mut self, url: impl Into<String>) -> Self {
        if let Some(url) = self.checked_url("with_otlp_traces_endpoint", url.into()) {
            self.layer.endpoint = Some(Endpoint::Traces(url));
        }
        self
    }

    /// The OTLP transport.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.layer.protocol = Some(protocol);
        self
    }

    /// Adds a header to every OTLP export, or replaces the value the environment gave it.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        parse::upsert(&mut self.layer.headers, name.into(), value.into());
        self
    }

    /// How long one OTLP request may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        if let Some(timeout) = self.checked("with_timeout", timeout, positive) {
            self.layer.timeout = Some(timeout);
        }
        self
    }

    /// OTLP payload compression; `None` sends uncompressed even if the environment asks for compression.
    pub fn with_compression(mut self, compression: impl Into<Option<Compression>>) -> Self {
        self.layer.compression = Some(compression.into());
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

    /// Maximum length of an attribute value; longer values are truncated.
    pub fn with_attribute_value_length_limit(mut self, limit: usize) -> Self {
        self.layer.attribute_value_length = Some(limit);
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
                .errors
                .push(invalid("with_log_filter", &filter, &reason)),
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
        if let Some(url) = self.checked_url("with_zipkin_endpoint", url.into()) {
            self.layer.zipkin_endpoint = Some(url);
        }
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
        let mut errors = self.errors;
        let mut layers = Vec::with_capacity(3);
        if !self.without_env {
            let (env, env_errors) = env::read(lookup);
            layers.push(env);
            errors.extend(env_errors);
        }
        if let Some((text, origin)) = &self.yaml {
            let (yaml, yaml_errors) = yaml::read(text, origin, lookup);
            layers.push(yaml);
            errors.extend(yaml_errors);
        }
        layers.push(self.layer);
        let mut config = layer::finish(layers, errors)?;
        config.span_exporters = self.span_exporters;
        Ok(config)
    }

    /// A valid URL, or `None` with the error recorded: an invalid value never reaches the layer.
    fn checked_url(&mut self, method: &str, url: String) -> Option<String> {
        match parse::url(&url) {
            Ok(()) => Some(url),
            Err(reason) => {
                self.errors.push(invalid(method, &url, &reason));
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
        match check(&value) {
            Ok(()) => Some(value),
            Err(reason) => {
                self.errors
                    .push(invalid(method, &format!("{value:?}"), &reason));
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

fn invalid(method: &str, value: &str, reason: &str) -> Error {
    Error::InvalidValue {
        option: method.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests;
