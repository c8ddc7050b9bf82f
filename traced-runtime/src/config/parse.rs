//! Parsers for single option values, shared by the environment, YAML and builder sources.
//!
//! Each parser returns the reason as a `String` on failure; the caller knows the option name and wraps it into
//! [`Error::InvalidValue`](crate::Error::InvalidValue).

use super::{
    BaggageAttributes, Compression, ExporterKind, LogFormat, LogSpanAttributes, LogsExporterKind,
    MetricsExporterKind, PropagatorKind, Protocol, SamplerConfig, StringMap, Temporality,
};

/// Accepted spellings, listed in error messages.
pub(crate) const EXPORTERS: &str = "otlp, console, zipkin, none";
pub(crate) const LOGS_EXPORTERS: &str = "otlp, console, none";
pub(crate) const PROPAGATORS: &str = "tracecontext, baggage, b3, b3multi, jaeger, none";
pub(crate) const PROTOCOLS: &str = "grpc, http/protobuf, http/json";
pub(crate) const COMPRESSIONS: &str = "gzip, none";
pub(crate) const LOG_FORMATS: &str = "pretty, compact, json, none";
pub(crate) const METRICS_EXPORTERS: &str = "otlp, prometheus, console, none";
pub(crate) const TEMPORALITIES: &str = "cumulative, delta, lowmemory";
pub(crate) const SAMPLERS: &str = "always_on, always_off, traceidratio, parentbased_always_on, \
                                   parentbased_always_off, parentbased_traceidratio";

/// `otlp,console`: a comma list where `none` alone means the empty list. The spec says enum values are
/// case-insensitive.
pub(crate) fn exporters(value: &str) -> Result<Vec<ExporterKind>, String> {
    comma_list(value, EXPORTERS, |name| {
        ExporterKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    })
}

/// `otlp,prometheus`: the metrics exporters, same list rules as [`exporters`].
pub(crate) fn metrics_exporters(value: &str) -> Result<Vec<MetricsExporterKind>, String> {
    comma_list(value, METRICS_EXPORTERS, |name| match name {
        "otlp" => Some(MetricsExporterKind::Otlp),
        "prometheus" => Some(MetricsExporterKind::Prometheus),
        "console" => Some(MetricsExporterKind::Console),
        _ => None,
    })
}

/// `otlp,console`: same list rules as [`exporters`].
pub(crate) fn logs_exporters(value: &str) -> Result<Vec<LogsExporterKind>, String> {
    comma_list(value, LOGS_EXPORTERS, |name| match name {
        "otlp" => Some(LogsExporterKind::Otlp),
        "console" => Some(LogsExporterKind::Console),
        _ => None,
    })
}

/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, case-insensitive.
pub(crate) fn temporality(value: &str) -> Result<Temporality, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "cumulative" => Ok(Temporality::Cumulative),
        "delta" => Ok(Temporality::Delta),
        "lowmemory" => Ok(Temporality::LowMemory),
        _ => Err(format!("unknown temporality; accepted: {TEMPORALITIES}")),
    }
}

/// A TCP port, `0..=65535` (0: any free port).
pub(crate) fn port(value: &str) -> Result<u16, String> {
    value
        .trim()
        .parse()
        .map_err(|_| "not a port number in 0..=65535".to_owned())
}

/// A host name or IP address to listen on: not empty, no whitespace, no scheme or path.
pub(crate) fn host(value: &str) -> Result<String, String> {
    let host = value.trim();
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || matches!(c, '/' | '@')) {
        return Err(
            "expected a host name or an IP address, such as localhost or 0.0.0.0".to_owned(),
        );
    }
    Ok(host.to_owned())
}

/// `tenant.id,user.id`, or `*` for every attribute (`TRACED_LOG_SPAN_ATTRIBUTES`).
pub(crate) fn span_attributes(value: &str) -> Result<LogSpanAttributes, String> {
    let keys = words(value);
    if keys.iter().any(|key| key == "*") {
        return if keys.len() == 1 {
            Ok(LogSpanAttributes::All)
        } else {
            Err("`*` cannot be combined with attribute names".to_owned())
        };
    }
    Ok(LogSpanAttributes::Named(keys))
}

/// `tracecontext,baggage`: same list rules as [`exporters`]. The one reader of propagator names: the
/// environment, YAML, and [`Propagator::from_names`](crate::propagation::Propagator::from_names) use it.
pub(crate) fn propagators(value: &str) -> Result<Vec<PropagatorKind>, String> {
    comma_list(value, PROPAGATORS, |name| match name {
        "tracecontext" => Some(PropagatorKind::TraceContext),
        "baggage" => Some(PropagatorKind::Baggage),
        "b3" => Some(PropagatorKind::B3),
        "b3multi" => Some(PropagatorKind::B3Multi),
        "jaeger" => Some(PropagatorKind::Jaeger),
        _ => None,
    })
}

/// Splits, trims and lowercases a comma list; drops duplicates (the first occurrence keeps its place).
fn comma_list<T: PartialEq>(
    value: &str,
    accepted: &str,
    known: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, String> {
    let names: Vec<String> = value
        .split(',')
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    if names.iter().any(|name| name == "none") {
        // `none,otlp` is ambiguous: refuse it rather than guess which half was meant.
        return if names.len() == 1 {
            Ok(Vec::new())
        } else {
            Err("`none` cannot be combined with other values".to_owned())
        };
    }
    let mut out = Vec::new();
    for name in &names {
        let item =
            known(name).ok_or_else(|| format!("unknown name {name:?}; accepted: {accepted}"))?;
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(out)
}

pub(crate) fn protocol(value: &str) -> Result<Protocol, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Ok(Protocol::HttpJson),
        _ => Err(format!("unknown protocol; accepted: {PROTOCOLS}")),
    }
}

/// `none` is a valid answer, hence the nested option. `zstd` is a spec name the exporters cannot serve: refused
/// here, where the error can name its source, rather than on the export thread.
pub(crate) fn compression(value: &str) -> Result<Option<Compression>, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(Some(Compression::Gzip)),
        "zstd" => Err(ZSTD.to_owned()),
        "none" => Ok(None),
        _ => Err(format!("unknown compression; accepted: {COMPRESSIONS}")),
    }
}

/// Why `zstd` is refused.
pub(crate) const ZSTD: &str = "zstd compression is not supported; accepted: gzip, none";

/// [`compression`] for a value set in code.
pub(crate) fn check_compression(compression: Option<Compression>) -> Result<(), String> {
    match compression {
        Some(Compression::Zstd) => Err(ZSTD.to_owned()),
        Some(Compression::Gzip) | None => Ok(()),
    }
}

pub(crate) fn log_format(value: &str) -> Result<LogFormat, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "pretty" => Ok(LogFormat::Pretty),
        "compact" => Ok(LogFormat::Compact),
        "json" => Ok(LogFormat::Json),
        "none" => Ok(LogFormat::None),
        _ => Err(format!("unknown log format; accepted: {LOG_FORMATS}")),
    }
}

/// The sampler named `value`; ratio samplers start at the spec default ratio 1.0.
pub(crate) fn sampler(value: &str) -> Result<SamplerConfig, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "always_on" => Ok(SamplerConfig::AlwaysOn),
        "always_off" => Ok(SamplerConfig::AlwaysOff),
        "traceidratio" => Ok(SamplerConfig::TraceIdRatio(1.0)),
        "parentbased_always_on" => Ok(SamplerConfig::ParentBasedAlwaysOn),
        "parentbased_always_off" => Ok(SamplerConfig::ParentBasedAlwaysOff),
        "parentbased_traceidratio" => Ok(SamplerConfig::ParentBasedTraceIdRatio(1.0)),
        _ => Err(format!("unknown sampler; accepted: {SAMPLERS}")),
    }
}

/// Replaces the ratio of a ratio sampler; `None` when the sampler takes no ratio.
pub(crate) fn with_ratio(sampler: SamplerConfig, ratio: f64) -> Option<SamplerConfig> {
    match sampler {
        SamplerConfig::TraceIdRatio(_) => Some(SamplerConfig::TraceIdRatio(ratio)),
        SamplerConfig::ParentBasedTraceIdRatio(_) => {
            Some(SamplerConfig::ParentBasedTraceIdRatio(ratio))
        }
        _ => None,
    }
}

/// The ratio of a ratio sampler, if any.
pub(crate) fn ratio_of(sampler: SamplerConfig) -> Option<f64> {
    match sampler {
        SamplerConfig::TraceIdRatio(r) | SamplerConfig::ParentBasedTraceIdRatio(r) => Some(r),
        _ => None,
    }
}

/// A probability: a decimal number in `0..=1`.
pub(crate) fn ratio(value: &str) -> Result<f64, String> {
    let ratio: f64 = value
        .trim()
        .parse()
        .map_err(|_| "not a number; expected a decimal in 0..=1".to_owned())?;
    check_ratio(ratio)?;
    Ok(ratio)
}

pub(crate) fn check_ratio(ratio: f64) -> Result<(), String> {
    // `contains` is false for NaN, so NaN is refused too.
    if (0.0..=1.0).contains(&ratio) {
        Ok(())
    } else {
        Err("the ratio must be in 0..=1".to_owned())
    }
}

/// A duration: a non-negative decimal number and a unit, `us`, `ms`, `s` or `m` (`500ms`, `2s`, `1.5s`).
pub(crate) fn duration(value: &str) -> Result<std::time::Duration, String> {
    const SHAPE: &str = "expected a number and a unit (us, ms, s, m): 500ms, 2s";
    let value = value.trim();
    let digits = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let seconds_per_unit = match unit.trim().to_ascii_lowercase().as_str() {
        "us" | "\u{b5}s" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "" if !number.is_empty() => return Err(format!("no unit; {SHAPE}")),
        _ => return Err(format!("not a duration; {SHAPE}")),
    };
    let number: f64 = number
        .parse()
        .map_err(|_| format!("not a duration; {SHAPE}"))?;
    std::time::Duration::try_from_secs_f64(number * seconds_per_unit)
        .map_err(|_| format!("out of range; {SHAPE}"))
}

/// A non-negative integer; `min` refuses values that would stall the pipeline (an empty queue, a zero timeout).
pub(crate) fn integer(value: &str, min: u64) -> Result<u64, String> {
    let n: u64 = value
        .trim()
        .parse()
        .map_err(|_| "not a non-negative integer".to_owned())?;
    if n < min {
        return Err(format!("must be at least {min}"));
    }
    Ok(n)
}

/// `true` or `false`, case-insensitive (YAML and builder only; `OTEL_SDK_DISABLED` has its own spec rule).
/// `on`/`off` (also `true`/`false`), case-insensitive.
pub(crate) fn switch(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err("expected on or off".to_owned()),
    }
}

/// A comma list of words, trimmed, empty ones skipped.
pub(crate) fn words(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `tenant.id,user.id`: baggage keys, each an HTTP token as W3C Baggage requires (any other key can never be in
/// the baggage, so it is a typo); `*` among them means every entry. Duplicates are dropped.
pub(crate) fn baggage_attributes(value: &str) -> Result<BaggageAttributes, String> {
    baggage_keys(words(value))
}

/// [`baggage_attributes`] from keys given one by one (the builder).
pub(crate) fn baggage_keys(
    given: impl IntoIterator<Item = String>,
) -> Result<BaggageAttributes, String> {
    let mut keys = Vec::new();
    let mut all = false;
    for key in given {
        if key == "*" {
            all = true;
            continue;
        }
        if !is_token(&key) {
            return Err(format!(
                "{key:?} is not a baggage key (an HTTP token: visible ASCII without \"(),/:;<=>?@[\\]{{}}); \
                 list keys separated by commas, or * for every entry"
            ));
        }
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    Ok(if all {
        BaggageAttributes::All
    } else if keys.is_empty() {
        BaggageAttributes::None
    } else {
        BaggageAttributes::Keys(keys)
    })
}

/// `token` from RFC 7230, the grammar of a baggage key: visible ASCII except the delimiters `"(),/:;<=>?@[\]{}`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"(),/:;<=>?@[\\]{}".contains(&b))
}

pub(crate) fn boolean(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

/// Checks that `value` is an absolute `http` or `https` URL with a host, and an optional numeric port.
///
/// Exporters would otherwise fail on their first export, far from the line that set the URL.
pub(crate) fn url(value: &str) -> Result<(), String> {
    const SHAPE: &str = "expected http(s)://host[:port][/path]";
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("contains whitespace; {SHAPE}"));
    }
    let (scheme, rest) = value
        .split_once("://")
        .ok_or_else(|| format!("no scheme; {SHAPE}"))?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(format!("scheme {scheme:?} is not http or https"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host_port)| host_port);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| "unclosed `[` in an IPv6 host".to_owned())?;
        if !host
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            || host.is_empty()
        {
            return Err(format!("{host:?} is not an IPv6 address"));
        }
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("unexpected {after:?} after the IPv6 host")),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host; {SHAPE}"));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'))
    {
        return Err(format!(
            "host {host:?} has characters a host name cannot have"
        ));
    }
    if let Some(port) = port {
        port.parse::<u16>()
            .map_err(|_| format!("port {port:?} is not a number in 0..=65535"))?;
    }
    Ok(())
}

/// Parses `k=v,k2=v2` (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`): keys and values trimmed, then
/// percent-decoded; empty members skipped; a repeated key keeps its first place and takes the last value. A
/// reason names a member by its place, never by its text: the text may be a secret.
pub(crate) fn key_values(value: &str) -> Result<StringMap, String> {
    let mut out = StringMap::default();
    for (place, member) in members(value).enumerate() {
        let place = place + 1;
        let (key, val) = member
            .split_once('=')
            .ok_or_else(|| format!("member {place} is not key=value"))?;
        let decode = |text: &str| {
            percent_decode(text.trim()).map_err(|reason| format!("member {place}: {reason}"))
        };
        let key = decode(key)?;
        if key.is_empty() {
            return Err(format!("member {place} has an empty key"));
        }
        out.insert(key, decode(val)?);
    }
    Ok(out)
}

/// The non-empty members of a comma list, trimmed.
fn members(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|m| !m.is_empty())
}

/// [`key_values`] for headers: each name and value checked as [`header`] does.
pub(crate) fn headers(value: &str) -> Result<StringMap, String> {
    let headers = key_values(value)?;
    for (name, value) in headers.iter() {
        header(name, value).map_err(|reason| format!("header {name:?}: {reason}"))?;
    }
    Ok(headers)
}

/// Checks that a header can be sent as is over HTTP/1.1, HTTP/2 and gRPC: a name of token characters (RFC 9110),
/// a value of visible ASCII, spaces and tabs. The exporters would otherwise refuse it only when they are built.
/// The reason never quotes the value.
pub(crate) fn header(name: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err("a header name is letters, digits and !#$%&'*+-.^_`|~".to_owned());
    }
    if let Some(bad) = value
        .chars()
        .position(|c| !(c == ' ' || c == '\t' || c.is_ascii_graphic()))
    {
        return Err(format!(
            "the value has a character a header cannot carry (at {}: a control character or not ASCII)",
            bad + 1
        ));
    }
    Ok(())
}

/// How a header is shown in an error: its name, its value hidden.
pub(crate) fn hidden_header(name: &str) -> String {
    format!("{name}={}", crate::redact::REDACTED)
}

/// How a `k=v,...` list of headers is shown in an error: the names, every value hidden.
pub(crate) fn hidden_headers(value: &str) -> String {
    members(value)
        .map(|member| match member.split_once('=') {
            Some((name, _)) => hidden_header(name.trim()),
            None => crate::redact::REDACTED.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Decodes `%XX` escapes; the result must be UTF-8. A malformed escape is an error, not passed through, so that a
/// value is never silently altered.
pub(crate) fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let digits = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| Some((hex_digit(hex[0])?, hex_digit(hex[1])?)));
            let (high, low) = digits
                .ok_or_else(|| "malformed percent escape: % and two hex digits".to_owned())?;
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| "percent escapes decode to bytes that are not UTF-8".to_owned())
}

fn hex_digit(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// Checks a `RUST_LOG`-style filter now, so that a typo is reported with the option that holds it.
pub(crate) fn log_filter(value: &str) -> Result<(), String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(value)
        .map(drop)
        .map_err(|e| format!("not a tracing filter: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_lists_trim_lowercase_and_dedupe() {
        assert_eq!(
            exporters(" OTLP , console,otlp").unwrap(),
            vec![ExporterKind::Otlp, ExporterKind::Console]
        );
        assert_eq!(exporters("none").unwrap(), vec![]);
        assert_eq!(exporters("NONE").unwrap(), vec![]);
        assert!(exporters("none,otlp")
            .unwrap_err()
            .contains("cannot be combined"));
        assert!(exporters("jaeger").unwrap_err().contains("\"jaeger\""));
        assert_eq!(
            propagators("tracecontext,baggage,b3,b3multi,jaeger").unwrap(),
            vec![
                PropagatorKind::TraceContext,
                PropagatorKind::Baggage,
                PropagatorKind::B3,
                PropagatorKind::B3Multi,
                PropagatorKind::Jaeger
            ]
        );
        assert!(propagators("xray").unwrap_err().contains("xray"));
        assert_eq!(
            logs_exporters("console, OTLP").unwrap(),
            vec![LogsExporterKind::Console, LogsExporterKind::Otlp]
        );
        assert!(logs_exporters("zipkin")
            .unwrap_err()
            .contains("otlp, console, none"));
        assert_eq!(span_attributes(" * ").unwrap(), LogSpanAttributes::All);
        assert_eq!(
            span_attributes("tenant.id, user.id,").unwrap(),
            LogSpanAttributes::Named(vec!["tenant.id".into(), "user.id".into()])
        );
        assert!(span_attributes("*,tenant.id").is_err());
    }

    #[test]
    fn metrics_names() {
        assert_eq!(
            metrics_exporters("OTLP, prometheus,console").unwrap(),
            vec![
                MetricsExporterKind::Otlp,
                MetricsExporterKind::Prometheus,
                MetricsExporterKind::Console
            ]
        );
        assert_eq!(metrics_exporters("none").unwrap(), vec![]);
        assert!(metrics_exporters("zipkin")
            .unwrap_err()
            .contains("prometheus"));
        assert_eq!(temporality("LowMemory").unwrap(), Temporality::LowMemory);
        assert!(temporality("sometimes").unwrap_err().contains("cumulative"));
        assert_eq!(port(" 9464 ").unwrap(), 9464);
        assert!(port("70000").is_err());
        assert_eq!(host("0.0.0.0").unwrap(), "0.0.0.0");
        assert!(host("http://x").is_err());
        assert!(host(" ").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(protocol("HTTP/JSON").unwrap(), Protocol::HttpJson);
        assert_eq!(protocol("grpc").unwrap(), Protocol::Grpc);
        assert!(protocol("http").is_err());
        assert_eq!(compression("none").unwrap(), None);
        assert!(compression("zstd").unwrap_err().contains("not supported"));
        assert!(compression("brotli").is_err());
        assert_eq!(log_format("JSON").unwrap(), LogFormat::Json);
        assert!(log_format("fancy").is_err());
        assert_eq!(
            sampler("traceidratio").unwrap(),
            SamplerConfig::TraceIdRatio(1.0)
        );
        assert!(sampler("jaeger_remote").is_err());
    }

    #[test]
    fn ratios_and_integers() {
        assert_eq!(ratio("0.25").unwrap(), 0.25);
        assert!(ratio("1.5").is_err());
        assert!(ratio("-0.1").is_err());
        assert!(ratio("NaN").is_err());
        assert!(ratio("half").is_err());
        assert_eq!(integer(" 42 ", 1).unwrap(), 42);
        assert!(integer("0", 1).is_err());
        assert!(integer("-5", 0).is_err());
        assert!(integer("1e3", 0).is_err());
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration(" 2s ").unwrap(), Duration::from_secs(2));
        assert_eq!(duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(duration("0ms").unwrap(), Duration::ZERO);
        assert!(duration("500").unwrap_err().contains("no unit"));
        assert!(duration("fast").unwrap_err().contains("not a duration"));
        assert!(duration("-1s").unwrap_err().contains("not a duration"));
        assert!(duration("1h").unwrap_err().contains("not a duration"));
        assert!(duration("1..2s").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn urls() {
        for ok in [
            "http://localhost:4318",
            "https://collector.example.com/v1/traces",
            "http://127.0.0.1:4317",
            "http://[::1]:4317/",
            "HTTPS://user:pw@host:443/x?y=1",
            "http://otel_collector",
        ] {
            assert_eq!(url(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("localhost:4318", "no scheme"),
            ("ftp://host", "\"ftp\""),
            ("http://", "no host"),
            ("http://:4318", "no host"),
            ("http://host:port", "\"port\""),
            ("http://host:99999", "\"99999\""),
            ("http://ho st", "whitespace"),
            ("http://[::1", "unclosed"),
            ("http://host,other", "characters"),
        ] {
            let reason = url(bad).unwrap_err();
            assert!(reason.contains(why), "{bad}: {reason}");
        }
    }

    #[test]
    fn key_value_lists_decode_percent_escapes() {
        assert_eq!(
            key_values(" a = 1 ,b=x%2Cy%3Dz,, c=,a=2")
                .unwrap()
                .into_vec(),
            vec![
                ("a".to_owned(), "2".to_owned()),
                ("b".to_owned(), "x,y=z".to_owned()),
                ("c".to_owned(), String::new())
            ]
        );
        assert_eq!(
            key_values("k=caf%C3%A9").unwrap().into_vec(),
            vec![("k".to_owned(), "café".to_owned())]
        );
        assert_eq!(
            key_values("a=1,novalue").unwrap_err(),
            "member 2 is not key=value"
        );
        assert!(key_values("=v").unwrap_err().contains("empty key"));
        assert!(key_values("k=%zz").unwrap_err().contains("malformed"));
        assert!(key_values("k=%4").unwrap_err().contains("malformed"));
        assert!(key_values("k=%FF").unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn log_filters() {
        assert!(log_filter("info,my_crate=debug").is_ok());
        assert!(log_filter("my_crate=loud").is_err());
    }
}
