//! One source of configuration (environment, YAML file, builder) as a set of optional values, and the merge of
//! such layers into a [`Config`].
//!
//! Keeping each source partial until the end is what makes precedence exact: a value is taken from the highest
//! layer that sets it, and rules that combine several options (the OTLP endpoint depends on the protocol, the
//! batch size on the queue size) run once, on the merged result.

use std::time::Duration;

use super::string_map::StringMap;
use super::{
    warn, BaggageAttributes, BatchConfig, Compression, Config, ExporterKind, LimitsConfig,
    LogFormat, LogLimitsConfig, LogSpanAttributes, LogsConfig, LogsExporterKind, MetricsConfig,
    MetricsExporterKind, OtlpConfig, PropagatorKind, Protocol, RedactionConfig, SamplerConfig,
    SpanExporters, TailSampling, Temporality,
};
use crate::Error;

/// Resource attribute keys that have a dedicated option; they are moved out of the attribute list.
pub(crate) const SERVICE_NAME: &str = "service.name";
pub(crate) const SERVICE_VERSION: &str = "service.version";
pub(crate) const DEPLOYMENT_ENVIRONMENT: &str = "deployment.environment.name";

/// Where the OTLP traces endpoint came from; the two spellings follow different rules.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Endpoint {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: a base URL, `/v1/traces` appended for HTTP protocols.
    Base(String),
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: the full URL, used as is.
    Traces(String),
}

/// Where the OTLP endpoint of a signal after traces came from: the generic base URL (the signal's path appended
/// for HTTP) or the signal's own full URL (used as is).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SignalEndpoint {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    Base(String),
    /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, ...
    Full(String),
}

/// The log record options one source sets. Each source resolves its own signal-specific values over its
/// generic ones (`OTEL_EXPORTER_OTLP_LOGS_PROTOCOL` over `OTEL_EXPORTER_OTLP_PROTOCOL`), so that a higher source
/// still wins as a whole.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LogsLayer {
    pub exporters: Option<Vec<LogsExporterKind>>,
    pub endpoint: Option<SignalEndpoint>,
    pub protocol: Option<Protocol>,
    /// Merged key by key with lower layers.
    pub headers: StringMap,
    pub timeout: Option<Duration>,
    pub compression: Option<Option<Compression>>,
    pub schedule_delay: Option<Duration>,
    pub export_timeout: Option<Duration>,
    pub max_queue_size: Option<usize>,
    pub max_export_batch_size: Option<usize>,
    pub attribute_count: Option<usize>,
    pub attribute_value_length: Option<usize>,
    pub span_attributes: Option<LogSpanAttributes>,
}

impl LogsLayer {
    /// Takes the generic OTLP and limit values of the same source where no logs-specific one is set (YAML and
    /// builder; the environment reads each pair itself).
    pub(crate) fn fall_back_to(&mut self, generic: &Layer) {
        if self.endpoint.is_none() {
            if let Some(Endpoint::Base(url)) = &generic.endpoint {
                self.endpoint = Some(SignalEndpoint::Base(url.clone()));
            }
        }
        self.protocol = self.protocol.or(generic.protocol);
        let mut headers = generic.headers.clone();
        headers.merge(std::mem::take(&mut self.headers));
        self.headers = headers;
        self.timeout = self.timeout.or(generic.timeout);
        self.compression = self.compression.or(generic.compression);
        self.attribute_count = self.attribute_count.or(generic.attribute_count);
        self.attribute_value_length = self
            .attribute_value_length
            .or(generic.attribute_value_length);
    }

    fn overlay(self, higher: LogsLayer) -> LogsLayer {
        let mut headers = self.headers;
        headers.merge(higher.headers);
        LogsLayer {
            exporters: higher.exporters.or(self.exporters),
            endpoint: higher.endpoint.or(self.endpoint),
            protocol: higher.protocol.or(self.protocol),
            headers,
            timeout: higher.timeout.or(self.timeout),
            compression: higher.compression.or(self.compression),
            schedule_delay: higher.schedule_delay.or(self.schedule_delay),
            export_timeout: higher.export_timeout.or(self.export_timeout),
            max_queue_size: higher.max_queue_size.or(self.max_queue_size),
            max_export_batch_size: higher.max_export_batch_size.or(self.max_export_batch_size),
            attribute_count: higher.attribute_count.or(self.attribute_count),
            attribute_value_length: higher
                .attribute_value_length
                .or(self.attribute_value_length),
            span_attributes: higher.span_attributes.or(self.span_attributes),
        }
    }

    fn resolve(self, max_export_bytes: Option<usize>) -> LogsConfig {
        let default = LogsConfig::default();
        let protocol = self.protocol.unwrap_or(default.otlp.protocol);
        let endpoint = match self.endpoint {
            Some(SignalEndpoint::Full(url)) => url,
            Some(SignalEndpoint::Base(url)) => signal_url(&url, protocol, LOGS_PATH),
            None => signal_url(default_base(protocol), protocol, LOGS_PATH),
        };
        LogsConfig {
            exporters: self.exporters.unwrap_or(default.exporters),
            otlp: OtlpConfig {
                endpoint,
                protocol,
                headers: self.headers.into_vec(),
                timeout: self.timeout.unwrap_or(default.otlp.timeout),
                compression: self.compression.unwrap_or(default.otlp.compression),
            },
            batch: BatchConfig {
                max_export_bytes: max_export_bytes.unwrap_or(default.batch.max_export_bytes),
                ..batch(
                    self.schedule_delay,
                    self.export_timeout,
                    self.max_queue_size,
                    self.max_export_batch_size,
                    default.batch,
                )
            },
            limits: LogLimitsConfig {
                attribute_count: self
                    .attribute_count
                    .unwrap_or(default.limits.attribute_count),
                attribute_value_length: self.attribute_value_length,
            },
            span_attributes: self.span_attributes.unwrap_or(default.span_attributes),
        }
    }
}

/// The path the logs are posted to under a base URL.
const LOGS_PATH: &str = "/v1/logs";

/// The values one source sets. `None` means "this source says nothing".
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Layer {
    pub disabled: Option<bool>,
    pub service_name: Option<String>,
    pub service_version: Option<String>,
    pub deployment_environment: Option<String>,
    /// Merged key by key with lower layers.
    pub resource_attributes: StringMap,
    pub exporters: Option<Vec<ExporterKind>>,
    /// Exporters given in code: without exporters named by any layer, they replace the default `otlp`.
    pub span_exporters: SpanExporters,
    pub endpoint: Option<Endpoint>,
    pub protocol: Option<Protocol>,
    /// Merged key by key with lower layers.
    pub headers: StringMap,
    pub timeout: Option<Duration>,
    pub compression: Option<Option<Compression>>,
    pub zipkin_endpoint: Option<String>,
    pub propagators: Option<Vec<PropagatorKind>>,
    pub baggage_attributes: Option<BaggageAttributes>,
    pub sampler: Option<SamplerConfig>,
    pub tail_sampling: Option<TailSampling>,
    pub schedule_delay: Option<Duration>,
    pub export_timeout: Option<Duration>,
    pub max_queue_size: Option<usize>,
    pub max_export_batch_size: Option<usize>,
    pub max_export_bytes: Option<usize>,
    pub shutdown_timeout: Option<Duration>,
    pub attribute_value_length: Option<usize>,
    pub attribute_count: Option<usize>,
    pub span_attribute_count: Option<usize>,
    pub span_event_count: Option<usize>,
    pub span_link_count: Option<usize>,
    pub redaction: Option<bool>,
    /// Added to those of lower layers.
    pub redact_keys: Vec<String>,
    pub log_filter: Option<String>,
    pub log_format: Option<LogFormat>,
    pub logs: LogsLayer,
    pub metrics: MetricsLayer,
}

/// The OTLP options of one signal, or the generic ones every signal falls back to.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct OtlpLayer {
    pub endpoint: Option<Endpoint>,
    pub protocol: Option<Protocol>,
    /// Merged key by key with lower layers.
    pub headers: StringMap,
    pub timeout: Option<Duration>,
    pub compression: Option<Option<Compression>>,
}

impl OtlpLayer {
    fn overlay(self, higher: OtlpLayer) -> OtlpLayer {
        let mut headers = self.headers;
        headers.merge(higher.headers);
        OtlpLayer {
            endpoint: higher.endpoint.or(self.endpoint),
            protocol: higher.protocol.or(self.protocol),
            headers,
            timeout: higher.timeout.or(self.timeout),
            compression: higher.compression.or(self.compression),
        }
    }
}

/// The metrics options of one source.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MetricsLayer {
    pub exporters: Option<Vec<MetricsExporterKind>>,
    pub export_interval: Option<Duration>,
    pub export_timeout: Option<Duration>,
    /// `OTEL_EXPORTER_OTLP_METRICS_*`, `metrics.otlp`, `with_metrics_*` (an endpoint here is [`Endpoint::Traces`]'s
    /// counterpart: the full URL).
    pub otlp: OtlpLayer,
    /// The generic OTLP options as this source gives them (`OTEL_EXPORTER_OTLP_*`, `exporter.otlp`, `with_otlp_*`),
    /// without the traces-only ones.
    pub generic: OtlpLayer,
    pub temporality: Option<Temporality>,
    pub prometheus_host: Option<String>,
    pub prometheus_port: Option<u16>,
    pub functions: Option<bool>,
}

impl MetricsLayer {
    fn overlay(self, higher: MetricsLayer) -> MetricsLayer {
        MetricsLayer {
            exporters: higher.exporters.or(self.exporters),
            export_interval: higher.export_interval.or(self.export_interval),
            export_timeout: higher.export_timeout.or(self.export_timeout),
            otlp: self.otlp.overlay(higher.otlp),
            generic: self.generic.overlay(higher.generic),
            temporality: higher.temporality.or(self.temporality),
            prometheus_host: higher.prometheus_host.or(self.prometheus_host),
            prometheus_port: higher.prometheus_port.or(self.prometheus_port),
            functions: higher.functions.or(self.functions),
        }
    }

    /// The metrics configuration: each OTLP option from the metrics-specific value, else the generic one, else
    /// the spec default; `/v1/metrics` appended to a base HTTP endpoint. Exporters no source names follow the
    /// traces: `otlp` when the traces go over OTLP (so by default), none when they go only to the console,
    /// Zipkin or an exporter given in code.
    fn resolve(self, traces: &[ExporterKind]) -> MetricsConfig {
        let default = MetricsConfig::default();
        let (otlp, generic) = (self.otlp, self.generic);
        let protocol = otlp
            .protocol
            .or(generic.protocol)
            .unwrap_or(default.otlp.protocol);
        let endpoint = match otlp.endpoint.or(generic.endpoint) {
            Some(Endpoint::Traces(url)) => url,
            Some(Endpoint::Base(url)) => signal_url(&url, protocol, "/v1/metrics"),
            None => default_metrics_endpoint(protocol).to_owned(),
        };
        let mut headers = generic.headers;
        headers.merge(otlp.headers);
        MetricsConfig {
            exporters: self.exporters.unwrap_or_else(|| {
                if traces.contains(&ExporterKind::Otlp) {
                    default.exporters
                } else {
                    Vec::new()
                }
            }),
            export_interval: self.export_interval.unwrap_or(default.export_interval),
            export_timeout: self.export_timeout.unwrap_or(default.export_timeout),
            otlp: OtlpConfig {
                endpoint,
                protocol,
                headers: headers.into_vec(),
                timeout: otlp
                    .timeout
                    .or(generic.timeout)
                    .unwrap_or(default.otlp.timeout),
                compression: otlp
                    .compression
                    .or(generic.compression)
                    .unwrap_or(default.otlp.compression),
            },
            temporality: self.temporality.unwrap_or(default.temporality),
            prometheus_host: self.prometheus_host.unwrap_or(default.prometheus_host),
            prometheus_port: self.prometheus_port.unwrap_or(default.prometheus_port),
            functions: self.functions.unwrap_or(default.functions),
        }
    }
}

impl Layer {
    /// Moves `service.name`, `service.version` and `deployment.environment.name` out of the resource attributes
    /// into their options, unless the option itself is set in this layer (`OTEL_SERVICE_NAME` wins over
    /// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`). Per layer, so that a higher layer's attribute still beats
    /// a lower layer's option.
    fn normalize(mut self) -> Self {
        let name = self.resource_attributes.remove(SERVICE_NAME);
        let version = self.resource_attributes.remove(SERVICE_VERSION);
        let environment = self.resource_attributes.remove(DEPLOYMENT_ENVIRONMENT);
        self.service_name = self.service_name.or(name);
        self.service_version = self.service_version.or(version);
        self.deployment_environment = self.deployment_environment.or(environment);
        self
    }

    /// `self` with every value that `higher` sets replaced by `higher`'s.
    fn overlay(self, higher: Layer) -> Layer {
        let higher = higher.normalize();
        let mut resource_attributes = self.resource_attributes;
        resource_attributes.merge(higher.resource_attributes);
        let mut headers = self.headers;
        headers.merge(higher.headers);
        Layer {
            disabled: higher.disabled.or(self.disabled),
            service_name: higher.service_name.or(self.service_name),
            service_version: higher.service_version.or(self.service_version),
            deployment_environment: higher
                .deployment_environment
                .or(self.deployment_environment),
            resource_attributes,
            exporters: higher.exporters.or(self.exporters),
            span_exporters: if higher.span_exporters.is_empty() {
                self.span_exporters
            } else {
                higher.span_exporters
            },
            endpoint: higher.endpoint.or(self.endpoint),
            protocol: higher.protocol.or(self.protocol),
            headers,
            timeout: higher.timeout.or(self.timeout),
            compression: higher.compression.or(self.compression),
            zipkin_endpoint: higher.zipkin_endpoint.or(self.zipkin_endpoint),
            propagators: higher.propagators.or(self.propagators),
            baggage_attributes: higher.baggage_attributes.or(self.baggage_attributes),
            sampler: higher.sampler.or(self.sampler),
            tail_sampling: higher.tail_sampling.or(self.tail_sampling),
            schedule_delay: higher.schedule_delay.or(self.schedule_delay),
            export_timeout: higher.export_timeout.or(self.export_timeout),
            max_queue_size: higher.max_queue_size.or(self.max_queue_size),
            max_export_batch_size: higher.max_export_batch_size.or(self.max_export_batch_size),
            max_export_bytes: higher.max_export_bytes.or(self.max_export_bytes),
            shutdown_timeout: higher.shutdown_timeout.or(self.shutdown_timeout),
            attribute_value_length: higher
                .attribute_value_length
                .or(self.attribute_value_length),
            attribute_count: higher.attribute_count.or(self.attribute_count),
            span_attribute_count: higher.span_attribute_count.or(self.span_attribute_count),
            span_event_count: higher.span_event_count.or(self.span_event_count),
            span_link_count: higher.span_link_count.or(self.span_link_count),
            redaction: higher.redaction.or(self.redaction),
            redact_keys: {
                let mut keys = self.redact_keys;
                keys.extend(higher.redact_keys);
                keys
            },
            log_filter: higher.log_filter.or(self.log_filter),
            log_format: higher.log_format.or(self.log_format),
            logs: self.logs.overlay(higher.logs),
            metrics: self.metrics.overlay(higher.metrics),
        }
    }
}

/// Whose options a mistake is about: it fails the configuration only if one of them is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The whole configuration.
    #[default]
    All,
    /// One span exporter (`OTEL_EXPORTER_ZIPKIN_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_*`).
    Spans(ExporterKind),
    /// One logs exporter (`OTEL_EXPORTER_OTLP_LOGS_*`, `logs.otlp`).
    Logs(LogsExporterKind),
    /// One metrics exporter (`OTEL_EXPORTER_OTLP_METRICS_*`, `metrics.otlp`).
    Metrics(MetricsExporterKind),
    /// The OTLP exporters of every signal, which share the generic options (`OTEL_EXPORTER_OTLP_*`,
    /// `exporter.otlp`, `with_otlp_endpoint`).
    Otlp,
}

impl Owner {
    /// Why the mistake changes nothing: none of the exporters it is about is used.
    fn unused(self, config: &Config) -> Option<String> {
        let spans = |kind| config.exporters.contains(&kind);
        let logs = |kind| config.logs.exporters.contains(&kind);
        let metrics = |kind| config.metrics.exporters.contains(&kind);
        match self {
            Owner::All => None,
            Owner::Spans(kind) => (!spans(kind)).then(|| format!("the {} exporter", kind.name())),
            Owner::Logs(kind) => {
                (!logs(kind)).then(|| format!("the {} logs exporter", kind.name()))
            }
            Owner::Metrics(kind) => {
                (!metrics(kind)).then(|| format!("the {} metrics exporter", kind.name()))
            }
            Owner::Otlp => (!spans(ExporterKind::Otlp)
                && !logs(LogsExporterKind::Otlp)
                && !metrics(MetricsExporterKind::Otlp))
            .then(|| "the otlp exporter".to_owned()),
        }
    }
}

/// The mistakes the sources found, each with the exporters it concerns.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<(Owner, Error)>);

impl Problems {
    /// A mistake about `owner`'s options. A generic variable is read once per signal: reported once.
    pub(crate) fn push(&mut self, owner: Owner, error: Error) {
        let message = error.to_string();
        if !self
            .0
            .iter()
            .any(|(o, e)| *o == owner && e.to_string() == message)
        {
            self.0.push((owner, error));
        }
    }

    /// A mistake about the whole configuration.
    pub(crate) fn error(&mut self, error: Error) {
        self.push(Owner::All, error);
    }

    pub(crate) fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }
}

/// Merges layers (lowest precedence first) and reports the mistakes their sources found, all at once.
///
/// `OTEL_SDK_DISABLED` is a kill switch: when the merged result is disabled, errors elsewhere are only warned
/// about, so that switching tracing off always works, even around a configuration mistake. Likewise the options
/// of an exporter that is not used (a bad OTLP endpoint with `OTEL_TRACES_EXPORTER=console` and
/// `OTEL_LOGS_EXPORTER=console`) are only warned about: they change nothing.
pub(crate) fn finish(
    layers: impl IntoIterator<Item = Layer>,
    problems: Problems,
) -> Result<Config, Error> {
    let mut config = resolve(layers);
    let mut errors = Vec::new();
    for (owner, error) in problems.0 {
        if config.disabled {
            warn::warn_once(&format!("{error} (ignored: tracing is disabled)"));
        } else if let Some(unused) = owner.unused(&config) {
            warn::warn_once(&format!("{error} (ignored: {unused} is not used)"));
        } else {
            errors.push(error);
        }
    }
    Error::collect(errors)?;
    bound_resource(&mut config);
    Ok(config)
}

/// At most [`LimitsConfig::attribute_count`] resource attributes are kept, the first ones: every export request
/// carries the resource, and a collector refuses a request over its size limit.
fn bound_resource(config: &mut Config) {
    let limit = config.limits.attribute_count;
    let count = config.resource_attributes.len();
    if count > limit {
        config.resource_attributes.truncate(limit);
        warn::warn_once(&format!(
            "{count} resource attributes: keeping the first {limit} (the attribute count limit, \
             OTEL_ATTRIBUTE_COUNT_LIMIT)"
        ));
    }
}

/// Merges layers, lowest precedence first, over the spec defaults. Values are already validated by their source.
pub(crate) fn resolve(layers: impl IntoIterator<Item = Layer>) -> Config {
    let merged = layers.into_iter().fold(Layer::default(), Layer::overlay);
    let default = Config::default();
    let protocol = merged.protocol.unwrap_or(default.otlp.protocol);
    // An exporter given in code replaces the default one, unless some source named the exporters.
    let exporters = merged
        .exporters
        .unwrap_or(if merged.span_exporters.is_empty() {
            default.exporters.clone()
        } else {
            Vec::new()
        });
    let endpoint = match merged.endpoint {
        Some(Endpoint::Traces(url)) => url,
        Some(Endpoint::Base(url)) => traces_url(&url, protocol),
        None => default_endpoint(protocol).to_owned(),
    };
    Config {
        disabled: merged.disabled.unwrap_or(default.disabled),
        service_name: merged.service_name,
        service_version: merged.service_version,
        deployment_environment: merged.deployment_environment,
        resource_attributes: merged.resource_attributes.into_vec(),
        metrics: merged.metrics.resolve(&exporters),
        exporters,
        span_exporters: merged.span_exporters,
        otlp: OtlpConfig {
            endpoint,
            protocol,
            headers: merged.headers.into_vec(),
            timeout: merged.timeout.unwrap_or(default.otlp.timeout),
            compression: merged.compression.unwrap_or(default.otlp.compression),
        },
        zipkin_endpoint: merged.zipkin_endpoint.unwrap_or(default.zipkin_endpoint),
        propagators: merged.propagators.unwrap_or(default.propagators),
        baggage_attributes: merged
            .baggage_attributes
            .unwrap_or(default.baggage_attributes),
        sampler: merged.sampler.unwrap_or(default.sampler),
        tail_sampling: merged.tail_sampling,
        batch: BatchConfig {
            max_export_bytes: merged
                .max_export_bytes
                .unwrap_or(default.batch.max_export_bytes),
            ..batch(
                merged.schedule_delay,
                merged.export_timeout,
                merged.max_queue_size,
                merged.max_export_batch_size,
                default.batch,
            )
        },
        shutdown_timeout: merged.shutdown_timeout.unwrap_or(default.shutdown_timeout),
        limits: LimitsConfig {
            attribute_value_length: merged
                .attribute_value_length
                .or(default.limits.attribute_value_length),
            attribute_count: merged
                .attribute_count
                .unwrap_or(default.limits.attribute_count),
            // The spec: the span limit falls back to the general one.
            span_attribute_count: merged
                .span_attribute_count
                .or(merged.attribute_count)
                .unwrap_or(default.limits.span_attribute_count),
            span_event_count: merged
                .span_event_count
                .unwrap_or(default.limits.span_event_count),
            span_link_count: merged
                .span_link_count
                .unwrap_or(default.limits.span_link_count),
        },
        redaction: RedactionConfig {
            enabled: merged.redaction.unwrap_or(default.redaction.enabled),
            keys: merged.redact_keys,
        },
        log_filter: merged.log_filter.unwrap_or(default.log_filter),
        log_format: merged.log_format.unwrap_or(default.log_format),
        // One size bound for every OTLP request, whatever its signal.
        logs: merged.logs.resolve(merged.max_export_bytes),
    }
}

/// Batch settings over `default`; the spec: the batch size must be less than or equal to the queue size.
fn batch(
    schedule_delay: Option<Duration>,
    export_timeout: Option<Duration>,
    max_queue_size: Option<usize>,
    max_export_batch_size: Option<usize>,
    default: BatchConfig,
) -> BatchConfig {
    let max_queue_size = max_queue_size.unwrap_or(default.max_queue_size);
    BatchConfig {
        schedule_delay: schedule_delay.unwrap_or(default.schedule_delay),
        export_timeout: export_timeout.unwrap_or(default.export_timeout),
        max_queue_size,
        max_export_batch_size: max_export_batch_size
            .unwrap_or(default.max_export_batch_size)
            .min(max_queue_size),
        max_export_bytes: default.max_export_bytes,
    }
}

/// The spec default endpoint of each protocol.
pub(crate) fn default_endpoint(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Grpc => "http://localhost:4317",
        Protocol::HttpProtobuf | Protocol::HttpJson => "http://localhost:4318/v1/traces",
    }
}

/// The spec default metrics endpoint of each protocol.
pub(crate) fn default_metrics_endpoint(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Grpc => "http://localhost:4317",
        Protocol::HttpProtobuf | Protocol::HttpJson => "http://localhost:4318/v1/metrics",
    }
}

/// The traces URL for a base endpoint: HTTP protocols post to `<base>/v1/traces`, gRPC uses the base as is.
fn traces_url(base: &str, protocol: Protocol) -> String {
    signal_url(base, protocol, "/v1/traces")
}

/// A signal's URL under a base endpoint: `<base><path>` for the HTTP protocols, the base as is for gRPC.
fn signal_url(base: &str, protocol: Protocol, path: &str) -> String {
    match protocol {
        Protocol::Grpc => base.to_owned(),
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            format!("{}{path}", base.trim_end_matches('/'))
        }
    }
}

/// The spec default base endpoint of each protocol.
fn default_base(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Grpc => "http://localhost:4317",
        Protocol::HttpProtobuf | Protocol::HttpJson => "http://localhost:4318",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(pairs: &[(&str, &str)]) -> StringMap {
        StringMap::of(pairs)
    }

    fn layer_with(f: impl FnOnce(&mut Layer)) -> Layer {
        let mut layer = Layer::default();
        f(&mut layer);
        layer
    }

    #[test]
    fn no_layer_gives_the_spec_defaults() {
        assert_eq!(resolve([]), Config::default());
    }

    #[test]
    fn higher_layer_wins_value_by_value() {
        let low = layer_with(|l| {
            l.service_name = Some("low".into());
            l.timeout = Some(Duration::from_secs(1));
        });
        let high = layer_with(|l| l.service_name = Some("high".into()));
        let config = resolve([low, high]);
        assert_eq!(config.service_name.as_deref(), Some("high"));
        assert_eq!(config.otlp.timeout, Duration::from_secs(1));
    }

    #[test]
    fn key_value_lists_merge_key_by_key() {
        let low = layer_with(|l| l.headers = strings(&[("a", "1"), ("b", "2")]));
        let high = layer_with(|l| l.headers = strings(&[("b", "3"), ("c", "4")]));
        let config = resolve([low, high]);
        assert_eq!(
            config.otlp.headers,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "3".into()),
                ("c".into(), "4".into())
            ]
        );
    }

    #[test]
    fn dedicated_attributes_move_out_of_the_resource() {
        let env = layer_with(|l| {
            l.service_name = Some("from-option".into());
            l.resource_attributes = strings(&[
                (SERVICE_NAME, "from-attribute"),
                (SERVICE_VERSION, "1.0"),
                (DEPLOYMENT_ENVIRONMENT, "prod"),
                ("host.name", "h"),
            ]);
        });
        let config = resolve([env.clone()]);
        assert_eq!(config.service_name.as_deref(), Some("from-option"));
        assert_eq!(config.service_version.as_deref(), Some("1.0"));
        assert_eq!(config.deployment_environment.as_deref(), Some("prod"));
        assert_eq!(
            config.resource_attributes,
            vec![("host.name".into(), "h".into())]
        );

        // A higher layer's attribute beats a lower layer's option.
        let code = layer_with(|l| l.resource_attributes = strings(&[(SERVICE_NAME, "from-code")]));
        assert_eq!(
            resolve([env, code]).service_name.as_deref(),
            Some("from-code")
        );
    }

    #[test]
    fn endpoint_follows_the_protocol() {
        let base = |url: &str, protocol| {
            resolve([layer_with(|l| {
                l.endpoint = Some(Endpoint::Base(url.into()));
                l.protocol = Some(protocol);
            })])
            .otlp
            .endpoint
        };
        assert_eq!(
            base("http://c:4318", Protocol::HttpProtobuf),
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            base("http://c:4318/", Protocol::HttpJson),
            "http://c:4318/v1/traces"
        );
        assert_eq!(base("http://c:4317", Protocol::Grpc), "http://c:4317");
        let traces = resolve([layer_with(|l| {
            l.endpoint = Some(Endpoint::Traces("http://c/x".into()))
        })]);
        assert_eq!(traces.otlp.endpoint, "http://c/x");
        let grpc = resolve([layer_with(|l| l.protocol = Some(Protocol::Grpc))]);
        assert_eq!(grpc.otlp.endpoint, "http://localhost:4317");
    }

    #[test]
    fn errors_fail_unless_disabled() {
        let error = || Error::InvalidValue {
            option: "X".into(),
            value: "y".into(),
            reason: "z".into(),
        };
        let problems = |errors: Vec<Error>| {
            let mut problems = Problems::default();
            errors.into_iter().for_each(|error| problems.error(error));
            problems
        };
        assert!(finish([Layer::default()], problems(vec![error()])).is_err());
        assert!(finish([Layer::default()], problems(vec![])).is_ok());
        let disabled = layer_with(|l| l.disabled = Some(true));
        assert!(
            finish([disabled], problems(vec![error(), error()]))
                .unwrap()
                .disabled
        );
    }

    #[test]
    fn logs_follow_their_own_variables_over_the_generic_ones() {
        let config = resolve([layer_with(|l| {
            l.endpoint = Some(Endpoint::Traces("http://t/v1/traces".into()));
            l.logs.endpoint = Some(SignalEndpoint::Base("http://c:4318/".into()));
            l.logs.max_queue_size = Some(10);
        })]);
        assert_eq!(config.logs.otlp.endpoint, "http://c:4318/v1/logs");
        assert_eq!(config.logs.batch.max_export_batch_size, 10);
        assert_eq!(
            config.logs.batch.schedule_delay,
            Duration::from_millis(1000)
        );
        let grpc = resolve([layer_with(|l| l.logs.protocol = Some(Protocol::Grpc))]);
        assert_eq!(grpc.logs.otlp.endpoint, "http://localhost:4317");
        assert_eq!(grpc.otlp.protocol, Protocol::HttpProtobuf);
        let full = resolve([layer_with(|l| {
            l.logs.endpoint = Some(SignalEndpoint::Full("http://l/x".into()))
        })]);
        assert_eq!(full.logs.otlp.endpoint, "http://l/x");

        let mut yaml = layer_with(|l| {
            l.endpoint = Some(Endpoint::Base("http://base".into()));
            l.protocol = Some(Protocol::HttpJson);
            l.headers = strings(&[("a", "1"), ("b", "2")]);
            l.logs.headers = strings(&[("b", "3")]);
        });
        let generic = yaml.clone();
        yaml.logs.fall_back_to(&generic);
        let config = resolve([yaml]);
        assert_eq!(config.logs.otlp.endpoint, "http://base/v1/logs");
        assert_eq!(config.logs.otlp.protocol, Protocol::HttpJson);
        assert_eq!(
            config.logs.otlp.headers,
            vec![("a".into(), "1".into()), ("b".into(), "3".into())]
        );
    }

    #[test]
    fn batch_size_is_clamped_to_the_queue() {
        let config = resolve([layer_with(|l| l.max_queue_size = Some(100))]);
        assert_eq!(config.batch.max_queue_size, 100);
        assert_eq!(config.batch.max_export_batch_size, 100);
    }
}
