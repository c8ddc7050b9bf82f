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
        (TRACED_MAX_EXPORT_BYTES, "1000000"),
        (TRACED_SHUTDOWN_TIMEOUT, "1500"),
    ]);
    assert_eq!(
        config.batch,
        BatchConfig {
            schedule_delay: Duration::from_millis(100),
            export_timeout: Duration::from_millis(2000),
            max_queue_size: 4096,
            max_export_batch_size: 1024,
            max_export_bytes: 1_000_000,
        }
    );
    assert_eq!(config.shutdown_timeout, Duration::from_millis(1500));
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
        // Zipkin's endpoint is checked only when Zipkin is used.
        let message = error(&[
            (name, "collector:4318"),
            (OTEL_TRACES_EXPORTER, "otlp,zipkin"),
        ]);
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
    // The error names the header, never its value.
    let message = error(&[(OTEL_EXPORTER_OTLP_TRACES_HEADERS, "k=%G0")]);
    assert!(
        message.contains("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
            && message.contains("k=[REDACTED]")
            && !message.contains("%G0"),
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
            (OTEL_EXPORTER_OTLP_COMPRESSION, "none"),
            (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "gzip")
        ])
        .otlp
        .compression,
        Some(Compression::Gzip)
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
fn zstd_is_refused_where_it_is_read() {
    let message = error(&[(OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "zstd")]);
    assert!(
        message.contains("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION")
            && message.contains("not supported"),
        "{message}"
    );
    let yaml = crate::config::file::from_yaml_with(
        "exporter: { otlp: { compression: zstd } }",
        "app.yaml",
        &env(&[]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        yaml.contains("exporter.otlp.compression in app.yaml") && yaml.contains("not supported"),
        "{yaml}"
    );
    let code = Config::builder()
        .without_env()
        .with_compression(Compression::Zstd)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        code.contains("with_compression") && code.contains("not supported"),
        "{code}"
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
            attribute_count: 10,
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
            OTEL_TRACES_SAMPLER,
            OTEL_EXPORTER_OTLP_PROTOCOL
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

#[test]
fn options_of_an_unused_exporter_are_not_errors() {
    let bad_otlp = [
        (OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4318"),
        (OTEL_EXPORTER_OTLP_PROTOCOL, "udp"),
        (OTEL_EXPORTER_OTLP_HEADERS, "novalue"),
        (OTEL_EXPORTER_OTLP_COMPRESSION, "zstd"),
        (OTEL_EXPORTER_ZIPKIN_ENDPOINT, "zipkin"),
    ];
    let mut console = bad_otlp.to_vec();
    console.push((OTEL_TRACES_EXPORTER, "console"));
    // The log records' otlp exporter reads the generic OTLP options too.
    let mut console_logs = console.clone();
    console_logs.push((OTEL_LOGS_EXPORTER, "console"));
    let config = config(&console_logs);
    assert_eq!(config.exporters, [ExporterKind::Console]);
    assert_eq!(
        config.otlp,
        OtlpConfig::default(),
        "the bad values are dropped"
    );
    // Used, by the spans or by the log records alone, the same options are errors, each one reported once.
    for used in [&bad_otlp[..], &console] {
        let err = Config::from_lookup(env(used)).unwrap_err();
        let Error::Many(errors) = &err else {
            panic!("{err}")
        };
        assert_eq!(errors.len(), 4, "{err}");
    }
    // A logs-only option matters only to the log records' otlp exporter.
    let logs_endpoint = [(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "ftp://x")];
    assert!(error(&logs_endpoint).contains("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"));
    let mut console_logs = logs_endpoint.to_vec();
    console_logs.push((OTEL_LOGS_EXPORTER, "console"));
    assert_eq!(
        self::config(&console_logs).logs.otlp,
        crate::config::LogsConfig::default().otlp
    );
}

#[test]
fn resource_attributes_are_merged_linearly_and_bounded() {
    // 100,000 entries took 33 s in release builds when each insert searched the list; the test would not end.
    let entries: Vec<String> = (0..100_000).map(|i| format!("key{i}=value{i}")).collect();
    let config = config(&[(OTEL_RESOURCE_ATTRIBUTES, &entries.join(","))]);
    assert_eq!(config.resource_attributes.len(), 128);
    assert_eq!(
        config.resource_attributes[127],
        ("key127".to_owned(), "value127".to_owned())
    );
    let config = config_with_limit(&entries.join(","), "1000");
    assert_eq!(config.resource_attributes.len(), 1000);
}

fn config_with_limit(attributes: &str, limit: &str) -> Config {
    config(&[
        (OTEL_RESOURCE_ATTRIBUTES, attributes),
        (OTEL_ATTRIBUTE_COUNT_LIMIT, limit),
    ])
}

#[test]
fn metrics_variables_follow_the_per_signal_rules() {
    use crate::config::{MetricsExporterKind, Temporality};

    let defaults = config(&[]).metrics;
    assert_eq!(defaults, crate::config::MetricsConfig::default());
    assert_eq!(defaults.otlp.endpoint, "http://localhost:4318/v1/metrics");
    assert_eq!(defaults.export_interval, Duration::from_millis(60_000));
    assert_eq!(defaults.export_timeout, Duration::from_millis(30_000));
    assert_eq!(
        (defaults.prometheus_host.as_str(), defaults.prometheus_port),
        ("localhost", 9464)
    );

    // The generic endpoint gets `/v1/metrics`, even when the traces have a URL of their own.
    let metrics = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/x"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "secret=traces-only"),
        ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "b=3"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "700"),
        ("OTEL_METRICS_EXPORTER", "prometheus, otlp"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1500"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "900"),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
        ("OTEL_EXPORTER_PROMETHEUS_HOST", "0.0.0.0"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "9999"),
        ("TRACED_FUNCTION_METRICS", "false"),
    ])
    .metrics;
    assert_eq!(metrics.otlp.endpoint, "http://c:4318/v1/metrics");
    assert_eq!(
        metrics.otlp.headers,
        vec![("a".into(), "1".into()), ("b".into(), "3".into())]
    );
    assert_eq!(metrics.otlp.timeout, Duration::from_millis(700));
    assert_eq!(
        metrics.exporters,
        [MetricsExporterKind::Prometheus, MetricsExporterKind::Otlp]
    );
    assert_eq!(metrics.export_interval, Duration::from_millis(1500));
    assert_eq!(metrics.export_timeout, Duration::from_millis(900));
    assert_eq!(metrics.temporality, Temporality::Delta);
    assert_eq!(
        (metrics.prometheus_host.as_str(), metrics.prometheus_port),
        ("0.0.0.0", 9999)
    );
    assert!(!metrics.functions);

    // The per-signal URL is used as is; the per-signal protocol picks its default endpoint.
    let metrics = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9/custom"),
    ])
    .metrics;
    assert_eq!(metrics.otlp.endpoint, "http://m:9/custom");
    let grpc = config(&[("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")]).metrics;
    assert_eq!(grpc.otlp.endpoint, "http://localhost:4317");
    assert_eq!(
        config(&[("OTEL_METRICS_EXPORTER", "none")])
            .metrics
            .exporters,
        []
    );
}

#[test]
fn bad_metrics_values_name_their_variable() {
    for (name, value, says) in [
        ("OTEL_METRICS_EXPORTER", "zipkin", "prometheus"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "often",
            "lowmemory",
        ),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "99999", "port"),
        ("OTEL_EXPORTER_PROMETHEUS_HOST", "http://x", "host"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "nope", "scheme"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "udp", "grpc"),
        ("TRACED_FUNCTION_METRICS", "maybe", "on or off"),
    ] {
        let text = error(&[(name, value)]);
        assert!(
            text.contains(name) && text.contains(value) && text.contains(says),
            "{text}"
        );
    }
    // A bad number is a warning, and the default stays.
    assert!(warnings(&[("OTEL_METRIC_EXPORT_INTERVAL", "soon")])
        .iter()
        .any(|w| w.contains("OTEL_METRIC_EXPORT_INTERVAL")));
    // A bad generic value is reported once, by the traces read.
    let text = error(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")]);
    assert_eq!(
        text.matches("OTEL_EXPORTER_OTLP_PROTOCOL").count(),
        1,
        "{text}"
    );
}

#[test]
fn tail_sampling_from_its_variable() {
    use crate::config::TailSampling;
    assert_eq!(config(&[]).tail_sampling, None);
    assert_eq!(
        config(&[("TRACED_TAIL_SAMPLING", "errors,slow=500ms,ratio=0.1")]).tail_sampling,
        Some(
            TailSampling::new()
                .keep_errors()
                .keep_slower_than(Duration::from_millis(500))
                .keep_ratio(0.1)
        )
    );
    assert_eq!(
        error(&[("TRACED_TAIL_SAMPLING", "errors,slow=soon")]),
        "invalid value \"errors,slow=soon\" for TRACED_TAIL_SAMPLING: \"slow=soon\": not a duration; \
         expected a number and a unit (us, ms, s, m): 500ms, 2s"
    );
    assert!(error(&[("TRACED_TAIL_SAMPLING", "ratio=2")]).contains("TRACED_TAIL_SAMPLING"));
}

#[test]
fn logs_variables_over_the_generic_ones() {
    use crate::config::{LogSpanAttributes, LogsExporterKind};
    let config = config(&[
        (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318"),
        (
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            "http://t:4318/v1/traces",
        ),
        (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "grpc"),
        (OTEL_EXPORTER_OTLP_HEADERS, "a=1,b=2"),
        (OTEL_EXPORTER_OTLP_LOGS_HEADERS, "b=3"),
        (OTEL_EXPORTER_OTLP_LOGS_TIMEOUT, "500"),
        (OTEL_EXPORTER_OTLP_COMPRESSION, "gzip"),
        (OTEL_LOGS_EXPORTER, "console,otlp"),
        (OTEL_BLRP_SCHEDULE_DELAY, "250"),
        (OTEL_BLRP_MAX_QUEUE_SIZE, "100"),
        (OTEL_ATTRIBUTE_COUNT_LIMIT, "16"),
        (OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT, "64"),
        (TRACED_LOG_SPAN_ATTRIBUTES, "tenant.id, user.id"),
    ]);
    let logs = &config.logs;
    assert_eq!(
        logs.exporters,
        [LogsExporterKind::Console, LogsExporterKind::Otlp]
    );
    // The traces protocol is the traces' alone; the generic endpoint gets /v1/logs.
    assert_eq!(logs.otlp.protocol, Protocol::HttpProtobuf);
    assert_eq!(logs.otlp.endpoint, "http://c:4318/v1/logs");
    assert_eq!(
        logs.otlp.headers,
        vec![("a".into(), "1".into()), ("b".into(), "3".into())]
    );
    assert_eq!(logs.otlp.timeout, Duration::from_millis(500));
    assert_eq!(logs.otlp.compression, Some(Compression::Gzip));
    assert_eq!(logs.batch.schedule_delay, Duration::from_millis(250));
    assert_eq!(
        (logs.batch.max_queue_size, logs.batch.max_export_batch_size),
        (100, 100)
    );
    assert_eq!(logs.limits.attribute_count, 16);
    assert_eq!(logs.limits.attribute_value_length, Some(64));
    assert_eq!(
        logs.span_attributes,
        LogSpanAttributes::Named(vec!["tenant.id".into(), "user.id".into()])
    );
    let own = config_of_logs_endpoint();
    assert_eq!(own.logs.otlp.endpoint, "http://l:4317");
    assert_eq!(own.logs.otlp.protocol, Protocol::Grpc);
    let none = self::config(&[(OTEL_LOGS_EXPORTER, "none")]);
    assert!(none.logs.exporters.is_empty());
    assert_eq!(
        self::config(&[]).logs.otlp.endpoint,
        "http://localhost:4318/v1/logs"
    );
    assert!(error(&[(OTEL_LOGS_EXPORTER, "zipkin")]).contains("OTEL_LOGS_EXPORTER"));
    assert!(error(&[(TRACED_LOG_SPAN_ATTRIBUTES, "*,a")]).contains("TRACED_LOG_SPAN_ATTRIBUTES"));
    assert!(error(&[(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "ftp://x")])
        .contains("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"));
}

fn config_of_logs_endpoint() -> Config {
    config(&[
        (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318"),
        (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "http://l:4317"),
        (OTEL_EXPORTER_OTLP_LOGS_PROTOCOL, "grpc"),
    ])
}

#[test]
fn errors_never_quote_secrets() {
    let secret = "sk-live-0123456789";
    for (name, value) in [
        (
            OTEL_EXPORTER_OTLP_HEADERS,
            format!("authorization=Bearer {secret}\u{1}"),
        ),
        (
            OTEL_EXPORTER_OTLP_HEADERS,
            format!("authorization:Bearer {secret}"),
        ),
        (
            OTEL_EXPORTER_OTLP_TRACES_HEADERS,
            format!("x-api-key={secret}%zz"),
        ),
        (
            OTEL_EXPORTER_OTLP_ENDPOINT,
            format!("ftp://user:{secret}@collector"),
        ),
        (
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            format!("http://c:port/?token={secret}"),
        ),
        (
            OTEL_RESOURCE_ATTRIBUTES,
            format!("db.password={secret},broken"),
        ),
    ] {
        let message = error(&[(name, &value)]);
        assert!(message.contains(name), "{message}");
        assert!(!message.contains(secret), "{name}: {message}");
        let debug = format!(
            "{:?}",
            Config::from_lookup(env(&[(name, &value)])).unwrap_err()
        );
        assert!(!debug.contains(secret), "{name}: {debug}");
    }
    assert_eq!(
        error(&[(OTEL_EXPORTER_OTLP_HEADERS, &format!("authorization=Bearer\u{7}{secret}"))]),
        "invalid value \"authorization=[REDACTED]\" for OTEL_EXPORTER_OTLP_HEADERS: header \
         \"authorization\": the value has a character a header cannot carry (at 7: a control character \
         or not ASCII)"
    );
}

#[test]
fn debug_of_the_config_hides_header_values_and_credentials() {
    let config = config(&[
        (OTEL_EXPORTER_OTLP_HEADERS, "authorization=Bearer sk-live-1"),
        (
            OTEL_EXPORTER_OTLP_ENDPOINT,
            "https://user:pw-secret@collector:4318",
        ),
    ]);
    assert_eq!(config.otlp.headers[0].1, "Bearer sk-live-1");
    let debug = format!("{config:?}");
    assert!(debug.contains("authorization"), "{debug}");
    assert!(
        !debug.contains("sk-live-1") && !debug.contains("pw-secret"),
        "{debug}"
    );
}

#[test]
fn baggage_attributes_are_keys_or_everything() {
    use crate::config::BaggageAttributes;
    assert_eq!(config(&[]).baggage_attributes, BaggageAttributes::None);
    assert_eq!(
        config(&[(
            "TRACED_BAGGAGE_ATTRIBUTES",
            " tenant.id, user.id ,tenant.id"
        )])
        .baggage_attributes,
        BaggageAttributes::Keys(vec!["tenant.id".into(), "user.id".into()])
    );
    assert_eq!(
        config(&[("TRACED_BAGGAGE_ATTRIBUTES", "tenant.id,*")]).baggage_attributes,
        BaggageAttributes::All
    );
    let refused = error(&[("TRACED_BAGGAGE_ATTRIBUTES", "tenant id")]);
    assert!(
        refused.contains("TRACED_BAGGAGE_ATTRIBUTES") && refused.contains("\"tenant id\""),
        "{refused}"
    );
}
