//! Quickstart: `traced::init()`, `#[traced]` on your fns, and each finished trace drawn as a waterfall in the
//! terminal. No collector needed: run `cargo run --example quickstart`.
//!
//! Set `OTEL_TRACES_EXPORTER=otlp` and `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318` to send the same trace
//! to Jaeger, Tempo or any OTLP backend instead.

use std::time::Duration;

use traced::config::{ExporterKind, LogsExporterKind};
use traced::traced;

/// Why a checkout failed.
#[derive(Debug, thiserror::Error)]
enum CheckoutError {
    #[error("card declined for order {order_id}")]
    Declined {
        order_id: u64,
        #[source]
        cause: std::io::Error,
    },
}

#[traced(kind = server, args(order_id), fields(http.route = "/checkout/{id}"))]
async fn checkout(order_id: u64) -> Result<u64, CheckoutError> {
    let items = load_cart(order_id).await;
    let total = price(&items);
    charge(order_id, total).await?;
    Ok(total)
}

#[traced(args(order_id))]
async fn load_cart(order_id: u64) -> Vec<u64> {
    tokio::time::sleep(Duration::from_millis(12)).await;
    query("SELECT item FROM carts WHERE order = $1", order_id)
}

#[traced(kind = client, fields(db.system = "postgresql", db.query.text = sql))]
fn query(sql: &str, order_id: u64) -> Vec<u64> {
    // Log lines inside a traced fn carry its trace and span ids.
    tracing::debug!(sql, "querying");
    std::thread::sleep(Duration::from_millis(8));
    vec![order_id * 100, 250, 990]
}

#[traced(ret)]
fn price(items: &[u64]) -> u64 {
    items.iter().sum()
}

#[traced(kind = client, args(order_id, amount))]
async fn charge(order_id: u64, amount: u64) -> Result<(), CheckoutError> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    if order_id % 2 == 1 {
        return Err(CheckoutError::Declined {
            order_id,
            cause: std::io::Error::other("insufficient funds"),
        });
    }
    let _ = amount;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), traced::Error> {
    // Everything else comes from the standard OTEL_* environment; the console is the default here only.
    let mut config = traced::Config::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        config = config.with_service_name("quickstart");
    }
    if std::env::var_os("OTEL_TRACES_EXPORTER").is_none() {
        config = config.with_exporter(ExporterKind::Console);
    }
    // Log records go under their spans in the waterfall rather than to a collector that is not running.
    if std::env::var_os("OTEL_LOGS_EXPORTER").is_none() {
        config = config.with_logs_exporter(LogsExporterKind::Console);
    }
    let guard = config.build()?.init()?;

    for order_id in [42, 7] {
        match checkout(order_id).await {
            Ok(total) => tracing::info!(order_id, total, "order paid"),
            Err(error) => tracing::warn!(order_id, %error, "order failed"),
        }
    }

    // Flushes every span before exit, bounded by the export timeout.
    guard.shutdown()
}
