//! The environment variables `traced` reads, and the rules it reads them by.
//!
//! Strictness: an unparseable number is warned about once on stderr and replaced by the default (the spec's rule;
//! no subscriber exists yet to log through). An unknown name (exporter, protocol, sampler, propagator,
//! compression, log format), a malformed URL, key-value list or log filter is an
//! [`Error::InvalidValue`] naming the variable: those are typos that would otherwise
//! silently send telemetry nowhere. An empty variable counts as unset. When tracing ends up disabled, errors are
//! only warned about: the kill switch must work even around a mistake.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::layer::{Endpoint, Layer};
use super::{parse, Config, SamplerConfig};
use crate::Error;

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

impl Config {
    /// Reads the configuration from the process environment, over the spec defaults.
    ///
    /// See the [module docs](crate::config::env) for what is an error and what is only warned about.
    ///
    /// ```
    /// let config = traced_runtime::config::Config::from_env()?;
    /// # let _ = config;
    /// # Ok::<(), traced_runtime::Error>(())
    /// ```
    pub fn from_env() -> Result<Config, Error> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], with `lookup` answering for the environment (tests, or variables kept
    /// elsewhere).
    ///
    /// ```
    /// use traced_runtime::config::{Config, Protocol};
    ///
    /// let config = Config::from_lookup(|name| match name {
    ///     "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("grpc".to_owned()),
    ///     _ => None,
    /// })?;
    /// assert_eq!(config.otlp.protocol, Protocol::Grpc);
    /// assert_eq!(config.otlp.endpoint, "http://localhost:4317");
    /// # Ok::<(), traced_runtime::Error>(())
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let (layer, errors) = read(&lookup);
        super::layer::finish([layer], errors)
    }
}

/// Reads every variable into a layer (without the invalid ones) and the errors; prints the warnings.
pub(crate) fn read(lookup: &dyn Fn(&str) -> Option<String>) -> (Layer, Vec<Error>) {
    let (layer, errors, warnings) = read_quietly(lookup);
    for warning in &warnings {
        warn_once(warning);
    }
    (layer, errors)
}

/// Reads every variable into a layer, returning the errors and the warnings instead of printing them.
pub(crate) fn read_quietly(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (Layer, Vec<Error>, Vec<String>) {
    let mut env = Reader {
        lookup,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let layer = env.layer();
    (layer, env.errors, env.warnings)
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<Error>,
    warnings: Vec<String>,
}

impl Reader<'_> {
    fn layer(&mut self) -> Layer {
        Layer {
            disabled: self.disabled(),
            service_name: self.get(OTEL_SERVICE_NAME),
            service_version: None,
            deployment_environment: None,
            resource_attributes: self
                .strict(OTEL_RESOURCE_ATTRIBUTES, parse::key_values)
                .unwrap_or_default(),
            exporters: self.strict(OTEL_TRACES_EXPORTER, parse::exporters),
            endpoint: self.endpoint(),
            protocol: self.either(
                OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
                OTEL_EXPORTER_OTLP_PROTOCOL,
                parse::protocol,
            ),
            headers: self.headers(),
            timeout: self
                .lenient_either(
                    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
                    OTEL_EXPORTER_OTLP_TIMEOUT,
                    1,
                )
                .map(Duration::from_millis),
            compression: self.either(
                OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
                OTEL_EXPORTER_OTLP_COMPRESSION,
                parse::compression,
            ),
            zipkin_endpoint: self.url(OTEL_EXPORTER_ZIPKIN_ENDPOINT),
            propagators: self.strict(OTEL_PROPAGATORS, parse::propagators),
            sampler: self.sampler(),
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
            attribute_value_length: self
                .lenient_either(
                    OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
                    OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
                    0,
                )
                .map(to_usize),
            span_attribute_count: self
                .lenient_either(
                    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
                    OTEL_ATTRIBUTE_COUNT_LIMIT,
                    0,
                )
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
        }
    }

    /// The trimmed value, `None` when unset or empty (the spec treats both alike).
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A value whose refusal is an error.
    fn strict<T>(&mut self, name: &str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let value = self.get(name)?;
        match parse(&value) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.errors.push(invalid(name, &value, reason));
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
            self.strict(generic, parse)
        }
    }

    /// A number whose refusal is a warning: the spec default applies.
    fn lenient(&mut self, name: &str, min: u64) -> Option<u64> {
        let value = self.get(name)?;
        match parse::integer(&value, min) {
            Ok(n) => Some(n),
            Err(reason) => {
                self.warnings.push(format!(
                    "ignoring {name}={value:?} ({reason}); using the default"
                ));
                None
            }
        }
    }

    fn lenient_either(&mut self, specific: &str, generic: &str, min: u64) -> Option<u64> {
        self.lenient(specific, min)
            .or_else(|| self.lenient(generic, min))
    }

    fn url(&mut self, name: &str) -> Option<String> {
        self.strict(name, |v| parse::url(v).map(|()| v.to_owned()))
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
        self.url(OTEL_EXPORTER_OTLP_ENDPOINT).map(Endpoint::Base)
    }

    /// Generic headers, then the traces headers over them key by key.
    fn headers(&mut self) -> Vec<(String, String)> {
        let mut headers = self
            .strict(OTEL_EXPORTER_OTLP_HEADERS, parse::key_values)
            .unwrap_or_default();
        for (k, v) in self
            .strict(OTEL_EXPORTER_OTLP_TRACES_HEADERS, parse::key_values)
            .unwrap_or_default()
        {
            parse::upsert(&mut headers, k, v);
        }
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

fn invalid(name: &str, value: &str, reason: String) -> Error {
    Error::InvalidValue {
        option: name.to_owned(),
        value: value.to_owned(),
        reason,
    }
}

/// Prints a configuration warning on stderr, once per distinct message per process: no subscriber exists yet
/// while the configuration is read, and a config read twice should not warn twice.
pub(crate) fn warn_once(message: &str) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let first = SEEN
        .get_or_init(Default::default)
        .lock()
        .map(|mut seen| seen.insert(message.to_owned()))
        .unwrap_or(true);
    if first {
        eprintln!("traced: warning: {message}");
    }
}

#[cfg(test)]
mod tests;
