//! Parsers for single option values, shared by the environment, YAML and builder sources.
//!
//! Each parser returns the reason as a `String` on failure; the caller knows the option name and wraps it into
//! [`Error::InvalidValue`](crate::Error::InvalidValue).

use super::{Compression, ExporterKind, LogFormat, PropagatorKind, Protocol, SamplerConfig};

/// Accepted spellings, listed in error messages.
pub(crate) const EXPORTERS: &str = "otlp, console, zipkin, none";
pub(crate) const PROPAGATORS: &str = "tracecontext, baggage, b3, b3multi, jaeger, none";
pub(crate) const PROTOCOLS: &str = "grpc, http/protobuf, http/json";
pub(crate) const COMPRESSIONS: &str = "gzip, zstd, none";
pub(crate) const LOG_FORMATS: &str = "pretty, compact, json, none";
pub(crate) const SAMPLERS: &str = "always_on, always_off, traceidratio, parentbased_always_on, \
                                   parentbased_always_off, parentbased_traceidratio";

/// `otlp,console`: a comma list where `none` alone means the empty list. The spec says enum values are
/// case-insensitive.
pub(crate) fn exporters(value: &str) -> Result<Vec<ExporterKind>, String> {
    comma_list(value, EXPORTERS, |name| match name {
        "otlp" => Some(ExporterKind::Otlp),
        "console" => Some(ExporterKind::Console),
        "zipkin" => Some(ExporterKind::Zipkin),
        _ => None,
    })
}

/// `tracecontext,baggage`: same list rules as [`exporters`].
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

/// `none` is a valid answer, hence the nested option.
pub(crate) fn compression(value: &str) -> Result<Option<Compression>, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(Some(Compression::Gzip)),
        "zstd" => Ok(Some(Compression::Zstd)),
        "none" => Ok(None),
        _ => Err(format!("unknown compression; accepted: {COMPRESSIONS}")),
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
/// percent-decoded; empty members skipped; a repeated key keeps its first place and takes the last value.
pub(crate) fn key_values(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for member in value.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let (key, val) = member
            .split_once('=')
            .ok_or_else(|| format!("member {member:?} is not key=value"))?;
        let key = percent_decode(key.trim())?;
        if key.is_empty() {
            return Err(format!("member {member:?} has an empty key"));
        }
        upsert(&mut out, key, percent_decode(val.trim())?);
    }
    Ok(out)
}

/// Sets `key` to `value`, keeping the position of an existing key.
pub(crate) fn upsert(list: &mut Vec<(String, String)>, key: String, value: String) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => list.push((key, value)),
    }
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
            let (high, low) =
                digits.ok_or_else(|| format!("malformed percent escape in {value:?}"))?;
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{value:?} decodes to bytes that are not UTF-8"))
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
    }

    #[test]
    fn names() {
        assert_eq!(protocol("HTTP/JSON").unwrap(), Protocol::HttpJson);
        assert_eq!(protocol("grpc").unwrap(), Protocol::Grpc);
        assert!(protocol("http").is_err());
        assert_eq!(compression("none").unwrap(), None);
        assert_eq!(compression("zstd").unwrap(), Some(Compression::Zstd));
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
            key_values(" a = 1 ,b=x%2Cy%3Dz,, c=,a=2").unwrap(),
            vec![
                ("a".to_owned(), "2".to_owned()),
                ("b".to_owned(), "x,y=z".to_owned()),
                ("c".to_owned(), String::new())
            ]
        );
        assert_eq!(
            key_values("k=caf%C3%A9").unwrap(),
            vec![("k".to_owned(), "café".to_owned())]
        );
        assert!(key_values("novalue").unwrap_err().contains("\"novalue\""));
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
