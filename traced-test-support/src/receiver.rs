//! The in-process OTLP receiver: gRPC and HTTP on one loopback port, on a thread and tokio runtime of its own
//! (so it keeps serving while a test blocks its own runtime), recording what it got and failing on demand.
//!
//! Stopping it drops that runtime, which closes the listener and every connection, as a killed collector
//! would; [`Stopped::restart`] brings it back on the same address with what it had received.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

use crate::fault::Fault;
use crate::received_log::ReceivedLog;
use crate::received_span::ReceivedSpan;
use crate::store::{Keep, Payload, Request, Signal, Store};
use crate::{grpc, http};

/// Which wires a receiver serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Serve {
    /// OTLP/gRPC (HTTP/2) and OTLP/HTTP (HTTP/1.1) on the same port.
    #[default]
    Both,
    /// OTLP/gRPC only: an HTTP/1.1 client gets its connection closed.
    Grpc,
    /// OTLP/HTTP and Zipkin only: a gRPC client gets its connection closed.
    Http,
}

/// Sets a receiver up before it starts.
#[derive(Debug, Default)]
#[must_use]
pub struct ReceiverBuilder {
    serve: Serve,
    addr: Option<SocketAddr>,
    keep: Keep,
}

impl ReceiverBuilder {
    /// Serves these wires only (default: both).
    pub fn serve(mut self, serve: Serve) -> Self {
        self.serve = serve;
        self
    }

    /// Listens on `addr` (default: an ephemeral loopback port). A port just left may be in TIME_WAIT: binding
    /// is retried for up to 5 s.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// Keeps no request, only counts: requests, and the spans named `span_name` (for a bench's sink, whose
    /// own work must not weigh in the figures it measures).
    pub fn count_only(mut self, span_name: &str) -> Self {
        self.keep = Keep::CountNamed(span_name.to_owned());
        self
    }

    /// Starts serving; returns once the port accepts connections.
    pub fn start(self) -> Receiver {
        let listener = match self.addr {
            Some(addr) => bind_retrying(addr),
            None => TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port"),
        };
        Receiver::serve(listener, self.serve, Arc::new(Store::new(self.keep)))
    }
}

/// A running receiver; stopped on drop.
#[derive(Debug)]
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    serve: Serve,
    store: Arc<Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A receiver stopped by [`Receiver::stop`]: its address and what it had received, to restart with.
#[derive(Debug)]
pub struct Stopped {
    /// Where it listened.
    pub addr: SocketAddr,
    serve: Serve,
    store: Arc<Store>,
}

impl Stopped {
    /// Serves again on the same address, keeping what was received and the faults still due.
    pub fn restart(self) -> Receiver {
        Receiver::serve(bind_retrying(self.addr), self.serve, self.store)
    }
}

impl Receiver {
    /// A receiver of gRPC and HTTP on an ephemeral loopback port, keeping everything.
    pub fn start() -> Receiver {
        Receiver::builder().start()
    }

    /// A receiver of gRPC and HTTP on `addr`, keeping everything.
    pub fn start_on(addr: SocketAddr) -> Receiver {
        Receiver::builder().addr(addr).start()
    }

    /// Sets a receiver up.
    pub fn builder() -> ReceiverBuilder {
        ReceiverBuilder::default()
    }

    fn serve(listener: TcpListener, serve: Serve, store: Arc<Store>) -> Receiver {
        let addr = listener.local_addr().expect("listener address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let router = match serve {
            Serve::Both => http::routes(store.clone()).merge(grpc::routes(store.clone())),
            Serve::Grpc => grpc::routes(store.clone()),
            Serve::Http => http::routes(store.clone()),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let held = store.clone();
        let thread = std::thread::Builder::new()
            .name(format!("otlp-receiver-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("receiver runtime");
                runtime.block_on(accept(listener, router, serve, held, stopped));
                // Dropping the runtime closes every connection still open, answered or not.
                runtime.shutdown_timeout(Duration::from_millis(100));
            })
            .expect("receiver thread");
        Receiver {
            addr,
            serve,
            store,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The OTLP/gRPC endpoint (`http://ADDR`).
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The OTLP/HTTP traces endpoint (`http://ADDR/v1/traces`).
    pub fn http_endpoint(&self) -> String {
        self.http_endpoint_of(Signal::Traces)
    }

    /// The OTLP/HTTP endpoint of `signal`.
    pub fn http_endpoint_of(&self, signal: Signal) -> String {
        format!("http://{}{}", self.addr, signal.path())
    }

    /// The Zipkin v2 endpoint (`http://ADDR/api/v2/spans`).
    pub fn zipkin_endpoint(&self) -> String {
        format!("http://{}{}", self.addr, http::ZIPKIN_PATH)
    }

    /// Fails the next `count` requests (`usize::MAX`: all) with `fault`; a [`Fault::BlackHole`] counts
    /// connections.
    pub fn fail(&self, fault: Fault, count: usize) {
        self.store.fail(fault, count);
    }

    /// Stops serving: listener and connections closed.
    pub fn stop(mut self) -> Stopped {
        self.halt();
        Stopped {
            addr: self.addr,
            serve: self.serve,
            store: self.store.clone(),
        }
    }

    fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Requests arrived so far, of any signal and whatever the answer (counted in every mode).
    pub fn requests(&self) -> usize {
        self.store.requests()
    }

    /// Spans accepted so far (with [`ReceiverBuilder::count_only`], those of that name).
    pub fn span_count(&self) -> usize {
        self.store.span_count()
    }

    /// Every request kept so far, in order of arrival.
    pub fn received(&self) -> Vec<Request> {
        self.store.received().clone()
    }

    /// When each request kept so far arrived.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.store.received().iter().map(|r| r.at).collect()
    }

    /// The value of header (gRPC metadata) `name`, lowercase, on the last request; `None` if it was not sent.
    pub fn last_header(&self, name: &str) -> Option<String> {
        self.store
            .received()
            .last()
            .and_then(|r| r.header(name))
            .map(str::to_owned)
    }

    /// The spans accepted so far, in order of arrival.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.store
            .received()
            .iter()
            .filter_map(|r| match &r.payload {
                Some(Payload::Traces(request)) => Some(request),
                _ => None,
            })
            .flat_map(ReceivedSpan::all_in)
            .collect()
    }

    /// The metrics requests accepted so far.
    pub fn metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        self.payloads(|p| match p {
            Payload::Metrics(request) => Some(request.clone()),
            _ => None,
        })
    }

    /// The logs requests accepted so far.
    pub fn logs(&self) -> Vec<ExportLogsServiceRequest> {
        self.payloads(|p| match p {
            Payload::Logs(request) => Some(request.clone()),
            _ => None,
        })
    }

    /// The log records accepted so far, in order of arrival.
    pub fn log_records(&self) -> Vec<ReceivedLog> {
        self.logs().iter().flat_map(ReceivedLog::all_in).collect()
    }

    /// Waits until at least `n` log records arrived or `timeout` passed; returns them.
    pub fn wait_for_logs(&self, n: usize, timeout: Duration) -> Vec<ReceivedLog> {
        let start = Instant::now();
        loop {
            let records = self.log_records();
            if records.len() >= n || start.elapsed() >= timeout {
                return records;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn payloads<T>(&self, of: impl Fn(&Payload) -> Option<T>) -> Vec<T> {
        self.store
            .received()
            .iter()
            .filter_map(|r| r.payload.as_ref().and_then(&of))
            .collect()
    }

    /// Waits until at least `n` spans arrived or `timeout` passed; returns the span count.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let start = Instant::now();
        while self.span_count() < n && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.span_count()
    }

    /// Waits until `expected` spans arrived, or until the count stopped moving for `quiet` (what was lost on
    /// the way never arrives); returns the span count.
    pub fn settle(&self, expected: usize, quiet: Duration) -> usize {
        let mut last = self.span_count();
        let mut since = Instant::now();
        while last < expected && since.elapsed() < quiet {
            std::thread::sleep(Duration::from_millis(20));
            let now = self.span_count();
            if now != last {
                last = now;
                since = Instant::now();
            }
        }
        last
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Binds `addr`, retrying for up to 5 s while the port is still held (TIME_WAIT after a stop).
fn bind_retrying(addr: SocketAddr) -> TcpListener {
    let start = Instant::now();
    loop {
        match TcpListener::bind(addr) {
            Ok(listener) => return listener,
            Err(e) if start.elapsed() > Duration::from_secs(5) => panic!("cannot bind {addr}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Accepts connections until told to stop: each is served on a task of its own, or held unread while a
/// black hole is due.
async fn accept(
    listener: TcpListener,
    router: axum::Router,
    serve: Serve,
    store: Arc<Store>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let mut held = Vec::new();
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                // Out of descriptors, or a connection reset before it was accepted: try again shortly.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = &mut stop => return,
        };
        if store.holds_connection() {
            held.push(socket);
            continue;
        }
        // As a collector's server does: without it, the small writes of a gRPC answer wait for the client's
        // delayed ACK (about 40 ms per export on loopback), and a flush takes that long.
        let _ = socket.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            let builder = match serve {
                Serve::Both => builder,
                Serve::Grpc => builder.http2_only(),
                Serve::Http => builder.http1_only(),
            };
            // A client that goes away mid-request is no concern of the receiver's.
            let _ = builder
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}
