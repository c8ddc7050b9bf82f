//! The README's HTTP server and client layers: `traced::http` alone, no `tower` or `http` dependency.

use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use traced::http::{ClientTraceLayer, Layer, TraceLayer};

async fn order(axum::extract::Path(id): axum::extract::Path<u64>) -> String {
    format!("order {id}")
}

#[tokio::main]
async fn main() {
    let app = axum::Router::new()
        .route("/orders/{id}", axum::routing::get(order))
        .layer(TraceLayer::new()); // server span per request, parent from the incoming headers,
                                   // `traceparent` injected into the response, ERROR only for 5xx
    let client = ClientTraceLayer::new() // client span, context injected into the outgoing request
        .layer(Client::builder(TokioExecutor::new()).build_http::<String>());
    // The request and service types come with traced too.
    let request = traced::http::Request::get("http://127.0.0.1:9/orders/1")
        .body(String::new())
        .expect("a valid request");
    let mut client = client;
    let _pending = traced::http::Service::call(&mut client, request);
    let _served: axum::Router = app;
}
