//! What the fault tests share beside `traced_test_support`'s receiver: the configuration they export with.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use traced_runtime::config::{Config, LogFormat, Protocol};

/// A configuration exporting to `addr` over `protocol` (whether or not anyone listens there) every 50 ms, in
/// batches of at most 100, with `export_timeout`.
pub fn config_for(protocol: Protocol, addr: SocketAddr, export_timeout: Duration) -> Config {
    let mut config = Config {
        service_name: Some("fault-test".into()),
        log_format: LogFormat::None,
        // No log record export here: the logs_* tests cover it.
        logs: traced_runtime::config::LogsConfig {
            exporters: Vec::new(),
            ..Default::default()
        },
        // Nor metrics: the metrics_* tests cover them.
        metrics: traced_runtime::config::MetricsConfig {
            exporters: Vec::new(),
            ..Default::default()
        },
        ..Config::default()
    };
    config.otlp.protocol = protocol;
    config.otlp.endpoint = match protocol {
        Protocol::Grpc => format!("http://{addr}"),
        _ => format!("http://{addr}/v1/traces"),
    };
    config.batch.schedule_delay = Duration::from_millis(50);
    config.batch.max_export_batch_size = 100;
    config.batch.export_timeout = export_timeout;
    config
}
