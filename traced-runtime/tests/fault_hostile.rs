//! Hostile input through the whole pipeline: huge values, thousands of attributes and events, empty keys, and
//! secrets, against an in-process collector. Nothing panics, limits hold, secrets are redacted.

mod fault_support;

use std::time::Duration;

use fault_support::config_for;
use traced_runtime::config::Protocol;
use traced_runtime::SpanExt;
use traced_test_support::proto::tonic::common::v1::any_value::Value;
use traced_test_support::Receiver;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn limits_and_redaction_hold_against_hostile_spans() {
    let collector = Receiver::start();
    let mut config = config_for(
        Protocol::HttpProtobuf,
        collector.addr,
        Duration::from_secs(5),
    );
    config.limits.attribute_value_length = Some(64);
    config.redaction.keys = vec!["ssn".into()];
    let (layer, guard) = config.layer().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let huge = "é".repeat(1 << 20);
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!(
            "hostile",
            password = "hunter2",
            user.ssn = "078-05-1120",
            big = huge.as_str()
        );
        span.set_attribute("http.request.header.authorization", "Bearer abc");
        span.set_attribute("", "empty key");
        for i in 0..1_000 {
            span.set_attribute(format!("k{i}"), i as i64);
        }
        let _entered = span.enter();
        for i in 0..1_000 {
            tracing::info!(token = "t0k3n", i, "event");
        }
    });
    drop(dispatch);
    let (_, stats) = guard.shutdown_with_stats();
    assert_eq!((stats.exported, stats.failed), (1, 0), "{stats:?}");
    let spans = collector.spans();
    let span = &spans[0];
    assert_eq!(span.attr("password"), Some("[REDACTED]"));
    assert_eq!(span.attr("user.ssn"), Some("[REDACTED]"));
    assert_eq!(
        span.attr("http.request.header.authorization"),
        Some("[REDACTED]")
    );
    assert_eq!(span.attr(""), None, "empty keys are dropped");
    let big = span.attr("big").unwrap();
    assert_eq!(big.chars().count(), 64, "cut on a char boundary");
    assert!(big.chars().all(|c| c == 'é'));
    assert!(
        span.attributes.len() <= 128,
        "{} attributes",
        span.attributes.len()
    );
    let tokens: Vec<_> = span
        .event_attributes()
        .filter(|(k, _)| *k == "token")
        .collect();
    assert!(
        !tokens.is_empty() && tokens.len() <= 128,
        "{} events",
        tokens.len()
    );
    assert!(tokens
        .iter()
        .all(|(_, v)| matches!(v, Some(Value::StringValue(s)) if s == "[REDACTED]")));
}

#[test]
fn redaction_can_be_turned_off() {
    let collector = Receiver::start();
    let mut config = config_for(Protocol::Grpc, collector.addr, Duration::from_secs(5));
    config.redaction.enabled = false;
    let (layer, guard) = config.layer().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _span = tracing::info_span!("open", password = "hunter2").entered();
    });
    guard.shutdown().unwrap();
    assert_eq!(collector.spans()[0].attr("password"), Some("hunter2"));
}

/// Issue 19.1: `exception.message` was cut but the status description kept all 5 MB, and a 10 MB resource value
/// went out whole; over gRPC such a request passes a collector's 4 MiB limit. Every string obeys the limit now.
#[test]
fn every_exported_string_obeys_the_value_length_limit() {
    let collector = Receiver::start();
    let mut config = config_for(Protocol::Grpc, collector.addr, Duration::from_secs(5));
    config.limits.attribute_value_length = Some(4096);
    config
        .resource_attributes
        .push(("huge.resource".into(), "r".repeat(10 << 20)));
    let (layer, guard) = config.layer().unwrap();
    let huge = "x".repeat(5 << 20);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let span = tracing::info_span!(
            "oversized",
            otel.name = huge.as_str(),
            otel.status_description = huge.as_str()
        );
        span.in_scope(|| tracing::info!("{huge}"));
        span.add_event(huge.clone(), vec![]);
    });
    let (_, stats) = guard.shutdown_with_stats();
    assert_eq!((stats.exported, stats.failed), (1, 0), "{stats:?}");
    let span = &collector.spans()[0];
    let mut strings = vec![("name", span.name.len())];
    strings.push(("status", span.status.as_ref().unwrap().message.len()));
    strings.extend(span.events.iter().map(|e| ("event name", e.name.len())));
    strings.extend(
        span.resource
            .iter()
            .chain(&span.attributes)
            .chain(span.events.iter().flat_map(|e| &e.attributes))
            .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some((kv.key.as_str(), s.len())),
                _ => None,
            }),
    );
    assert_eq!(span.events.len(), 2);
    for (what, len) in strings {
        assert!(len <= 4096, "{what}: {len} bytes");
    }
    assert_eq!(span.status.as_ref().unwrap().message.len(), 4096);
    assert_eq!(
        span.resource_attr("huge.resource").map(str::len),
        Some(4096)
    );
}
