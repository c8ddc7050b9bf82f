//! An event processor, end to end: events arrive with the trace context and baggage of the service that sent
//! them in their metadata; each is handled under a root span of its own (`kind = consumer`, the sender's span as
//! parent) through its phases; its actions, behind an `#[async_trait]` trait and a decorator, run as tasks
//! spawned with `traced::spawn`; one action calls a webhook over reqwest (`ReqwestMiddleware`), served here by an
//! axum route (`TraceLayer`). `tenant.id` and `user.id` travel as baggage and are on every span, the webhook
//! server's included, through `with_baggage_attributes`.
//!
//! ```sh
//! OTEL_TRACES_EXPORTER=console cargo run --example event_processor --features reqwest,axum
//! ```
//!
//! The console prints one waterfall per event: the webhook's server span under the client span that called it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use traced::http::{ReqwestMiddleware, TraceLayer};
use traced::traced;

/// An event as the queue delivers it: the sender's context travels in `metadata`.
struct Event {
    id: u32,
    kind: &'static str,
    payload: String,
    metadata: HashMap<String, String>,
}

/// What the upstream service sent: each event in a trace of its own, with the tenant and user as baggage.
fn incoming() -> Vec<Event> {
    let event = |id, kind, payload: &str, trace: &str, baggage: &str| Event {
        id,
        kind,
        payload: payload.to_owned(),
        metadata: HashMap::from([
            (
                "traceparent".to_owned(),
                format!("00-{trace}-00f067aa0ba902b7-01"),
            ),
            ("baggage".to_owned(), baggage.to_owned()),
        ]),
    };
    vec![
        event(
            1,
            "order.placed",
            "order 1001: 2 x sku-7",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "tenant.id=acme,user.id=u-17",
        ),
        event(
            2,
            "order.placed",
            "order 1002: 1 x sku-9",
            "0af7651916cd43dd8448eb211c80319c",
            "tenant.id=globex,user.id=u-42",
        ),
        event(
            3,
            "order.placed",
            "",
            "5b8aa5a2d2c872e8321cf37308d69df2",
            "tenant.id=initech,user.id=u-99",
        ),
    ]
}

#[derive(Debug, thiserror::Error)]
enum ProcessError {
    #[error("event {0} has an empty payload")]
    EmptyPayload(u32),
    #[error("action {0} failed: {1}")]
    Action(&'static str, String),
}

/// Something done for every valid event.
#[async_trait]
trait Action: Send + Sync {
    fn name(&self) -> &'static str;
    async fn run(&self, event: &Event) -> Result<(), String>;
}

/// The decorator every action is wrapped in: one span per action run, named after the action.
struct Audited<A>(A);

#[async_trait]
impl<A: Action> Action for Audited<A> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    #[traced(name = "action", fields(action.name = self.0.name()))]
    async fn run(&self, event: &Event) -> Result<(), String> {
        self.0.run(event).await
    }
}

/// Stores the event.
struct Store;

#[async_trait]
impl Action for Store {
    fn name(&self) -> &'static str {
        "store"
    }

    #[traced(name = "store", fields(db.system.name = "postgresql"))]
    async fn run(&self, _event: &Event) -> Result<(), String> {
        tokio::time::sleep(Duration::from_millis(3)).await;
        Ok(())
    }
}

/// Tells a partner over HTTP.
struct Webhook {
    client: ClientWithMiddleware,
    url: String,
}

#[async_trait]
impl Action for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    async fn run(&self, event: &Event) -> Result<(), String> {
        // The middleware makes the client span and writes its context and the baggage into the headers.
        let response = self
            .client
            .post(&self.url)
            .body(event.payload.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("webhook answered {}", response.status()));
        }
        Ok(())
    }
}

#[traced(kind = consumer, parent = cx, fields(event.id = event.id, event.kind = event.kind))]
// With feature `off` the attribute is gone, and with it the use of `cx`.
#[cfg_attr(feature = "off", allow(unused_variables))]
async fn handle_event(
    cx: opentelemetry::Context,
    event: Arc<Event>,
    actions: Arc<[Arc<dyn Action>]>,
) -> Result<(), ProcessError> {
    validate(&event)?;
    enrich(&event).await;
    dispatch(event, actions).await
}

#[traced]
fn validate(event: &Event) -> Result<(), ProcessError> {
    if event.payload.is_empty() {
        return Err(ProcessError::EmptyPayload(event.id));
    }
    Ok(())
}

#[traced]
async fn enrich(_event: &Event) {
    tokio::time::sleep(Duration::from_millis(2)).await;
}

/// Runs every action at once, each as a task of its own that continues this span and its baggage.
#[traced(fields(actions = actions.len()))]
async fn dispatch(event: Arc<Event>, actions: Arc<[Arc<dyn Action>]>) -> Result<(), ProcessError> {
    let tasks: Vec<_> = actions
        .iter()
        .map(|action| {
            let (action, event) = (action.clone(), event.clone());
            traced::spawn(async move { (action.name(), action.run(&event).await) })
        })
        .collect();
    for task in tasks {
        let (name, outcome) = task
            .await
            .map_err(|e| ProcessError::Action("task", e.to_string()))?;
        outcome.map_err(|e| ProcessError::Action(name, e))?;
    }
    Ok(())
}

/// The partner's side of the webhook.
#[traced]
async fn receive_webhook(body: String) -> StatusCode {
    if body.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::ACCEPTED
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = traced::Config::builder()
        .with_service_name("event-processor")
        .with_baggage_attributes(["tenant.id", "user.id"])
        .build()?
        .init()?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhook", listener.local_addr()?);
    let partner = Router::new()
        .route("/webhook", post(receive_webhook))
        .layer(TraceLayer::new());
    let server = tokio::spawn(async move { axum::serve(listener, partner).await });

    let client = ClientBuilder::new(reqwest::Client::new())
        .with(ReqwestMiddleware::new())
        .build();
    let actions: Arc<[Arc<dyn Action>]> = Arc::new([
        Arc::new(Audited(Store)) as Arc<dyn Action>,
        Arc::new(Audited(Webhook { client, url })),
    ]);
    for event in incoming() {
        let cx = traced::propagation::extract_from_map(&event.metadata);
        let (id, kind) = (event.id, event.kind);
        match handle_event(cx, Arc::new(event), actions.clone()).await {
            Ok(()) => println!("event {id} ({kind}): done"),
            Err(error) => println!("event {id} ({kind}): {error}"),
        }
    }

    server.abort();
    guard.shutdown()?;
    Ok(())
}
