//! The README's `traced::span!` blocks, sync and async.

fn charge(order_id: u64) -> u64 {
    order_id * 3
}

async fn fetch() -> u64 {
    7
}

#[tokio::main]
async fn main() {
    let order_id = 42;
    let charged = traced::span!("charge", order.id = order_id; { charge(order_id) }); // sync: runs now
    let fetched = traced::span!("fetch", attempt = 1; async move { fetch().await }).await; // async: a future
    assert_eq!((charged, fetched), (126, 7));
}
