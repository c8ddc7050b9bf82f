//! The README's message-queue propagation: the parent's `Context` is `traced::Context`, no `opentelemetry`
//! dependency.

use std::collections::HashMap;

use traced::traced;

// consumer: the context out of the headers, as the parent of the handler's span
#[traced(kind = consumer, parent = cx)]
async fn handle(cx: traced::Context, body: Vec<u8>) {
    assert!(!body.is_empty());
    // The span's parent already; the handler may pass it on.
    drop(cx);
}

#[tokio::main]
async fn main() {
    // producer: the current span's context into the message headers
    let mut headers = HashMap::new();
    traced::propagation::inject_into_map(&mut headers);

    let body = b"event".to_vec();
    let cx = traced::propagation::extract_from_map(&headers);
    handle(cx, body).await;
}
