//! A faulty OTLP collector for the fault tests: gRPC or HTTP, on a loopback port it can be stopped and
//! restarted on, failing each request the way the test says (a status, a throttle with a hint, no answer, a
//! slow answer).
//!
//! Each collector runs on a thread and runtime of its own; stopping it drops that runtime, which closes the
//! listener and every connection, as a killed process would.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;
use traced_runtime::config::{Config, LogFormat, Protocol};

/// What the collector does with a request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Accept it.
    Accept,
    /// HTTP: answer this status (and `Retry-After` if given). gRPC: mapped by [`grpc_code`].
    Status(u16, Option<Duration>),
    /// Read it and never answer.
    Hang,
    /// Answer after this long.
    Slow(Duration),
}

/// The gRPC code standing for an HTTP status in [`Fault::Status`].
fn grpc_code(status: u16) -> tonic::Code {
    match status {
        429 => tonic::Code::ResourceExhausted,
        503 => tonic::Code::Unavailable,
        400 => tonic::Code::InvalidArgument,
        401 => tonic::Code::Unauthenticated,
        403 => tonic::Code::PermissionDenied,
        _ => tonic::Code::Internal,
    }
}

/// One span as it arrived: its name and its span and event attributes, as strings.
#[derive(Clone, Debug)]
pub struct Span {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub event_attributes: Vec<(String, String)>,
}

impl Span {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The collector's state, shared with its handlers across restarts.
pub struct State {
    /// Requests received, whatever the answer.
    pub requests: AtomicUsize,
    /// When each request arrived.
    pub arrivals: Mutex<Vec<Instant>>,
    /// Spans accepted.
    pub spans: Mutex<Vec<Span>>,
    /// The fault for the next requests, and how many more requests get it (`usize::MAX`: all).
    fault: Mutex<(Fault, usize)>,
}

impl Default for State {
    fn default() -> Self {
        State {
            requests: AtomicUsize::new(0),
            arrivals: Mutex::default(),
            spans: Mutex::default(),
            fault: Mutex::new((Fault::Accept, 0)),
        }
    }
}

impl State {
    /// The fault for this request; [`Fault::Accept`] once the faulty ones are used up.
    fn next_fault(&self) -> Fault {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.arrivals.lock().unwrap().push(Instant::now());
        let mut fault = self.fault.lock().unwrap();
        if fault.1 == 0 {
            return Fault::Accept;
        }
        if fault.1 != usize::MAX {
            fault.1 -= 1;
        }
        fault.0.clone()
    }

    fn accept(&self, request: ExportTraceServiceRequest) {
        let mut all = self.spans.lock().unwrap();
        for resource_spans in request.resource_spans {
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    all.push(Span {
                        name: span.name,
                        attributes: strings(span.attributes),
                        event_attributes: span
                            .events
                            .into_iter()
                            .flat_map(|e| strings(e.attributes))
                            .collect(),
                    });
                }
            }
        }
    }
}

fn strings(attributes: Vec<KeyValue>) -> Vec<(String, String)> {
    attributes
        .into_iter()
        .map(|kv| {
            let value = match kv.value.and_then(|v| v.value) {
                Some(Value::StringValue(s)) => s,
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key, value)
        })
        .collect()
}

/// A faulty collector; stopped on drop.
pub struct Collector {
    pub protocol: Protocol,
    pub addr: SocketAddr,
    pub state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A loopback address nobody listens on (yet).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

impl Collector {
    /// Starts a collector on a new port.
    pub fn start(protocol: Protocol) -> Collector {
        Collector::start_on(protocol, free_addr(), Arc::default())
    }

    /// Starts a collector on `addr` with `state` (kept across a restart).
    pub fn start_on(protocol: Protocol, addr: SocketAddr, state: Arc<State>) -> Collector {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handler_state = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                // The port was free a moment ago; a restart may find it in TIME_WAIT for a short while.
                let start = Instant::now();
                let listener = loop {
                    match tokio::net::TcpListener::bind(addr).await {
                        Ok(listener) => break listener,
                        Err(e) if start.elapsed() > Duration::from_secs(5) => {
                            panic!("cannot bind {addr}: {e}")
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                };
                ready_tx.send(()).unwrap();
                let stop = async {
                    let _ = stop_rx.await;
                };
                match protocol {
                    Protocol::Grpc => {
                        tonic::transport::Server::builder()
                            .add_service(
                                // Collectors (rotel) compress.
                                TraceServiceServer::new(GrpcCollector(handler_state))
                                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                            )
                            .serve_with_incoming_shutdown(
                                tonic::transport::server::TcpIncoming::from(listener),
                                stop,
                            )
                            .await
                            .unwrap();
                    }
                    _ => {
                        let app = axum::Router::new().route(
                            "/v1/traces",
                            axum::routing::post(move |body: axum::body::Bytes| {
                                let state = handler_state.clone();
                                async move { http_export(&state, body).await }
                            }),
                        );
                        // Not graceful: a hanging request must not keep the server alive.
                        tokio::select! {
                            _ = axum::serve(listener, app) => {}
                            () = stop => {}
                        }
                    }
                }
            });
            // Dropping the runtime closes every connection still open.
            runtime.shutdown_timeout(Duration::from_millis(100));
        });
        ready_rx.recv().unwrap();
        Collector {
            protocol,
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Fails the next `count` requests (`usize::MAX`: all) with `fault`.
    pub fn fail(&self, fault: Fault, count: usize) {
        *self.state.fault.lock().unwrap() = (fault, count);
    }

    /// Stops the collector: listener and connections closed.
    pub fn stop(mut self) -> (Protocol, SocketAddr, Arc<State>) {
        self.halt();
        (self.protocol, self.addr, self.state.clone())
    }

    fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    pub fn spans(&self) -> Vec<Span> {
        self.state.spans.lock().unwrap().clone()
    }

    pub fn span_count(&self) -> usize {
        self.state.spans.lock().unwrap().len()
    }

    /// Waits until at least `n` spans arrived or `timeout` passed; returns the count.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let start = Instant::now();
        while self.span_count() < n && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.span_count()
    }

    /// A configuration exporting here every 50 ms, in batches of at most 100, with `export_timeout`.
    pub fn config(&self, export_timeout: Duration) -> Config {
        config_for(self.protocol, self.addr, export_timeout)
    }
}

/// A configuration exporting to `addr` over `protocol` (whether or not anyone listens there).
pub fn config_for(protocol: Protocol, addr: SocketAddr, export_timeout: Duration) -> Config {
    let mut config = Config {
        service_name: Some("fault-test".into()),
        log_format: LogFormat::None,
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

impl Drop for Collector {
    fn drop(&mut self) {
        self.halt();
    }
}

async fn http_export(state: &State, body: axum::body::Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    match state.next_fault() {
        Fault::Accept => {}
        Fault::Status(status, retry_after) => {
            let mut response = axum::http::StatusCode::from_u16(status)
                .unwrap()
                .into_response();
            if let Some(after) = retry_after {
                response.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    after.as_secs().to_string().parse().unwrap(),
                );
            }
            return response;
        }
        Fault::Hang => std::future::pending::<()>().await,
        Fault::Slow(delay) => tokio::time::sleep(delay).await,
    }
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            state.accept(request);
            axum::http::StatusCode::OK.into_response()
        }
        Err(_) => axum::http::StatusCode::BAD_REQUEST.into_response(),
    }
}

struct GrpcCollector(Arc<State>);

#[tonic::async_trait]
impl TraceService for GrpcCollector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        use tonic_types::{ErrorDetails, StatusExt};
        match self.0.next_fault() {
            Fault::Accept => {}
            Fault::Status(status, hint) => {
                let code = grpc_code(status);
                return Err(match hint {
                    Some(delay) => tonic::Status::with_error_details(
                        code,
                        "injected",
                        ErrorDetails::with_retry_info(Some(delay)),
                    ),
                    None => tonic::Status::new(code, "injected"),
                });
            }
            Fault::Hang => std::future::pending::<()>().await,
            Fault::Slow(delay) => tokio::time::sleep(delay).await,
        }
        self.0.accept(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// The resident set size of this process, in bytes (Linux).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm (Linux only)");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("statm resident field");
    pages * 4096
}
