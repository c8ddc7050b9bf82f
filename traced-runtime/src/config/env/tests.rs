use std::time::Duration;

use super::*;
use crate::config::{
    BatchConfig, Compression, ExporterKind, LimitsConfig, LogFormat, OtlpConfig, PropagatorKind,
    Protocol, RedactionConfig,
};

/// A fake environment.
fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

fn config(pairs: &[(&str, &str)]) -> Config {
    Config::from_lookup(env(pairs)).unwrap()
}

/// The error for `pairs`, as text.
fn error(pairs: &[(&str, &str)]) -> String {
    Config::from_lookup(env(pairs)).unwrap_err().to_string()
}

fn warnings(pairs: &[(&str, &str)]) -> Vec<String> {
    read_quietly(&env(pairs)).2
}

#[test]
fn empty_environment_gives_every_spec_default() {
    let config = config(&[]);
    assert!(!config.disabled);
    assert_eq!(config.service_name, None);
    assert_eq!(config.service_version, None);
    assert_eq!(config.deployment_environment, None);
    assert!(config.resource_attributes.is_empty());
    assert_eq!(config.exporters, [ExporterKind::Otlp]);
    assert_eq!(config.otlp.endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(config.otlp.protocol, Protocol::HttpProtobuf);
    assert!(config.otlp.headers.is_empty());
    assert_eq!(config.otlp.timeout, Duration::from_millis(10_000));
    assert_eq!(config.otlp.compression, None);
    assert_eq!(config.zipkin_endpoint, "http://localhost:9411/api/v2/spans");
    assert_eq!(
        config.propagators,
        [PropagatorKind::TraceContext, PropagatorKind::Baggage]
    );
    assert_eq!(config.sampler, SamplerConfig::ParentBasedAlwaysOn);
    assert_eq!(config.batch.schedule_delay, Duration::from_millis(5_000));
    assert_eq!(config.batch.export_timeout, Duration::from_millis(30_000));
    assert_eq!(config.batch.max_queue_size, 2048);
    assert_eq!(config.batch.max_export_batch_size, 512);
    assert_eq!(config.limits.attribute_value_length, None);
    assert_eq!(config.limits.span_attribute_count, 128);
    assert_eq!(config.limits.span_event_count, 128);
    assert_eq!(config.limits.span_link_count, 128);
    assert_eq!(config.log_filter, "info");
    assert_eq!(config.log_format, LogFormat::Compact);
}

#[test]
fn empty_values_count_as_unset() {
    let all_empty: Vec<(&str, &str)> = ALL.iter().map(|name| (*name, "  ")).collect();
    assert_eq!(config(&all_empty), Config::default());
}

/// Every variable this module reads.
const ALL: &[&str] = &[
    OTEL_SDK_DISABLED,
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_TRACES_EXPORTER,
    OTEL_PROPAGATORS,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
    OTEL_BSP_SCHEDULE_DELAY,
    OTEL_BSP_EXPORT_TIMEOUT,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    OTEL_EXPORTER_OTLP_COMPRESSION,
    OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_EVENT_COUNT_LIMIT,
    OTEL_SPAN_LINK_COUNT_LIMIT,
    OTEL_EXPORTER_ZIPKIN_ENDPOINT,
    RUST_LOG,
    TRACED_LOG_FORMAT,
];

#[test]
fn sdk_disabled_only_by_true() {
    for yes in ["true", "TRUE", "True", " true "] {
        assert!(config(&[(OTEL_SDK_DISABLED, yes)]).disabled, "{yes:?}");
    }
    for no in ["false", "1", "yes", "on"] {
        assert!(!config(&[(OTEL_SDK_DISABLED, no)]).disabled, "{no:?}");
    }
    assert!(warnings(&[(OTEL_SDK_DISABLED, "false")]).is_empty());
    let warned = warnings(&[(OTEL_SDK_DISABLED, "1")]);
    assert!(warned[0].contains("OTEL_SDK_DISABLED=\"1\""), "{warned:?}");
}

#[test]
fn service_name_wins_over_the_resource_attribute() {
    let both = config(&[
        (OTEL_SERVICE_NAME, "checkout"),
        (
            OTEL_RESOURCE_ATTRIBUTES,
            "service.name=ignored,team=payments",
        ),
    ]);
    assert_eq!(both.service_name.as_deref(), Some("checkout"));
    assert_eq!(
        both.resource_attributes,
        [("team".to_owned(), "payments".to_owned())]
    );

    let attribute_only = config(&[(OTEL_RESOURCE_ATTRIBUTES, "service.name=from-attr")]);
    assert_eq!(attribute_only.service_name.as_deref(), Some("from-attr"));
    assert!(attribute_only.resource_attributes.is_empty());
}

#[test]
fn resource_attributes_are_decoded_and_dedicated_keys_extracted() {
    let config = config(&[(
        OTEL_RESOURCE_ATTRIBUTES,
        "service.version=1.2.3, deployment.environment.name=prod,host.name=a%2Cb,note=x%3Dy%20z",
    )]);
    assert_eq!(config.service_version.as_deref(), Some("1.2.3"));
    assert_eq!(config.deployment_environment.as_deref(), Some("prod"));
    assert_eq!(
        config.resource_attributes,
        [
            ("host.name".to_owned(), "a,b".to_owned()),
            ("note".to_owned(), "x=y z".to_owned())
        ]
    );
    let message = error(&[(OTEL_RESOURCE_ATTRIBUTES, "a=1,broken")]);
    assert!(message.contains("OTEL_RESOURCE_ATTRIBUTES"), "{message}");
    assert!(message.contains("\"a=1,broken\""), "{message}");
}

#[test]
fn exporters() {
    assert_eq!(
        config(&[(OTEL_TRACES_EXPORTER, "console")]).exporters,
        [ExporterKind::Console]
    );
    assert_eq!(
        config(&[(OTEL_TRACES_EXPORTER, "otlp,zipkin")]).exporters,
        [ExporterKind::Otlp, ExporterKind::Zipkin]
    );
    assert!(config(&[(OTEL_TRACES_EXPORTER, "none")])
        .exporters
        .is_empty());
    let message = error(&[(OTEL_TRACES_EXPORTER, "otlp,jaegr")]);
    assert!(
        message.contains("OTEL_TRACES_EXPORTER") && message.contains("jaegr"),
        "{message}"
    );
}

#[test]
fn propagators() {
    assert_eq!(
        config(&[(OTEL_PROPAGATORS, "b3multi,jaeger")]).propagators,
        [PropagatorKind::B3Multi, PropagatorKind::Jaeger]
    );
    assert_eq!(
        config(&[(OTEL_PROPAGATORS, "b3")]).propagators,
        [PropagatorKind::B3]
    );
    assert!(config(&[(OTEL_PROPAGATORS, "none")]).propagators.is_empty());
    let message = error(&[(OTEL_PROPAGATORS, "tracecontext,xray")]);
    assert!(
        message.contains("OTEL_PROPAGATORS") && message.contains("xray"),
        "{message}"
    );
}

#[test]
fn samplers_and_their_argument() {
    let sampler = |pairs: &[(&str, &str)]| config(pairs).sampler;
    assert_eq!(
        sampler(&[(OTEL_TRACES_SAMPLER, "always_on")]),
        SamplerConfig::AlwaysOn
    );
    assert_eq!(
        sampler(&[(OTEL_TRACES_SAMPLER, "always_off")]),
        SamplerConfig::AlwaysOff
    );
    assert_eq!(
        sampler(&[(OTEL_TRACES_SAMPLER, "parentbased_always_off")]),
        SamplerConfig::ParentBasedAlwaysOff
    );
    assert_eq!(
        sampler(&[(OTEL_TRACES_SAMPLER, "parentbased_always_on")]),
        SamplerConfig::ParentBasedAlwaysOn
    );
    assert_eq!(
        sampler(&[(OTEL_TRACES_SAMPLER, "traceidratio")]),
        SamplerConfig::TraceIdRatio(1.0)
    );
    assert_eq!(
        sampler(&[
            (OTEL_TRACES_SAMPLER, "traceidratio"),
            (OTEL_TRACES_SAMPLER_ARG, "0.25")
        ]),
        SamplerConfig::TraceIdRatio(0.25)
    );
    assert_eq!(
        sampler(&[
            (OTEL_TRACES_SAMPLER, "parentbased_traceidratio"),
            (OTEL_TRACES_SAMPLER_ARG, "0")
        ]),
        SamplerConfig::ParentBasedTraceIdRatio(0.0)
    );
    // The argument of a sampler that takes none is ignored, silently.
    let always_on = [
        (OTEL_TRACES_SAMPLER, "always_on"),
        (OTEL_TRACES_SAMPLER_ARG, "0.5"),
    ];
    assert_eq!(sampler(&always_on), SamplerConfig::AlwaysOn);
    assert!(warnings(&always_on).is_empty());

    let message = error(&[(OTEL_TRACES_SAMPLER, "jaeger_remote")]);
    assert!(
        message.contains("OTEL_TRACES_SAMPLER") && message.contains("jaeger_remote"),
        "{message}"
    );
}

#[test]
fn a_bad_sampler_argument_is_warned_about_and_ignored() {
    for bad in ["half", "1.5", "-0.1"] {
        let pairs = [
            (OTEL_TRACES_SAMPLER, "traceidratio"),
            (OTEL_TRACES_SAMPLER_ARG, bad),
        ];
        assert_eq!(
            config(&pairs).sampler,
            SamplerConfig::TraceIdRatio(1.0),
            "{bad}"
        );
        let warned = warnings(&pairs);
        assert_eq!(warned.len(), 1);
        assert!(
            warned[0].contains(&format!("OTEL_TRACES_SAMPLER_ARG=\"{bad}\"")),
            "{warned:?}"
        );
    }
}

#[test]
fn batch_processor_numbers() {
    let config = config(&[
        (OTEL_BSP_SCHEDULE_DELAY, "100"),
        (OTEL_BSP_EXPORT_TIMEOUT, "2000"),
        (OTEL_BSP_MAX_QUEUE_SIZE, "4096"),
        (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "1024"),
    ]);
    assert_eq!(
        config.batch,
        BatchConfig {
            schedule_delay: Duration::from_millis(100),
            export_timeout: Duration::from_millis(2000),
            max_queue_size: 4096,
            max_export_batch_size: 1024,
        }
    );
}

#[test]
fn batch_size_is_clamped_to_the_queue_size() {
    let config = config(&[
        (OTEL_BSP_MAX_QUEUE_SIZE, "64"),
        (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "512"),
    ]);
    assert_eq!(
        (
            config.batch.max_queue_size,
            config.batch.max_export_batch_size
        ),
        (64, 64)
    );
}

#[test]
fn unparseable_numbers_are_warned_about_and_defaulted() {
    let pairs = [
        (OTEL_BSP_SCHEDULE_DELAY, "5s"),
        (OTEL_BSP_EXPORT_TIMEOUT, "0"),
        (OTEL_BSP_MAX_QUEUE_SIZE, "-1"),
        (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "many"),
        (OTEL_EXPORTER_OTLP_TIMEOUT, "10s"),
        (OTEL_SPAN_EVENT_COUNT_LIMIT, "1.5"),
    ];
    let config = config(&pairs);
    assert_eq!(config.batch, BatchConfig::default());
    assert_eq!(config.otlp.timeout, OtlpConfig::default().timeout);
    assert_eq!(config.limits, LimitsConfig::default());
    let warned = warnings(&pairs);
    assert_eq!(warned.len(), pairs.len(), "{warned:?}");
    for (name, value) in pairs {
        let needle = format!("{name}={value:?}");
        assert!(
            warned.iter().any(|w| w.contains(&needle)),
            "no warning for {needle}: {warned:?}"
        );
    }
}

#[test]
fn generic_endpoint_gets_the_traces_path_for_http() {
    let endpoint = |pairs: &[(&str, &str)]| config(pairs).otlp.endpoint;
    assert_eq!(
        endpoint(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318")]),
        "http://collector:4318/v1/traces"
    );
    assert_eq!(
        endpoint(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "https://collector/otlp/")]),
        "https://collector/otlp/v1/traces"
    );
    assert_eq!(
        endpoint(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/json")
        ]),
        "http://collector:4318/v1/traces"
    );
    assert_eq!(
        endpoint(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4317"),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc")
        ]),
        "http://collector:4317"
    );
}

#[test]
fn traces_endpoint_is_used_as_is_and_wins() {
    let config = config(&[
        (OTEL_EXPORTER_OTLP_ENDPOINT, "http://generic:4318"),
        (
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            "http://specific:9999/custom",
        ),
    ]);
    assert_eq!(config.otlp.endpoint, "http://specific:9999/custom");
}

#[test]
fn default_endpoint_follows_the_protocol() {
    assert_eq!(
        config(&[(OTEL_EXPORTER_OTLP_PROTOCOL, "grpc")])
            .otlp
            .endpoint,
        "http://localhost:4317"
    );
    assert_eq!(
        config(&[(OTEL_EXPORTER_OTLP_PROTOCOL, "http/json")])
            .otlp
            .endpoint,
        "http://localhost:4318/v1/traces"
    );
}

#[test]
fn bad_endpoints_are_errors_naming_the_variable() {
    for name in [
        OTEL_EXPORTER_OTLP_ENDPOINT,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
        OTEL_EXPORTER_ZIPKIN_ENDPOINT,
    ] {
        let message = error(&[(name, "collector:4318")]);
        assert!(
            message.starts_with(&format!("invalid value \"collector:4318\" for {name}:")),
            "{message}"
        );
    }
    let message = error(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "grpc://collector")]);
    assert!(
        message.contains("\"grpc\" is not http or https"),
        "{message}"
    );
}

#[test]
fn protocol_traces_variable_wins() {
    assert_eq!(
        config(&[(OTEL_EXPORTER_OTLP_PROTOCOL, "http/json")])
            .otlp
            .protocol,
        Protocol::HttpJson
    );
    let both = config(&[
        (OTEL_EXPORTER_OTLP_PROTOCOL, "http/json"),
        (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "grpc"),
    ]);
    assert_eq!(both.otlp.protocol, Protocol::Grpc);
    let message = error(&[(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "http")]);
    assert!(
        message.contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") && message.contains("\"http\""),
        "{message}"
    );
}

#[test]
fn headers_merge_traces_over_generic_and_decode() {
    let config = config(&[
        (OTEL_EXPORTER_OTLP_HEADERS, "api-key=generic,x-team=a%20b"),
        (OTEL_EXPORTER_OTLP_TRACES_HEADERS, "api-key=traces"),
    ]);
    assert_eq!(
        config.otlp.headers,
        [
            ("api-key".to_owned(), "traces".to_owned()),
            ("x-team".to_owned(), "a b".to_owned())
        ]
    );
    let message = error(&[(OTEL_EXPORTER_OTLP_TRACES_HEADERS, "k=%G0")]);
    assert!(
        message.contains("OTEL_EXPORTER_OTLP_TRACES_HEADERS") && message.contains("k=%G0"),
        "{message}"
    );
}

#[test]
fn timeout_traces_variable_wins() {
    assert_eq!(
        config(&[(OTEL_EXPORTER_OTLP_TIMEOUT, "2500")]).otlp.timeout,
        Duration::from_millis(2500)
    );
    let both = config(&[
        (OTEL_EXPORTER_OTLP_TIMEOUT, "2500"),
        (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, "700"),
    ]);
    assert_eq!(both.otlp.timeout, Duration::from_millis(700));
    // A bad per-signal value falls back to the generic one, not straight to the default.
    let bad = config(&[
        (OTEL_EXPORTER_OTLP_TIMEOUT, "2500"),
        (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, "soon"),
    ]);
    assert_eq!(bad.otlp.timeout, Duration::from_millis(2500));
}

#[test]
fn compression() {
    assert_eq!(
        config(&[(OTEL_EXPORTER_OTLP_COMPRESSION, "gzip")])
            .otlp
            .compression,
        Some(Compression::Gzip)
    );
    assert_eq!(
        config(&[
            (OTEL_EXPORTER_OTLP_COMPRESSION, "gzip"),
            (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "zstd")
        ])
        .otlp
        .compression,
        Some(Compression::Zstd)
    );
    assert_eq!(
        config(&[
            (OTEL_EXPORTER_OTLP_COMPRESSION, "gzip"),
            (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "none")
        ])
        .otlp
        .compression,
        None
    );
    let message = error(&[(OTEL_EXPORTER_OTLP_COMPRESSION, "brotli")]);
    assert!(
        message.contains("OTEL_EXPORTER_OTLP_COMPRESSION") && message.contains("brotli"),
        "{message}"
    );
}

#[test]
fn limits_span_variables_win_over_generic_ones() {
    let generic = config(&[
        (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, "100"),
        (OTEL_ATTRIBUTE_COUNT_LIMIT, "10"),
    ]);
    assert_eq!(generic.limits.attribute_value_length, Some(100));
    assert_eq!(generic.limits.span_attribute_count, 10);
    let specific = config(&[
        (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, "100"),
        (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, "50"),
        (OTEL_ATTRIBUTE_COUNT_LIMIT, "10"),
        (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, "20"),
        (OTEL_SPAN_EVENT_COUNT_LIMIT, "5"),
        (OTEL_SPAN_LINK_COUNT_LIMIT, "6"),
    ]);
    assert_eq!(
        specific.limits,
        LimitsConfig {
            attribute_value_length: Some(50),
            span_attribute_count: 20,
            span_event_count: 5,
            span_link_count: 6,
        }
    );
}

#[test]
fn zipkin_endpoint() {
    assert_eq!(
        config(&[(
            OTEL_EXPORTER_ZIPKIN_ENDPOINT,
            "http://zipkin:9411/api/v2/spans"
        )])
        .zipkin_endpoint,
        "http://zipkin:9411/api/v2/spans"
    );
}

#[test]
fn log_filter_and_format() {
    let config = config(&[(RUST_LOG, "warn,my_app=trace"), (TRACED_LOG_FORMAT, "JSON")]);
    assert_eq!(config.log_filter, "warn,my_app=trace");
    assert_eq!(config.log_format, LogFormat::Json);
    for (format, expected) in [
        ("pretty", LogFormat::Pretty),
        ("compact", LogFormat::Compact),
        ("none", LogFormat::None),
    ] {
        assert_eq!(
            self::config(&[(TRACED_LOG_FORMAT, format)]).log_format,
            expected
        );
    }
    let message = error(&[(TRACED_LOG_FORMAT, "fancy")]);
    assert!(
        message.contains("TRACED_LOG_FORMAT") && message.contains("fancy"),
        "{message}"
    );
    let message = error(&[(RUST_LOG, "my_app=loud")]);
    assert!(
        message.contains("RUST_LOG") && message.contains("my_app=loud"),
        "{message}"
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let err = Config::from_lookup(env(&[
        (OTEL_TRACES_EXPORTER, "kafka"),
        (OTEL_EXPORTER_OTLP_PROTOCOL, "udp"),
        (OTEL_TRACES_SAMPLER, "sometimes"),
    ]))
    .unwrap_err();
    let Error::Many(errors) = &err else {
        panic!("expected several errors, got {err}")
    };
    let options: Vec<String> = errors
        .iter()
        .map(|e| match e {
            Error::InvalidValue { option, .. } => option.clone(),
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(
        options,
        [
            OTEL_TRACES_EXPORTER,
            OTEL_EXPORTER_OTLP_PROTOCOL,
            OTEL_TRACES_SAMPLER
        ]
    );
    assert!(
        err.to_string().starts_with("3 configuration errors: "),
        "{err}"
    );
}

#[test]
fn disabled_sdk_ignores_errors_elsewhere() {
    // A kill switch must work even around a configuration mistake.
    let config = config(&[(OTEL_SDK_DISABLED, "true"), (OTEL_TRACES_EXPORTER, "kafka")]);
    assert!(config.disabled);
    assert_eq!(config.exporters, [ExporterKind::Otlp]);
}

#[test]
fn redaction_is_on_by_default_and_configurable() {
    assert_eq!(config(&[]).redaction, RedactionConfig::default());
    let config = config(&[
        ("TRACED_REDACTION", "OFF"),
        ("TRACED_REDACT_KEYS", " ssn, iban ,,"),
    ]);
    assert!(!config.redaction.enabled);
    assert_eq!(config.redaction.keys, ["ssn", "iban"]);
    assert!(error(&[("TRACED_REDACTION", "maybe")]).contains("TRACED_REDACTION"));
}
