//! One source of configuration (environment, YAML file, builder) as a set of optional values, and the merge of
//! such layers into a [`Config`].
//!
//! Keeping each source partial until the end is what makes precedence exact: a value is taken from the highest
//! layer that sets it, and rules that combine several options (the OTLP endpoint depends on the protocol, the
//! batch size on the queue size) run once, on the merged result.

use std::time::Duration;

use super::parse;
use super::{
    BatchConfig, Compression, Config, ExporterKind, LimitsConfig, LogFormat, OtlpConfig,
    PropagatorKind, Protocol, RedactionConfig, SamplerConfig,
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

/// The values one source sets. `None` means "this source says nothing".
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Layer {
    pub disabled: Option<bool>,
    pub service_name: Option<String>,
    pub service_version: Option<String>,
    pub deployment_environment: Option<String>,
    /// Merged key by key with lower layers.
    pub resource_attributes: Vec<(String, String)>,
    pub exporters: Option<Vec<ExporterKind>>,
    pub endpoint: Option<Endpoint>,
    pub protocol: Option<Protocol>,
    /// Merged key by key with lower layers.
    pub headers: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    pub compression: Option<Option<Compression>>,
    pub zipkin_endpoint: Option<String>,
    pub propagators: Option<Vec<PropagatorKind>>,
    pub sampler: Option<SamplerConfig>,
    pub schedule_delay: Option<Duration>,
    pub export_timeout: Option<Duration>,
    pub max_queue_size: Option<usize>,
    pub max_export_batch_size: Option<usize>,
    pub attribute_value_length: Option<usize>,
    pub span_attribute_count: Option<usize>,
    pub span_event_count: Option<usize>,
    pub span_link_count: Option<usize>,
    pub redaction: Option<bool>,
    /// Added to those of lower layers.
    pub redact_keys: Vec<String>,
    pub log_filter: Option<String>,
    pub log_format: Option<LogFormat>,
}

impl Layer {
    /// Moves `service.name`, `service.version` and `deployment.environment.name` out of the resource attributes
    /// into their options, unless the option itself is set in this layer (`OTEL_SERVICE_NAME` wins over
    /// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`). Per layer, so that a higher layer's attribute still beats
    /// a lower layer's option.
    fn normalize(mut self) -> Self {
        let mut take = |key: &str| {
            let pos = self
                .resource_attributes
                .iter()
                .position(|(k, _)| k == key)?;
            Some(self.resource_attributes.remove(pos).1)
        };
        let name = take(SERVICE_NAME);
        let version = take(SERVICE_VERSION);
        let environment = take(DEPLOYMENT_ENVIRONMENT);
        self.service_name = self.service_name.or(name);
        self.service_version = self.service_version.or(version);
        self.deployment_environment = self.deployment_environment.or(environment);
        self
    }

    /// `self` with every value that `higher` sets replaced by `higher`'s.
    fn overlay(self, higher: Layer) -> Layer {
        let higher = higher.normalize();
        let mut resource_attributes = self.resource_attributes;
        for (k, v) in higher.resource_attributes {
            parse::upsert(&mut resource_attributes, k, v);
        }
        let mut headers = self.headers;
        for (k, v) in higher.headers {
            parse::upsert(&mut headers, k, v);
        }
        Layer {
            disabled: higher.disabled.or(self.disabled),
            service_name: higher.service_name.or(self.service_name),
            service_version: higher.service_version.or(self.service_version),
            deployment_environment: higher
                .deployment_environment
                .or(self.deployment_environment),
            resource_attributes,
            exporters: higher.exporters.or(self.exporters),
            endpoint: higher.endpoint.or(self.endpoint),
            protocol: higher.protocol.or(self.protocol),
            headers,
            timeout: higher.timeout.or(self.timeout),
            compression: higher.compression.or(self.compression),
            zipkin_endpoint: higher.zipkin_endpoint.or(self.zipkin_endpoint),
            propagators: higher.propagators.or(self.propagators),
            sampler: higher.sampler.or(self.sampler),
            schedule_delay: higher.schedule_delay.or(self.schedule_delay),
            export_timeout: higher.export_timeout.or(self.export_timeout),
            max_queue_size: higher.max_queue_size.or(self.max_queue_size),
            max_export_batch_size: higher.max_export_batch_size.or(self.max_export_batch_size),
            attribute_value_length: higher
                .attribute_value_length
                .or(self.attribute_value_length),
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
        }
    }
}

/// Merges layers (lowest precedence first) and reports the errors their sources found, all at once.
///
/// `OTEL_SDK_DISABLED` is a kill switch: when the merged result is disabled, errors elsewhere are only warned
/// about, so that switching tracing off always works, even around a configuration mistake.
pub(crate) fn finish(
    layers: impl IntoIterator<Item = Layer>,
    errors: Vec<Error>,
) -> Result<Config, Error> {
    let config = resolve(layers);
    if config.disabled {
        for error in &errors {
            super::env::warn_once(&format!("{error} (ignored: tracing is disabled)"));
        }
        return Ok(config);
    }
    Error::collect(errors)?;
    Ok(config)
}

/// Merges layers, lowest precedence first, over the spec defaults. Values are already validated by their source.
pub(crate) fn resolve(layers: impl IntoIterator<Item = Layer>) -> Config {
    let merged = layers.into_iter().fold(Layer::default(), Layer::overlay);
    let default = Config::default();
    let protocol = merged.protocol.unwrap_or(default.otlp.protocol);
    let endpoint = match merged.endpoint {
        Some(Endpoint::Traces(url)) => url,
        Some(Endpoint::Base(url)) => traces_url(&url, protocol),
        None => default_endpoint(protocol).to_owned(),
    };
    let max_queue_size = merged
        .max_queue_size
        .unwrap_or(default.batch.max_queue_size);
    let max_export_batch_size = merged
        .max_export_batch_size
        .unwrap_or(default.batch.max_export_batch_size)
        // The spec: the batch size must be less than or equal to the queue size.
        .min(max_queue_size);
    Config {
        disabled: merged.disabled.unwrap_or(default.disabled),
        service_name: merged.service_name,
        service_version: merged.service_version,
        deployment_environment: merged.deployment_environment,
        resource_attributes: merged.resource_attributes,
        exporters: merged.exporters.unwrap_or(default.exporters),
        span_exporters: default.span_exporters,
        otlp: OtlpConfig {
            endpoint,
            protocol,
            headers: merged.headers,
            timeout: merged.timeout.unwrap_or(default.otlp.timeout),
            compression: merged.compression.unwrap_or(default.otlp.compression),
        },
        zipkin_endpoint: merged.zipkin_endpoint.unwrap_or(default.zipkin_endpoint),
        propagators: merged.propagators.unwrap_or(default.propagators),
        sampler: merged.sampler.unwrap_or(default.sampler),
        batch: BatchConfig {
            schedule_delay: merged
                .schedule_delay
                .unwrap_or(default.batch.schedule_delay),
            export_timeout: merged
                .export_timeout
                .unwrap_or(default.batch.export_timeout),
            max_queue_size,
            max_export_batch_size,
        },
        limits: LimitsConfig {
            attribute_value_length: merged
                .attribute_value_length
                .or(default.limits.attribute_value_length),
            span_attribute_count: merged
                .span_attribute_count
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
    }
}

/// The spec default endpoint of each protocol.
pub(crate) fn default_endpoint(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Grpc => "http://localhost:4317",
        Protocol::HttpProtobuf | Protocol::HttpJson => "http://localhost:4318/v1/traces",
    }
}

/// The traces URL for a base endpoint: HTTP protocols post to `<base>/v1/traces`, gRPC uses the base as is.
fn traces_url(base: &str, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => base.to_owned(),
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            format!("{}/v1/traces", base.trim_end_matches('/'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let low =
            layer_with(|l| l.headers = vec![("a".into(), "1".into()), ("b".into(), "2".into())]);
        let high =
            layer_with(|l| l.headers = vec![("b".into(), "3".into()), ("c".into(), "4".into())]);
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
            l.resource_attributes = vec![
                (SERVICE_NAME.into(), "from-attribute".into()),
                (SERVICE_VERSION.into(), "1.0".into()),
                (DEPLOYMENT_ENVIRONMENT.into(), "prod".into()),
                ("host.name".into(), "h".into()),
            ];
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
        let code =
            layer_with(|l| l.resource_attributes = vec![(SERVICE_NAME.into(), "from-code".into())]);
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
        assert!(finish([Layer::default()], vec![error()]).is_err());
        assert!(finish([Layer::default()], vec![]).is_ok());
        let disabled = layer_with(|l| l.disabled = Some(true));
        assert!(finish([disabled], vec![error(), error()]).unwrap().disabled);
    }

    #[test]
    fn batch_size_is_clamped_to_the_queue() {
        let config = resolve([layer_with(|l| l.max_queue_size = Some(100))]);
        assert_eq!(config.batch.max_queue_size, 100);
        assert_eq!(config.batch.max_export_batch_size, 100);
    }
}
