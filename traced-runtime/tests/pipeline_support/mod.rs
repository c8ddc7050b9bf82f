//! In-process OTLP receivers for the pipeline tests: gRPC (tonic) and HTTP `/v1/traces` (protobuf and JSON),
//! plus a receiver that accepts connections and never answers.
//!
//! Each receiver runs on a thread and runtime of its own, so it keeps serving while a test blocks its own
//! runtime (a guard dropped on a current-thread runtime).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;

/// One span as it arrived.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    pub name: String,
    pub trace_id: Vec<u8>,
    pub resource: Vec<(String, String)>,
}

impl ReceivedSpan {
    pub fn resource_attr(&self, key: &str) -> Option<&str> {
        self.resource
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What a receiver got so far: spans, and the `x-tenant` header of the last request.
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<Vec<ReceivedSpan>>>, Arc<Mutex<Option<String>>>);

impl Received {
    fn tenant(&self, value: Option<&str>) {
        *self.1.lock().unwrap() = value.map(str::to_owned);
    }

    /// The `x-tenant` header (gRPC metadata) of the last request.
    pub fn last_tenant(&self) -> Option<String> {
        self.1.lock().unwrap().clone()
    }

    fn push(&self, request: ExportTraceServiceRequest) {
        let mut spans = self.0.lock().unwrap();
        for resource_spans in request.resource_spans {
            let resource: Vec<(String, String)> = resource_spans
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default()
                .into_iter()
                .map(|kv| {
                    let value = match kv.value.and_then(|v| v.value) {
                        Some(Value::StringValue(s)) => s,
                        Some(Value::IntValue(i)) => i.to_string(),
                        Some(Value::BoolValue(b)) => b.to_string(),
                        Some(Value::DoubleValue(d)) => d.to_string(),
                        other => format!("{other:?}"),
                    };
                    (kv.key, value)
                })
                .collect();
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    spans.push(ReceivedSpan {
                        name: span.name,
                        trace_id: span.trace_id,
                        resource: resource.clone(),
                    });
                }
            }
        }
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Waits until at least `n` spans arrived or `timeout` passed; returns the count.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let start = Instant::now();
        while self.count() < n && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.count()
    }
}

/// A running receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Received,
}

impl Receiver {
    /// The endpoint URL for the exporter configuration.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The per-signal HTTP endpoint.
    pub fn http_endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }
}

/// Starts `serve` on its own thread and multi-thread runtime, with a listener on an ephemeral loopback port.
fn spawn<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            serve(listener).await;
        });
    });
    rx.recv().unwrap()
}

struct GrpcCollector(Received);

#[tonic::async_trait]
impl TraceService for GrpcCollector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.tenant(
            request
                .metadata()
                .get("x-tenant")
                .and_then(|v| v.to_str().ok()),
        );
        self.0.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// An OTLP/gRPC receiver.
pub fn grpc_receiver() -> Receiver {
    let received = Received::default();
    let collector = GrpcCollector(received.clone());
    let addr = spawn(move |listener| async move {
        tonic::transport::Server::builder()
            .add_service(
                // Collectors (rotel) and our exporter with `gzip` compress.
                TraceServiceServer::new(collector)
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
            )
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    Receiver { addr, received }
}

/// An OTLP/HTTP receiver on `/v1/traces`, decoding protobuf or JSON by content type.
pub fn http_receiver() -> Receiver {
    let received = Received::default();
    let sink = received.clone();
    let addr = spawn(move |listener| async move {
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let sink = sink.clone();
                    async move {
                        sink.tenant(headers.get("x-tenant").and_then(|v| v.to_str().ok()));
                        let json = headers
                            .get(axum::http::header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .is_some_and(|v| v.starts_with("application/json"));
                        let request = if json {
                            serde_json::from_slice::<ExportTraceServiceRequest>(&body)
                                .map_err(|e| e.to_string())
                        } else {
                            ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())
                        };
                        match request {
                            Ok(request) => {
                                sink.push(request);
                                (axum::http::StatusCode::OK, Vec::new())
                            }
                            Err(e) => (axum::http::StatusCode::BAD_REQUEST, e.into_bytes()),
                        }
                    }
                },
            ),
        );
        axum::serve(listener, app).await.unwrap();
    });
    Receiver { addr, received }
}

/// A receiver that accepts connections, reads, and never answers.
pub fn silent_receiver() -> SocketAddr {
    spawn(|listener| async move {
        let mut held = Vec::new();
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            // Keep the connection open so the client waits for an answer.
            held.push(socket);
        }
    })
}

/// A Zipkin v2 receiver on `/api/v2/spans`: each span of the JSON array becomes a [`ReceivedSpan`] (name, and
/// the `localEndpoint.serviceName` as `service.name`).
pub fn zipkin_receiver() -> Receiver {
    let received = Received::default();
    let sink = received.clone();
    let addr = spawn(move |listener| async move {
        let app = axum::Router::new().route(
            "/api/v2/spans",
            axum::routing::post(move |body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    let spans: Vec<serde_json::Value> =
                        serde_json::from_slice(&body).unwrap_or_default();
                    let mut all = sink.0.lock().unwrap();
                    for span in spans {
                        let service = span["localEndpoint"]["serviceName"]
                            .as_str()
                            .unwrap_or_default();
                        all.push(ReceivedSpan {
                            name: span["name"].as_str().unwrap_or_default().to_owned(),
                            trace_id: span["traceId"]
                                .as_str()
                                .unwrap_or_default()
                                .as_bytes()
                                .to_vec(),
                            resource: vec![("service.name".into(), service.to_owned())],
                        });
                    }
                    axum::http::StatusCode::ACCEPTED
                }
            }),
        );
        axum::serve(listener, app).await.unwrap();
    });
    Receiver { addr, received }
}
