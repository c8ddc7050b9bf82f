//! End to end through a real collector: our pipeline → rotel (OTLP gRPC and HTTP in) → an in-process gRPC
//! receiver. Fails, saying how to install it, when `rotel-agent` cannot be found (`pip install rotel`, or set
//! `ROTEL_AGENT` to the binary): a missing collector must not turn into a silent pass.

use std::time::Duration;

use traced_runtime::config::{Config, LogFormat, Protocol};
use traced_test_support::{free_addr, rotel_agent, Receiver, Rotel};
use tracing_subscriber::layer::SubscriberExt;

fn through_rotel(protocol: Protocol) {
    let agent = rotel_agent();
    let receiver = Receiver::start();
    let rotel = Rotel::start(&agent, free_addr(), free_addr(), receiver.addr);
    let mut config = Config {
        service_name: Some("via-rotel".into()),
        log_format: LogFormat::None,
        // No log record export here: the logs_* tests cover it.
        logs: traced_runtime::config::LogsConfig {
            exporters: Vec::new(),
            ..Default::default()
        },
        ..Config::default()
    };
    config.otlp.protocol = protocol;
    config.otlp.endpoint = match protocol {
        Protocol::Grpc => format!("http://{}", rotel.grpc),
        _ => format!("http://{}/v1/traces", rotel.http),
    };
    let (layer, guard) = config.layer().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let root = tracing::info_span!("checkout");
        let _root = root.enter();
        for i in 0..99 {
            let _child = tracing::info_span!("step", i).entered();
        }
    });
    guard.shutdown().unwrap();
    assert_eq!(receiver.wait_for(100, Duration::from_secs(20)), 100);
    let spans = receiver.spans();
    assert!(spans
        .iter()
        .all(|s| s.resource_attr("service.name") == Some("via-rotel")));
    assert!(
        spans.iter().all(|s| s.trace_id == spans[0].trace_id),
        "one trace"
    );
    assert_eq!(spans.iter().filter(|s| s.name == "checkout").count(), 1);
}

#[test]
fn grpc_through_rotel() {
    through_rotel(Protocol::Grpc);
}

#[test]
fn http_protobuf_through_rotel() {
    through_rotel(Protocol::HttpProtobuf);
}

#[test]
fn http_json_through_rotel() {
    through_rotel(Protocol::HttpJson);
}
