use std::time::Duration;

use super::*;
use crate::config::file::from_yaml_with;
use crate::config::{
    BatchConfig, Compression, ExporterKind, LimitsConfig, LogFormat, PropagatorKind, Protocol,
    SamplerConfig,
};
use crate::config::{Config, FileConfig};

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
shutdown_timeout_ms: 1500
batch:
  schedule_delay_ms: 100
  export_timeout_ms: 2000
  max_queue_size: 1000
  max_export_batch_size: 100
  max_export_bytes: 1000000
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
            max_export_bytes: 1_000_000,
        }
    );
    assert_eq!(config.shutdown_timeout, Duration::from_millis(1500));
    assert_eq!(
        config.limits,
        LimitsConfig {
            attribute_value_length: Some(4096),
            attribute_count: 128,
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
        assert!(file.starts_with("test.yaml:"), "{file}");
        assert_eq!(found, key);
        match hint {
            Some(hint) => assert_eq!(found_hint, &format!(", did you mean {hint:?}?")),
            None => assert_eq!(found_hint, ""),
        }
    }
    // The line and column of the key.
    assert_eq!(
        error("service:\n  name: x\n  nmae: y"),
        "unknown key \"service.nmae\" in test.yaml:3:3, did you mean \"service.name\"?"
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
            "exporter: { kind: zipkin, zipkin: { endpoint: zipkin } }",
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
        assert!(
            option.starts_with(&format!("{key} in test.yaml:1:")),
            "{text}: {option}"
        );
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
        assert!(
            option.starts_with(&format!("{key} in test.yaml:")),
            "{text}: {option}"
        );
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
        message.starts_with("cannot read configuration file test.yaml:2:1: "),
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

#[test]
fn deep_nesting_is_refused_at_once_with_its_position() {
    // 100,000 levels: serde_yaml 0.9 took 26 s (release) to refuse this; the reader stops at level 65.
    for text in [
        format!("resource: {}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!(
            "resource: {}x{}",
            "{a: ".repeat(100_000),
            "}".repeat(100_000)
        ),
        format!("resource:\n{}x\n", "- ".repeat(100_000)),
    ] {
        let message = error(&text);
        assert!(
            message.starts_with("cannot read configuration file test.yaml:"),
            "{message}"
        );
        assert!(message.contains("nested more than 64 levels"), "{message}");
    }
}

#[test]
fn aliases_are_followed_within_a_bound() {
    let config = load("resource: &shared { k: v }\nexporter: { otlp: { headers: *shared } }\n");
    assert_eq!(config.otlp.headers, [("k".to_owned(), "v".to_owned())]);
    // A billion laughs: each level ten aliases of the one before.
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let aliases = vec![format!("*a{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("a{i}: &a{i} [{aliases}]\n"));
    }
    let message = error(&bomb);
    assert!(message.contains("aliases expand to more than"), "{message}");
}

#[test]
fn a_large_resource_mapping_is_read_linearly_and_bounded() {
    let text: String = std::iter::once("resource:\n".to_owned())
        .chain((0..100_000).map(|i| format!("  key{i}: value{i}\n")))
        .collect();
    let config = load(&text);
    assert_eq!(config.resource_attributes.len(), 128);
    let config = load(&format!("limits: {{ attribute_count: 500 }}\n{text}"));
    assert_eq!(config.resource_attributes.len(), 500);
    assert_eq!(
        config.limits.span_attribute_count, 500,
        "the span limit follows"
    );
}

#[test]
fn options_of_an_unused_exporter_are_not_errors() {
    let text = "exporter:\n  kind: console\n  otlp: { endpoint: 'ftp://c', protocol: udp, timeot_ms: 5 }\n  zipkin: { endpoint: nowhere }\n";
    // The log records' otlp exporter reads `exporter.otlp` too.
    let console_logs = format!("{text}logs: {{ exporters: console, otlp: {{ timeout_ms: 0 }} }}\n");
    let config = load(&console_logs);
    assert_eq!(config.exporters, [ExporterKind::Console]);
    assert_eq!(config.otlp.protocol, Protocol::HttpProtobuf);
    let used = error(&text.replace("kind: console", "kinds: [otlp, zipkin]"));
    assert!(used.starts_with("4 configuration errors"), "{used}");
    // Used by the log records alone (their default exporter is otlp): the same, without zipkin's.
    let by_logs = error(text);
    assert!(by_logs.starts_with("3 configuration errors"), "{by_logs}");
}

#[test]
fn header_values_are_never_quoted() {
    let message =
        error("exporter: { otlp: { headers: { authorization: \"Bearer sk-live-1\\u0001\" } } }");
    assert!(
        message.contains("exporter.otlp.headers.authorization in test.yaml:1:47"),
        "{message}"
    );
    assert!(message.contains("authorization=[REDACTED]"), "{message}");
    assert!(!message.contains("sk-live-1"), "{message}");
    let message = error("exporter: { otlp: { endpoint: 'ftp://me:pw-123@c' } }");
    assert!(!message.contains("pw-123"), "{message}");
}

#[test]
fn values_keep_their_text() {
    // As written: YAML's number 1.10 would be 1.1.
    let config = load("service: { version: 1.10 }\nresource: { build: 007 }\n");
    assert_eq!(config.service_version.as_deref(), Some("1.10"));
    assert_eq!(config.resource_attributes[0].1, "007");
    assert!(error("a: 1\n---\nb: 2\n").contains("more than one YAML document"));
}

const APP_FILE: &str = "\
listen: 0.0.0.0:8080
database:
  url: postgres://db/app
  pool: { max: 10, nested: { deeper: { still: [1, 2] } } }
tracing:
  service:
    name: checkout
  sampler:
    kind: traceidratio
    ratio: 0.5
";

fn section(text: &str) -> Result<Config, Error> {
    Config::builder()
        .with_file_config(FileConfig::from_yaml_section_str(
            text,
            "config.yaml",
            "tracing",
        )?)
        .build_with(&env(&[]))
}

#[test]
fn a_section_of_the_application_file_is_read_and_the_rest_ignored() {
    let config = section(APP_FILE).unwrap();
    assert_eq!(config.service_name.as_deref(), Some("checkout"));
    assert_eq!(config.sampler, SamplerConfig::TraceIdRatio(0.5));
    // Errors name the full key path, the file, the line and column.
    let message = section(&APP_FILE.replace("ratio: 0.5", "ratio: half"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "invalid value \"half\" for tracing.sampler.ratio in config.yaml:10:12: not a number; \
         expected a decimal in 0..=1"
    );
    let message = section(&APP_FILE.replace("name:", "nmae:"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "unknown key \"tracing.service.nmae\" in config.yaml:7:5, did you mean \"tracing.service.name\"?"
    );
    // No section: nothing configured; a section that is not a mapping: an error.
    assert_eq!(section("listen: x\n").unwrap(), Config::default());
    assert!(section("tracing: on\n")
        .unwrap_err()
        .to_string()
        .contains("tracing in config.yaml:1:10"));
    // A syntax error anywhere in the file is one.
    assert!(section("listen: [\ntracing: {}\n")
        .unwrap_err()
        .to_string()
        .starts_with("cannot read configuration file config.yaml:"));
}

#[test]
fn a_section_embedded_in_the_application_struct_is_checked_the_same() {
    #[derive(serde::Deserialize)]
    struct AppConfig {
        #[allow(dead_code)]
        listen: String,
        tracing: FileConfig,
    }
    let app: AppConfig = serde_yaml::from_str(APP_FILE).unwrap();
    let config = Config::builder()
        .with_file_config(app.tracing.in_file("config.yaml", "tracing"))
        .build_with(&env(&[]))
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("checkout"));
    assert_eq!(config.sampler, SamplerConfig::TraceIdRatio(0.5));
    let app: AppConfig = serde_yaml::from_str(&APP_FILE.replace("name:", "nmae:")).unwrap();
    let message = Config::builder()
        .with_file_config(app.tracing.in_file("config.yaml", "tracing"))
        .build_with(&env(&[]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "unknown key \"tracing.service.nmae\" in config.yaml, did you mean \"tracing.service.name\"?"
    );
    // Without a name, errors still read.
    let app: AppConfig = serde_yaml::from_str(&APP_FILE.replace("0.5", "2")).unwrap();
    let message = Config::builder()
        .with_file_config(app.tracing)
        .build_with(&env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("invalid value \"2\" for sampler.ratio in the tracing configuration:"),
        "{message}"
    );
}

#[test]
fn with_yaml_section_reads_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, APP_FILE).unwrap();
    let config = Config::builder()
        .without_env()
        .with_yaml_section(&path, "tracing")
        .build()
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("checkout"));
}

#[test]
fn the_metrics_section_reaches_the_config() {
    use crate::config::{MetricsExporterKind, Temporality};
    use std::time::Duration;

    let config = load(
        "exporter: { otlp: { endpoint: http://c:4318, headers: { a: \"1\" } } }\n\
         metrics:\n  exporters: [prometheus]\n  export_interval_ms: 250\n  export_timeout_ms: 100\n  \
         temporality: lowmemory\n  functions: false\n  prometheus: { host: 127.0.0.1, port: 0 }\n  \
         otlp: { headers: { b: \"2\" }, compression: gzip }\n",
    );
    let metrics = config.metrics;
    assert_eq!(metrics.exporters, [MetricsExporterKind::Prometheus]);
    assert_eq!(metrics.export_interval, Duration::from_millis(250));
    assert_eq!(metrics.export_timeout, Duration::from_millis(100));
    assert_eq!(metrics.temporality, Temporality::LowMemory);
    assert!(!metrics.functions);
    assert_eq!(
        (metrics.prometheus_host.as_str(), metrics.prometheus_port),
        ("127.0.0.1", 0)
    );
    assert_eq!(metrics.otlp.endpoint, "http://c:4318/v1/metrics");
    assert_eq!(
        metrics.otlp.headers,
        vec![("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    assert_eq!(metrics.otlp.compression, Some(Compression::Gzip));
    let full = load("metrics: { otlp: { endpoint: http://m:1/x, protocol: grpc } }").metrics;
    assert_eq!(
        (full.otlp.endpoint.as_str(), full.otlp.protocol),
        ("http://m:1/x", Protocol::Grpc)
    );
    let text = error("metrics: { temporality: weekly, prometheus: { port: -1 }, exportr: [] }");
    assert!(text.contains("metrics.temporality"), "{text}");
    assert!(text.contains("metrics.prometheus.port"), "{text}");
    assert!(text.contains("metrics.exporters"), "did you mean: {text}");
}

#[test]
fn tail_sampling_section() {
    use crate::config::TailSampling;
    use std::time::Duration;
    let config =
        load("sampler:\n  tail: { errors: true, slow: 500ms, ratio: 0.1, max_spans: 100 }\n");
    assert_eq!(
        config.tail_sampling,
        Some(
            TailSampling::new()
                .keep_errors()
                .keep_slower_than(Duration::from_millis(500))
                .keep_ratio(0.1)
                .max_spans(100)
        )
    );
    // Keys left out keep their defaults; the head sampler is untouched.
    let config = load("sampler:\n  tail: { slow: 2s }\n");
    assert_eq!(
        config.tail_sampling,
        Some(TailSampling::new().keep_slower_than(Duration::from_secs(2)))
    );
    assert_eq!(config.sampler, Config::default().sampler);
    assert_eq!(load("sampler:\n  tail:\n").tail_sampling, None);
    // The file wins over the environment.
    let config = load_with(
        "sampler:\n  tail: { ratio: 0.5 }\n",
        &[("TRACED_TAIL_SAMPLING", "errors")],
    );
    assert_eq!(
        config.unwrap().tail_sampling,
        Some(TailSampling::new().keep_ratio(0.5))
    );
    assert_eq!(
        error("sampler:\n  tail: { slow: 500 }\n"),
        "invalid value \"500\" for sampler.tail.slow in test.yaml:2:17: no unit; expected a number and a unit \
         (us, ms, s, m): 500ms, 2s"
    );
    assert!(error("sampler:\n  tail: { max_spans: 0 }\n").contains("sampler.tail.max_spans"));
    assert!(error("sampler:\n  tail: { ratio: 1.5 }\n").contains("sampler.tail.ratio"));
    assert!(error("sampler:\n  tail: { eror: true }\n")
        .contains("did you mean \"sampler.tail.errors\"?"));
}

#[test]
fn the_example_files_tail_section_loads_once_uncommented() {
    use crate::config::TailSampling;
    use std::time::Duration;
    let text = include_str!("../../../../examples/traced.yaml");
    // The commented-out `tail:` block, its comments dropped and its keys uncommented.
    let uncommented: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("#   #"))
        .map(|line| match line.strip_prefix("  # tail:") {
            Some(rest) => format!("  tail:{rest}"),
            None => match line.strip_prefix("  #   ") {
                Some(key) => format!("    {key}"),
                None => line.to_owned(),
            },
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        load(&uncommented).tail_sampling,
        Some(
            TailSampling::new()
                .keep_errors()
                .keep_slower_than(Duration::from_millis(500))
                .keep_ratio(0.1)
        )
    );
}

#[test]
fn logs_section() {
    use crate::config::{LogSpanAttributes, LogsExporterKind};
    let config = load(
        r#"
exporter:
  otlp: { endpoint: "http://c:4318", traces_endpoint: "http://t/v1/traces", protocol: http/json, headers: { a: "1" } }
limits: { attribute_value_length: 10 }
logs:
  exporters: console
  span_attributes: "*"
  otlp: { headers: { b: "2" }, timeout_ms: 700 }
  batch: { schedule_delay_ms: 50, max_queue_size: 8 }
  limits: { attribute_count: 4 }
"#,
    );
    let logs = &config.logs;
    assert_eq!(logs.exporters, [LogsExporterKind::Console]);
    assert_eq!(logs.span_attributes, LogSpanAttributes::All);
    assert_eq!(logs.otlp.endpoint, "http://c:4318/v1/logs");
    assert_eq!(logs.otlp.protocol, Protocol::HttpJson);
    assert_eq!(
        logs.otlp.headers,
        vec![("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    assert_eq!(logs.otlp.timeout, std::time::Duration::from_millis(700));
    assert_eq!(logs.batch.schedule_delay.as_millis(), 50);
    assert_eq!(logs.batch.max_queue_size, 8);
    assert_eq!(logs.limits.attribute_count, 4);
    assert_eq!(logs.limits.attribute_value_length, Some(10));
    let full = load("logs: { otlp: { endpoint: http://l/x, protocol: grpc } }");
    assert_eq!(full.logs.otlp.endpoint, "http://l/x");
    let mistakes = error("logs: { exporter: otlp, otlp: { endpoint: ftp://x } }");
    assert!(mistakes.contains("\"logs.exporter\""), "{mistakes}");
    assert!(
        mistakes.contains("logs.otlp.endpoint in test.yaml"),
        "{mistakes}"
    );
}

#[test]
fn baggage_attributes_from_a_list_or_a_string() {
    use crate::config::BaggageAttributes;
    assert_eq!(
        load("propagation: { baggage_attributes: [tenant.id, user.id] }").baggage_attributes,
        BaggageAttributes::Keys(vec!["tenant.id".into(), "user.id".into()])
    );
    assert_eq!(
        load("propagation: { baggage_attributes: \"*\" }").baggage_attributes,
        BaggageAttributes::All
    );
    // Over the environment, like every key of the file.
    let config = load_with(
        "propagation: { baggage_attributes: user.id }",
        &[("TRACED_BAGGAGE_ATTRIBUTES", "*")],
    )
    .unwrap();
    assert_eq!(
        config.baggage_attributes,
        BaggageAttributes::Keys(vec!["user.id".into()])
    );
    let refused = error("propagation: { baggage_attributes: [\"a;b\"] }");
    assert!(
        refused.contains("propagation.baggage_attributes in test.yaml"),
        "{refused}"
    );
    let unknown = error("propagation: { baggage_attribute: [a] }");
    assert!(unknown.contains("did you mean"), "{unknown}");
}
