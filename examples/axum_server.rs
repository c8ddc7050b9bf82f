//! An axum server traced across two hops: `GET /orders/{id}` asks `GET /inventory/{id}` of the same server over
//! real HTTP, through a hyper client wrapped in `ClientTraceLayer`, so one trace holds both requests:
//!
//! ```text
//! GET /orders/{id}          server   (TraceLayer, parent from the caller's traceparent)
//! └─ get_order                        (#[traced])
//!    └─ GET                 client   (ClientTraceLayer, traceparent injected)
//!       └─ GET /inventory/{id} server
//!          └─ get_stock               (#[traced])
//! ```
//!
//! ```sh
//! OTEL_TRACES_EXPORTER=console cargo run --example axum_server --features axum
//! curl -i http://127.0.0.1:3000/orders/7     # the response's traceparent names the trace
//! ```
//!
//! `TRACED_EXAMPLE_ADDR` sets the address (default `127.0.0.1:3000`, port 0 for any free one); with
//! `TRACED_EXAMPLE_REQUESTS=N` the server exits after N requests to `/orders`, else on ctrl-c.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Notify;
use tower::{Layer, Service, ServiceExt};
use traced::http::{ClientTraceLayer, ClientTraceService, TraceLayer};
use traced::traced;

/// A hyper client whose requests carry the trace.
type HttpClient = ClientTraceService<Client<HttpConnector, Empty<Bytes>>>;

#[derive(Clone)]
struct App {
    /// This server's own base URL: the "downstream service" of the example.
    base: String,
    client: HttpClient,
    /// Requests to `/orders` left before exiting, when limited.
    remaining: Option<Arc<AtomicU64>>,
    done: Arc<Notify>,
}

/// What can go wrong, recorded by `#[traced]` on the handler's span and answered with a status code.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error("no item {0}")]
    NoSuchItem(u64),
    #[error("inventory failed: {0}")]
    Inventory(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::NoSuchItem(_) => StatusCode::NOT_FOUND,
            ApiError::Inventory(_) => StatusCode::BAD_GATEWAY,
        };
        (status, format!("{self}\n")).into_response()
    }
}

#[traced(args(id))]
async fn get_order(State(app): State<App>, Path(id): Path<u64>) -> Result<String, ApiError> {
    let result = stock(&app, id).await;
    if let Some(remaining) = &app.remaining {
        if remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
            app.done.notify_one();
        }
    }
    let in_stock = result.map_err(ApiError::Inventory)?;
    Ok(format!("order {id}: {in_stock} in stock\n"))
}

/// Calls the inventory route over HTTP: `ClientTraceLayer` opens the client span and injects its context.
async fn stock(app: &App, id: u64) -> Result<String, String> {
    let request = http::Request::get(format!("{}/inventory/{id}", app.base))
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let mut client = app.client.clone();
    let response = client
        .ready()
        .await
        .map_err(|e| e.to_string())?
        .call(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let body = String::from_utf8_lossy(&body).into_owned();
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{status}: {}", body.trim_end()))
    }
}

/// The downstream route: item 0 does not exist, so `/orders/0` shows a failed hop.
#[traced(args(id))]
async fn get_stock(Path(id): Path<u64>) -> Result<String, ApiError> {
    if id == 0 {
        return Err(ApiError::NoSuchItem(id));
    }
    Ok((id * 3 % 10).to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = traced::init()?;

    let addr = std::env::var("TRACED_EXAMPLE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let remaining = match std::env::var("TRACED_EXAMPLE_REQUESTS") {
        Ok(n) => Some(Arc::new(AtomicU64::new(n.parse().map_err(|e| {
            format!("TRACED_EXAMPLE_REQUESTS={n:?} is not a number: {e}")
        })?))),
        Err(_) => None,
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");

    let done = Arc::new(Notify::new());
    let app = App {
        base: format!("http://{addr}"),
        client: ClientTraceLayer::new().layer(Client::builder(TokioExecutor::new()).build_http()),
        remaining,
        done: done.clone(),
    };
    let router = Router::new()
        .route("/orders/{id}", get(get_order))
        .route("/inventory/{id}", get(get_stock))
        .with_state(app)
        // `Router::layer`, not around the router: the matched route is known by then (`GET /orders/{id}`).
        .layer(TraceLayer::new());

    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = done.notified() => {}
        }
    })
    .await?;

    // Exports the last spans, bounded by the export timeout.
    guard.shutdown()?;
    Ok(())
}
