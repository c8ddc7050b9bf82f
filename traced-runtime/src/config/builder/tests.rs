use super::*;
use crate::config::{BatchConfig, LimitsConfig, RedactionConfig};

/// A fake environment.
fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

const ENV: &[(&str, &str)] = &[
    ("OTEL_SERVICE_NAME", "from-env"),
    (
        "OTEL_RESOURCE_ATTRIBUTES",
        "team=env,region=eu,service.version=0.0.1",
    ),
    ("OTEL_TRACES_EXPORTER", "otlp,console"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=env"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
    ("OTEL_TRACES_SAMPLER", "always_off"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
    ("RUST_LOG", "debug"),
];

#[test]
fn environment_fills_what_code_does_not_set() {
    let config = Config::builder()
        .with_log_format(LogFormat::Json)
        .build_with(&env(ENV))
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("from-env"));
    assert_eq!(config.otlp.endpoint, "http://env:4317");
    assert_eq!(config.sampler, SamplerConfig::AlwaysOff);
    assert_eq!(config.log_filter, "debug");
    assert_eq!(config.log_format, LogFormat::Json);
}

#[test]
fn code_wins_over_the_environment() {
    let config = Config::builder()
        .with_service_name("from-code")
        .with_service_version(env!("CARGO_PKG_VERSION"))
        .with_deployment_environment("staging")
        .with_resource_attribute("team", "code")
        .with_exporter(ExporterKind::Zipkin)
        .with_protocol(Protocol::HttpJson)
        .with_otlp_endpoint("http://code:4318")
        .with_header("api-key", "code")
        .with_compression(None)
        .with_sampler(SamplerConfig::TraceIdRatio(0.5))
        .with_batch_max_queue_size(10)
        .with_log_filter("warn")
        .build_with(&env(ENV))
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("from-code"));
    assert_eq!(
        config.service_version.as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(config.deployment_environment.as_deref(), Some("staging"));
    assert_eq!(
        config.resource_attributes,
        [
            ("team".to_owned(), "code".to_owned()),
            ("region".to_owned(), "eu".to_owned())
        ]
    );
    assert_eq!(config.exporters, [ExporterKind::Zipkin]);
    assert_eq!(config.otlp.protocol, Protocol::HttpJson);
    // The base URL follows the protocol set in code.
    assert_eq!(config.otlp.endpoint, "http://code:4318/v1/traces");
    assert_eq!(
        config.otlp.headers,
        [("api-key".to_owned(), "code".to_owned())]
    );
    assert_eq!(config.otlp.compression, None);
    assert_eq!(config.sampler, SamplerConfig::TraceIdRatio(0.5));
    assert_eq!(config.batch.max_queue_size, 10);
    assert_eq!(config.batch.max_export_batch_size, 10);
    assert_eq!(config.log_filter, "warn");
}

#[test]
fn env_protocol_applies_to_a_code_base_endpoint() {
    let config = Config::builder()
        .with_otlp_endpoint("http://code:4317")
        .build_with(&env(ENV))
        .unwrap();
    assert_eq!(config.otlp.endpoint, "http://code:4317");
    let traces = Config::builder()
        .with_protocol(Protocol::HttpProtobuf)
        .with_otlp_traces_endpoint("http://code:4318/custom")
        .build_with(&env(ENV))
        .unwrap();
    assert_eq!(traces.otlp.endpoint, "http://code:4318/custom");
}

#[test]
fn without_env_gives_the_spec_defaults() {
    let config = Config::builder()
        .without_env()
        .build_with(&env(ENV))
        .unwrap();
    assert_eq!(config, Config::default());
    // An invalid environment is not even read.
    let broken = [("OTEL_TRACES_EXPORTER", "kafka")];
    assert!(Config::builder()
        .without_env()
        .build_with(&env(&broken))
        .is_ok());
}

#[test]
fn every_setter_reaches_the_config() {
    let config = Config::builder()
        .without_env()
        .disabled(true)
        .with_exporters([
            ExporterKind::Otlp,
            ExporterKind::Console,
            ExporterKind::Otlp,
        ])
        .with_propagators([PropagatorKind::B3, PropagatorKind::Jaeger])
        .with_timeout(Duration::from_secs(3))
        .with_compression(Compression::Gzip)
        .with_batch_schedule_delay(Duration::from_millis(10))
        .with_batch_export_timeout(Duration::from_millis(20))
        .with_batch_max_queue_size(300)
        .with_batch_max_export_batch_size(30)
        .with_max_export_bytes(1_000_000)
        .with_shutdown_timeout(Duration::from_millis(1500))
        .with_attribute_value_length_limit(64)
        .with_span_attribute_count_limit(1)
        .with_span_event_count_limit(2)
        .with_span_link_count_limit(3)
        .with_zipkin_endpoint("https://zipkin.example/api/v2/spans")
        .build()
        .unwrap();
    assert!(config.disabled);
    assert_eq!(
        config.exporters,
        [ExporterKind::Otlp, ExporterKind::Console]
    );
    assert_eq!(
        config.propagators,
        [PropagatorKind::B3, PropagatorKind::Jaeger]
    );
    assert_eq!(config.otlp.timeout, Duration::from_secs(3));
    assert_eq!(config.otlp.compression, Some(Compression::Gzip));
    assert_eq!(
        config.batch,
        BatchConfig {
            schedule_delay: Duration::from_millis(10),
            export_timeout: Duration::from_millis(20),
            max_queue_size: 300,
            max_export_batch_size: 30,
            max_export_bytes: 1_000_000,
        }
    );
    assert_eq!(config.shutdown_timeout, Duration::from_millis(1500));
    assert_eq!(
        config.limits,
        LimitsConfig {
            attribute_value_length: Some(64),
            attribute_count: 128,
            span_attribute_count: 1,
            span_event_count: 2,
            span_link_count: 3,
        }
    );
    assert_eq!(
        config.zipkin_endpoint,
        "https://zipkin.example/api/v2/spans"
    );
}

#[test]
fn empty_lists_turn_features_off() {
    let config = Config::builder()
        .with_exporters([])
        .with_propagators([])
        .build_with(&env(ENV))
        .unwrap();
    assert!(config.exporters.is_empty());
    assert!(config.propagators.is_empty());
}

#[test]
fn resource_attribute_service_name_in_code_beats_the_env_variable() {
    let config = Config::builder()
        .with_resource_attribute("service.name", "attr-in-code")
        .build_with(&env(ENV))
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("attr-in-code"));
    assert!(config
        .resource_attributes
        .iter()
        .all(|(k, _)| k != "service.name"));
}

#[test]
fn setter_errors_name_the_method_and_value() {
    let cases: Vec<(ConfigBuilder, &str, &str)> = vec![
        (
            Config::builder().with_otlp_endpoint("collector:4318"),
            "with_otlp_endpoint",
            "collector:4318",
        ),
        (
            Config::builder().with_otlp_traces_endpoint("ftp://c"),
            "with_otlp_traces_endpoint",
            "ftp://c",
        ),
        (
            Config::builder()
                .with_exporter(ExporterKind::Zipkin)
                .with_zipkin_endpoint("http://"),
            "with_zipkin_endpoint",
            "http://",
        ),
        (
            Config::builder().with_sampler(SamplerConfig::TraceIdRatio(2.0)),
            "with_sampler",
            "TraceIdRatio(2.0)",
        ),
        (
            Config::builder().with_timeout(Duration::ZERO),
            "with_timeout",
            "0ns",
        ),
        (
            Config::builder().with_batch_export_timeout(Duration::ZERO),
            "with_batch_export_timeout",
            "0ns",
        ),
        (
            Config::builder().with_batch_max_queue_size(0),
            "with_batch_max_queue_size",
            "0",
        ),
        (
            Config::builder().with_batch_max_export_batch_size(0),
            "with_batch_max_export_batch_size",
            "0",
        ),
        (
            Config::builder().with_log_filter("x=loud"),
            "with_log_filter",
            "x=loud",
        ),
    ];
    for (builder, method, value) in cases {
        let message = builder.without_env().build().unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("invalid value {value:?} for {method}:")),
            "{message}"
        );
    }
}

#[test]
fn setter_and_environment_errors_come_together() {
    let err = Config::builder()
        .with_otlp_endpoint("nope")
        .with_sampler(SamplerConfig::ParentBasedTraceIdRatio(-1.0))
        .build_with(&env(&[
            ("OTEL_PROPAGATORS", "tracecontext,xray"),
            ("OTEL_TRACES_EXPORTER", "kafka"),
        ]))
        .unwrap_err();
    let Error::Many(errors) = &err else {
        panic!("expected several errors, got {err}")
    };
    let options: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            Error::InvalidValue { option, .. } => option.as_str(),
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(
        options,
        [
            "with_otlp_endpoint",
            "with_sampler",
            "OTEL_TRACES_EXPORTER",
            "OTEL_PROPAGATORS"
        ]
    );
}

#[test]
fn code_wins_over_yaml_which_wins_over_env() {
    let config = Config::builder()
        .with_yaml_str(
            "service: { name: yaml, version: '${V:-0.9}' }\nsampler: { kind: always_on }",
            "inline",
        )
        .with_service_name("code")
        .build_with(&env(ENV))
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("code"));
    assert_eq!(config.service_version.as_deref(), Some("0.9"));
    assert_eq!(config.sampler, SamplerConfig::AlwaysOn);
    assert_eq!(config.log_filter, "debug");
    assert_eq!(config.otlp.protocol, Protocol::Grpc);
}

#[test]
fn yaml_errors_join_the_builder_errors() {
    let err = Config::builder()
        .with_yaml_str("servce: {}", "inline")
        .with_timeout(Duration::ZERO)
        .without_env()
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "2 configuration errors: invalid value \"0ns\" for with_timeout: must be positive; \
         unknown key \"servce\" in inline:1:1, did you mean \"service\"?"
    );
    let missing = Config::builder()
        .with_yaml_file("/nonexistent/t.yaml")
        .without_env()
        .build()
        .unwrap_err();
    assert!(
        matches!(missing, Error::File { ref file, .. } if file == "/nonexistent/t.yaml"),
        "{missing}"
    );
}

#[test]
fn unknown_service_name_uses_the_executable() {
    let config = Config::builder().without_env().build().unwrap();
    let name = config.service_name_or_default();
    assert!(name.starts_with("unknown_service:traced_runtime"), "{name}");
    let named = Config::builder()
        .without_env()
        .with_service_name("svc")
        .build()
        .unwrap();
    assert_eq!(named.service_name_or_default(), "svc");
}

#[test]
fn disabled_in_code_ignores_errors_and_keeps_invalid_values_out() {
    let config = Config::builder()
        .disabled(true)
        .with_otlp_endpoint("not a url")
        .with_sampler(SamplerConfig::TraceIdRatio(7.0))
        .build_with(&env(&[("OTEL_TRACES_EXPORTER", "kafka")]))
        .unwrap();
    assert!(config.disabled);
    assert_eq!(config.otlp.endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(config.sampler, SamplerConfig::ParentBasedAlwaysOn);
}

#[test]
fn redaction_keys_add_up_and_code_can_turn_it_off() {
    let config = Config::builder()
        .with_redacted_keys(["ssn"])
        .build_with(&env(&[("TRACED_REDACT_KEYS", "iban")]))
        .unwrap();
    assert_eq!(
        config.redaction,
        RedactionConfig {
            enabled: true,
            keys: vec!["iban".into(), "ssn".into()],
        }
    );
    let config = Config::builder()
        .without_redaction()
        .build_with(&env(&[("TRACED_REDACTION", "on")]))
        .unwrap();
    assert!(!config.redaction.enabled);
}

#[test]
fn metrics_setters_win_over_the_environment() {
    use crate::config::{MetricsExporterKind, Temporality};

    let config = Config::builder()
        .with_otlp_endpoint("http://base:4318")
        .with_header("a", "1")
        .with_metrics_header("b", "2")
        .with_metrics_exporters([MetricsExporterKind::Console, MetricsExporterKind::Console])
        .with_metric_export_interval(Duration::from_millis(10))
        .with_metric_export_timeout(Duration::from_millis(20))
        .with_metrics_timeout(Duration::from_millis(30))
        .with_metrics_compression(Compression::Gzip)
        .with_metrics_temporality(Temporality::Delta)
        .with_prometheus_host("0.0.0.0")
        .with_prometheus_port(1234)
        .with_function_metrics(false)
        .build_with(&env(&[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "cumulative",
            ),
            ("TRACED_FUNCTION_METRICS", "on"),
        ]))
        .unwrap();
    let metrics = config.metrics;
    assert_eq!(metrics.exporters, [MetricsExporterKind::Console]);
    assert_eq!(metrics.otlp.endpoint, "http://base:4318/v1/metrics");
    assert_eq!(
        metrics.otlp.headers,
        vec![("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    assert_eq!(metrics.export_interval, Duration::from_millis(10));
    assert_eq!(metrics.export_timeout, Duration::from_millis(20));
    assert_eq!(metrics.otlp.timeout, Duration::from_millis(30));
    assert_eq!(metrics.otlp.compression, Some(Compression::Gzip));
    assert_eq!(metrics.temporality, Temporality::Delta);
    assert_eq!(
        (metrics.prometheus_host.as_str(), metrics.prometheus_port),
        ("0.0.0.0", 1234)
    );
    assert!(!metrics.functions);
    let with_url = Config::builder()
        .without_env()
        .with_otlp_metrics_endpoint("http://m:1/x")
        .with_metrics_protocol(Protocol::HttpJson)
        .build()
        .unwrap();
    assert_eq!(with_url.metrics.otlp.endpoint, "http://m:1/x");
    assert_eq!(with_url.metrics.otlp.protocol, Protocol::HttpJson);
    let text = Config::builder()
        .without_env()
        .with_metric_export_interval(Duration::ZERO)
        .with_prometheus_host("a b")
        .with_otlp_metrics_endpoint("nowhere")
        .build()
        .unwrap_err()
        .to_string();
    for says in [
        "with_metric_export_interval",
        "with_prometheus_host",
        "with_otlp_metrics_endpoint",
    ] {
        assert!(text.contains(says), "{text}");
    }
}

#[test]
fn tail_sampling_in_code_wins_and_is_checked() {
    use crate::config::TailSampling;
    let config = Config::builder()
        .with_tail_sampling(TailSampling::new().keep_ratio(0.5).max_spans(10))
        .build_with(&env(&[("TRACED_TAIL_SAMPLING", "errors")]))
        .unwrap();
    assert_eq!(
        config.tail_sampling,
        Some(TailSampling::new().keep_ratio(0.5).max_spans(10))
    );
    let error = Config::builder()
        .without_env()
        .with_tail_sampling(TailSampling::new().keep_ratio(1.5))
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("invalid value \"TailSampling {")
            && error.contains("for with_tail_sampling: the ratio must be in 0..=1"),
        "{error}"
    );
}

#[test]
fn logs_options_in_code() {
    use crate::config::{LogSpanAttributes, LogsExporterKind};
    let config = Config::builder()
        .without_env()
        .with_otlp_endpoint("http://c:4317")
        .with_protocol(Protocol::Grpc)
        .with_logs_exporters([LogsExporterKind::Console])
        .with_logs_timeout(Duration::from_millis(5))
        .with_logs_batch_schedule_delay(Duration::from_millis(7))
        .with_logs_batch_max_queue_size(3)
        .with_log_record_attribute_count_limit(2)
        .with_all_log_span_attributes()
        .build()
        .unwrap();
    assert_eq!(config.logs.exporters, [LogsExporterKind::Console]);
    assert_eq!(config.logs.otlp.endpoint, "http://c:4317");
    assert_eq!(config.logs.otlp.protocol, Protocol::Grpc);
    assert_eq!(config.logs.otlp.timeout, Duration::from_millis(5));
    assert_eq!(config.logs.batch.schedule_delay, Duration::from_millis(7));
    assert_eq!(config.logs.batch.max_queue_size, 3);
    assert_eq!(config.logs.limits.attribute_count, 2);
    assert_eq!(config.logs.span_attributes, LogSpanAttributes::All);
    let error = Config::builder()
        .without_env()
        .with_logs_batch_max_queue_size(0)
        .with_otlp_logs_endpoint("nope")
        .with_log_span_attributes(["*", "a"])
        .build()
        .unwrap_err()
        .to_string();
    for option in [
        "with_logs_batch_max_queue_size",
        "with_otlp_logs_endpoint",
        "with_log_span_attributes",
    ] {
        assert!(error.contains(option), "{error}");
    }
}

#[test]
fn a_span_exporter_in_code_replaces_the_default_unless_exporters_are_named() {
    use opentelemetry_sdk::trace::InMemorySpanExporter;

    let given = || Config::builder().with_span_exporter(InMemorySpanExporter::default());
    let alone = given().build_with(&env(&[])).unwrap();
    assert!(alone.exporters.is_empty(), "no localhost:4318 beside it");
    assert_eq!(alone.span_exporters.len(), 1);
    let named_in_env = given()
        .build_with(&env(&[("OTEL_TRACES_EXPORTER", "console")]))
        .unwrap();
    assert_eq!(named_in_env.exporters, [ExporterKind::Console]);
    let named_in_yaml = given()
        .with_yaml_str("exporter: { kind: otlp }", "inline")
        .build_with(&env(&[]))
        .unwrap();
    assert_eq!(named_in_yaml.exporters, [ExporterKind::Otlp]);
    let named_in_code = given()
        .with_exporter(ExporterKind::Zipkin)
        .build_with(&env(&[]))
        .unwrap();
    assert_eq!(named_in_code.exporters, [ExporterKind::Zipkin]);
}

#[test]
fn baggage_attributes_from_code_win_and_are_checked() {
    use crate::config::BaggageAttributes;
    let config = Config::builder()
        .with_baggage_attributes(["tenant.id"])
        .build_with(&env(&[("TRACED_BAGGAGE_ATTRIBUTES", "*")]))
        .unwrap();
    assert_eq!(
        config.baggage_attributes,
        BaggageAttributes::Keys(vec!["tenant.id".into()])
    );
    let none: [&str; 0] = [];
    let config = Config::builder()
        .with_baggage_attributes(none)
        .build_with(&env(&[("TRACED_BAGGAGE_ATTRIBUTES", "*")]))
        .unwrap();
    assert_eq!(config.baggage_attributes, BaggageAttributes::None);
    let refused = Config::builder()
        .with_baggage_attributes(["tenant,user"])
        .build_with(&env(&[]))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("with_baggage_attributes"), "{refused}");
}
