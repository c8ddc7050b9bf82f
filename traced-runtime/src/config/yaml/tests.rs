use super::*;
use crate::config::{
    BatchConfig, Compression, ExporterKind, LimitsConfig, LogFormat, PropagatorKind, Protocol,
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

fn load(text: &str) -> Config {
    load_with(text, &[]).unwrap()
}

fn load_with(text: &str, pairs: &[(&str, &str)]) -> Result<Config, Error> {
    from_yaml_with(text, "test.yaml", &env(pairs))
}

fn error(text: &str) -> String {
    load_with(text, &[]).unwrap_err().to_string()
}

const FULL: &str = r#"
disabled: true
service:
  name: checkout
  version: "1.4.2"
  environment: production
resource:
  team.name: payments
  region: eu-west-1
exporter:
  kinds: [otlp, console]
  otlp:
    endpoint: http://collector:4318
    protocol: http/json
    headers:
      x-api-key: secret
    timeout_ms: 2500
    compression: gzip
  zipkin:
    endpoint: http://zipkin:9411/api/v2/spans
sampler:
  kind: parentbased_traceidratio
  ratio: 0.25
propagators: [tracecontext, b3]
batch:
  schedule_delay_ms: 100
  export_timeout_ms: 2000
  max_queue_size: 1000
  max_export_batch_size: 100
limits:
  attribute_value_length: 4096
  span_attribute_count: 64
  span_event_count: 32
  span_link_count: 16
log:
  filter: info,checkout=debug
  format: json
"#;

#[test]
fn every_key_reaches_the_config() {
    let config = load(FULL);
    assert!(config.disabled);
    assert_eq!(config.service_name.as_deref(), Some("checkout"));
    assert_eq!(config.service_version.as_deref(), Some("1.4.2"));
    assert_eq!(config.deployment_environment.as_deref(), Some("production"));
    assert_eq!(
        config.resource_attributes,
        [
            ("team.name".to_owned(), "payments".to_owned()),
            ("region".to_owned(), "eu-west-1".to_owned())
        ]
    );
    assert_eq!(
        config.exporters,
        [ExporterKind::Otlp, ExporterKind::Console]
    );
    assert_eq!(config.otlp.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(config.otlp.protocol, Protocol::HttpJson);
    assert_eq!(
        config.otlp.headers,
        [("x-api-key".to_owned(), "secret".to_owned())]
    );
    assert_eq!(config.otlp.timeout, Duration::from_millis(2500));
    assert_eq!(config.otlp.compression, Some(Compression::Gzip));
    assert_eq!(config.zipkin_endpoint, "http://zipkin:9411/api/v2/spans");
    assert_eq!(config.sampler, SamplerConfig::ParentBasedTraceIdRatio(0.25));
    assert_eq!(
        config.propagators,
        [PropagatorKind::TraceContext, PropagatorKind::B3]
    );
    assert_eq!(
        config.batch,
        BatchConfig {
            schedule_delay: Duration::from_millis(100),
            export_timeout: Duration::from_millis(2000),
            max_queue_size: 1000,
            max_export_batch_size: 100,
        }
    );
    assert_eq!(
        config.limits,
        LimitsConfig {
            attribute_value_length: Some(4096),
            span_attribute_count: 64,
            span_event_count: 32,
            span_link_count: 16,
        }
    );
    assert_eq!(config.log_filter, "info,checkout=debug");
    assert_eq!(config.log_format, LogFormat::Json);
}

#[test]
fn empty_file_and_empty_sections_give_the_defaults() {
    assert_eq!(load(""), Config::default());
    assert_eq!(load("# only a comment\n"), Config::default());
    assert_eq!(
        load("service:\nexporter:\n  otlp:\nlog: {}\n"),
        Config::default()
    );
}

#[test]
fn the_example_file_loads() {
    let text = include_str!("../../../../examples/traced.yaml");
    let config = load_with(text, &[]).unwrap();
    assert_eq!(config.service_name.as_deref(), Some("checkout"));
    assert_eq!(config.exporters, [ExporterKind::Otlp]);
    // With the variables it refers to set, they are used.
    let config = load_with(
        text,
        &[("DEPLOYMENT_ENV", "staging"), ("OTLP_API_KEY", "k")],
    )
    .unwrap();
    assert_eq!(config.deployment_environment.as_deref(), Some("staging"));
    assert_eq!(
        config.otlp.headers,
        [("x-api-key".to_owned(), "k".to_owned())]
    );
}

#[test]
fn single_kind_and_comma_strings() {
    assert_eq!(
        load("exporter: { kind: console }").exporters,
        [ExporterKind::Console]
    );
    assert_eq!(load("exporter: { kinds: none }").exporters, []);
    assert_eq!(load("exporter: { kinds: [] }").exporters, []);
    assert_eq!(
        load("propagators: b3multi,jaeger").propagators,
        [PropagatorKind::B3Multi, PropagatorKind::Jaeger]
    );
    assert_eq!(load("propagators: [none]").propagators, []);
}

#[test]
fn traces_endpoint_is_used_as_is_and_wins() {
    let config =
        load("exporter: { otlp: { endpoint: 'http://a:4318', traces_endpoint: 'http://b/x' } }");
    assert_eq!(config.otlp.endpoint, "http://b/x");
    assert_eq!(
        load("exporter: { otlp: { protocol: grpc } }").otlp.endpoint,
        "http://localhost:4317"
    );
}

#[test]
fn yaml_wins_over_env_which_wins_over_defaults() {
    let environment = [
        ("OTEL_SERVICE_NAME", "env-name"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=env,b=env"),
        ("OTEL_TRACES_SAMPLER", "always_off"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.version=9"),
    ];
    let config = load_with(
        "service: { name: yaml-name }\nexporter: { otlp: { headers: { a: yaml } } }",
        &environment,
    )
    .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("yaml-name"));
    assert_eq!(config.otlp.protocol, Protocol::Grpc);
    assert_eq!(
        config.otlp.headers,
        [
            ("a".to_owned(), "yaml".to_owned()),
            ("b".to_owned(), "env".to_owned())
        ]
    );
    assert_eq!(config.sampler, SamplerConfig::AlwaysOff);
    assert_eq!(config.service_version.as_deref(), Some("9"));
    assert_eq!(config.batch, BatchConfig::default());
}

#[test]
fn expansion_applies_to_values() {
    let text = r#"
service: { name: "${SERVICE:-fallback}", version: "${VERSION:-}" }
exporter: { otlp: { endpoint: "http://${HOST}:4318", timeout_ms: "${TIMEOUT:-1234}", headers: { k: "a$$b" } } }
sampler: { kind: traceidratio, ratio: "${RATIO}" }
disabled: "${OFF:-false}"
"#;
    let config = load_with(text, &[("HOST", "collector"), ("RATIO", "0.1")]).unwrap();
    assert_eq!(config.service_name.as_deref(), Some("fallback"));
    // Empty after expansion counts as unset.
    assert_eq!(config.service_version, None);
    assert_eq!(config.otlp.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(config.otlp.timeout, Duration::from_millis(1234));
    assert_eq!(config.otlp.headers, [("k".to_owned(), "a$b".to_owned())]);
    assert_eq!(config.sampler, SamplerConfig::TraceIdRatio(0.1));
    assert!(!config.disabled);

    let config = load_with(
        text,
        &[
            ("HOST", "h"),
            ("RATIO", "1"),
            ("SERVICE", "svc"),
            ("OFF", "TRUE"),
        ],
    )
    .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("svc"));
    assert!(config.disabled);
}

#[test]
fn expansion_errors_name_the_key() {
    let message = error("exporter: { otlp: { endpoint: 'http://${HOST}:4318' } }");
    assert!(
        message.contains("exporter.otlp.endpoint in test.yaml"),
        "{message}"
    );
    assert!(message.contains("HOST is not set"), "{message}");
}

#[test]
fn unknown_keys_with_hints() {
    for (text, key, hint) in [
        ("servce: {}", "servce", Some("service")),
        ("service: { nmae: x }", "service.nmae", Some("service.name")),
        (
            "exporter: { otlp: { timeout: 5 } }",
            "exporter.otlp.timeout",
            Some("exporter.otlp.timeout_ms"),
        ),
        (
            "batch: { max_queue: 5 }",
            "batch.max_queue",
            Some("batch.max_queue_size"),
        ),
        ("colour: blue", "colour", None),
    ] {
        let err = load_with(text, &[]).unwrap_err();
        let Error::UnknownKey {
            file,
            key: found,
            hint: found_hint,
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(file, "test.yaml");
        assert_eq!(found, key);
        match hint {
            Some(hint) => assert_eq!(found_hint, &format!(", did you mean {hint:?}?")),
            None => assert_eq!(found_hint, ""),
        }
    }
    assert_eq!(
        error("service: { nmae: x }"),
        "unknown key \"service.nmae\" in test.yaml, did you mean \"service.name\"?"
    );
}

#[test]
fn invalid_values_name_key_value_and_reason() {
    for (text, key, value, reason) in [
        (
            "exporter: { otlp: { endpoint: 'ftp://c' } }",
            "exporter.otlp.endpoint",
            "ftp://c",
            "not http or https",
        ),
        (
            "exporter: { otlp: { endpoint: 'http://' } }",
            "exporter.otlp.endpoint",
            "http://",
            "no host",
        ),
        (
            "exporter: { zipkin: { endpoint: zipkin } }",
            "exporter.zipkin.endpoint",
            "zipkin",
            "no scheme",
        ),
        (
            "sampler: { kind: traceidratio, ratio: 1.5 }",
            "sampler.ratio",
            "1.5",
            "0..=1",
        ),
        (
            "sampler: { kind: traceidratio, ratio: -0.5 }",
            "sampler.ratio",
            "-0.5",
            "0..=1",
        ),
        (
            "sampler: { kind: sometimes }",
            "sampler.kind",
            "sometimes",
            "unknown sampler",
        ),
        (
            "sampler: { kind: always_on, ratio: 0.5 }",
            "sampler.ratio",
            "0.5",
            "only the traceidratio",
        ),
        (
            "sampler: { ratio: 0.5 }",
            "sampler.ratio",
            "0.5",
            "sampler.kind",
        ),
        (
            "exporter: { otlp: { protocol: http } }",
            "exporter.otlp.protocol",
            "http",
            "unknown protocol",
        ),
        (
            "exporter: { otlp: { compression: br } }",
            "exporter.otlp.compression",
            "br",
            "unknown compression",
        ),
        (
            "exporter: { kind: kafka }",
            "exporter.kind",
            "kafka",
            "unknown name",
        ),
        (
            "exporter: { kind: otlp, kinds: [otlp] }",
            "exporter.kinds",
            "kind and kinds",
            "set one of",
        ),
        (
            "propagators: [tracecontext, xray]",
            "propagators",
            "[tracecontext, xray]",
            "\"xray\"",
        ),
        (
            "log: { format: fancy }",
            "log.format",
            "fancy",
            "unknown log format",
        ),
        (
            "log: { filter: 'x=loud' }",
            "log.filter",
            "x=loud",
            "not a tracing filter",
        ),
        ("disabled: yes", "disabled", "yes", "true or false"),
        (
            "batch: { max_queue_size: 0 }",
            "batch.max_queue_size",
            "0",
            "at least 1",
        ),
        (
            "batch: { schedule_delay_ms: 1.5 }",
            "batch.schedule_delay_ms",
            "1.5",
            "non-negative integer",
        ),
        (
            "limits: { span_event_count: -1 }",
            "limits.span_event_count",
            "-1",
            "non-negative integer",
        ),
        (
            "exporter: { otlp: { timeout_ms: soon } }",
            "exporter.otlp.timeout_ms",
            "soon",
            "non-negative integer",
        ),
    ] {
        let err = load_with(text, &[]).unwrap_err();
        let Error::InvalidValue {
            option,
            value: found,
            reason: why,
        } = &err
        else {
            panic!("{text}: {err}")
        };
        assert_eq!(option, &format!("{key} in test.yaml"), "{text}");
        assert_eq!(found, value, "{text}");
        assert!(why.contains(reason), "{text}: {why}");
    }
}

#[test]
fn wrong_types_are_errors() {
    for (text, key, value) in [
        ("service: checkout", "service", "checkout"),
        ("service: { name: [a, b] }", "service.name", "a list"),
        ("resource: { k: { nested: 1 } }", "resource.k", "a mapping"),
        ("batch: [1, 2]", "batch", "a list"),
        ("- a\n- b", "(top level)", "a list"),
    ] {
        let err = load_with(text, &[]).unwrap_err();
        let Error::InvalidValue {
            option,
            value: found,
            ..
        } = &err
        else {
            panic!("{text}: {err}")
        };
        assert_eq!(option, &format!("{key} in test.yaml"), "{text}");
        assert_eq!(found, value, "{text}");
    }
}

#[test]
fn all_mistakes_are_reported_at_once() {
    let err = load_with(
        "servce: x\nsampler: { kind: nope }\nlog: { format: fancy }",
        &[],
    )
    .unwrap_err();
    let Error::Many(errors) = &err else {
        panic!("{err}")
    };
    assert_eq!(errors.len(), 3);
    // Environment errors join the file's.
    let err = load_with("log: { format: fancy }", &[("OTEL_PROPAGATORS", "xray")]).unwrap_err();
    let Error::Many(errors) = &err else {
        panic!("{err}")
    };
    assert_eq!(errors.len(), 2);
}

#[test]
fn syntax_errors_and_missing_files_name_the_file() {
    let message = error("service: { name: x");
    assert!(
        message.starts_with("cannot read configuration file test.yaml: "),
        "{message}"
    );
    let missing = Config::from_yaml_file("/nonexistent/traced.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("cannot read configuration file /nonexistent/traced.yaml: "),
        "{missing}"
    );
}

#[test]
fn from_yaml_file_reads_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traced.yaml");
    std::fs::write(
        &path,
        "service: { name: from-file }\nexporter: { kinds: [console] }\n",
    )
    .unwrap();
    let config = Config::from_yaml_file(&path).unwrap();
    assert_eq!(config.service_name.as_deref(), Some("from-file"));
    assert_eq!(config.exporters, [ExporterKind::Console]);
}

#[test]
fn did_you_mean_distance() {
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(did_you_mean("protocl", OTLP), Some("protocol"));
    assert_eq!(did_you_mean("zzz", OTLP), None);
}

#[test]
fn disabled_file_ignores_its_other_mistakes() {
    let config = load_with("disabled: true\nsampler: { kind: nope }\ncolour: blue", &[]).unwrap();
    assert!(config.disabled);
    assert_eq!(config.sampler, SamplerConfig::ParentBasedAlwaysOn);
}

#[test]
fn redaction_section_reaches_the_config() {
    let config = load("redaction:\n  enabled: false\n  keys: [ssn, iban]\n");
    assert!(!config.redaction.enabled);
    assert_eq!(config.redaction.keys, ["ssn", "iban"]);
    let config = load_with("redaction: {keys: ssn}\n", &[("TRACED_REDACT_KEYS", "pin")]).unwrap();
    assert!(config.redaction.enabled);
    assert_eq!(config.redaction.keys, ["pin", "ssn"]);
    assert!(error("redaction: {enabled: maybe}\n").contains("redaction.enabled"));
    assert!(error("redaction: {key: [ssn]}\n").contains("redaction.key"));
}
