//! The README's `reqwest-middleware` client.

async fn notify(webhook_url: &str, payload: String) -> Result<(), reqwest_middleware::Error> {
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(traced::http::ReqwestMiddleware::new())
        .build();
    client.post(webhook_url).body(payload).send().await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    // Nobody listens there: the call fails, its client span records the error.
    let _ = notify("http://127.0.0.1:9/webhook", "{}".to_owned()).await;
}
