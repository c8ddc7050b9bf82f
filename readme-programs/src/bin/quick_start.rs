//! The README's first program, its elided body filled in.

use traced::traced;

/// What a paid checkout returns.
#[derive(Debug)]
struct Receipt {
    total: u64,
}

/// Why a checkout failed.
#[derive(Debug)]
struct CheckoutError;

impl std::fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for CheckoutError {}

#[traced(kind = server, args(order_id))]
async fn checkout(order_id: u64) -> Result<Receipt, CheckoutError> {
    if order_id == 0 {
        return Err(CheckoutError);
    }
    // `tracing` comes with traced: no dependency of its own, no version to match.
    traced::tracing::info!(order_id, "checking out");
    Ok(Receipt {
        total: order_id * 2,
    })
}

#[tokio::main]
async fn main() -> Result<(), traced::Error> {
    let _guard = traced::init()?; // OTEL_* environment; flushes every span when dropped
    if let Ok(receipt) = checkout(42).await {
        assert_eq!(receipt.total, 84);
    }
    checkout(42).await.ok();
    Ok(())
}
