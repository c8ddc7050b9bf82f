//! Hostile input through the whole pipeline: huge values, thousands of attributes and events, empty keys, and
//! secrets, against an in-process collector. Nothing panics, limits hold, secrets are redacted.

mod fault_support;

use std::time::Duration;

use fault_support::Collector;
use traced_runtime::config::Protocol;
use traced_runtime::SpanExt;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn limits_and_redaction_hold_against_hostile_spans() {
    let collector = Collector::start(Protocol::HttpProtobuf);
    let mut config = collector.config(Duration::from_secs(5));
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
        .event_attributes
        .iter()
        .filter(|(k, _)| k == "token")
        .collect();
    assert!(
        !tokens.is_empty() && tokens.len() <= 128,
        "{} events",
        tokens.len()
    );
    assert!(tokens.iter().all(|(_, v)| v == "[REDACTED]"));
}

#[test]
fn redaction_can_be_turned_off() {
    let collector = Collector::start(Protocol::Grpc);
    let mut config = collector.config(Duration::from_secs(5));
    config.redaction.enabled = false;
    let (layer, guard) = config.layer().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _span = tracing::info_span!("open", password = "hunter2").entered();
    });
    guard.shutdown().unwrap();
    assert_eq!(collector.spans()[0].attr("password"), Some("hunter2"));
}
