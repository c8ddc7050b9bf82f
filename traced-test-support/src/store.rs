//! What a receiver got: every request as it arrived (signal, time, headers) with its decoded body once
//! accepted, the counts, and the fault due for the next requests. Shared by the gRPC and HTTP handlers and kept
//! across a restart.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::fault::{Fault, Play};

/// The OTLP signal a request carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// `TraceService/Export`, `POST /v1/traces` (and Zipkin's `POST /api/v2/spans`).
    Traces,
    /// `MetricsService/Export`, `POST /v1/metrics`.
    Metrics,
    /// `LogsService/Export`, `POST /v1/logs`.
    Logs,
}

impl Signal {
    /// The OTLP/HTTP path of the signal.
    pub fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }
}

/// The decoded body of an accepted request.
#[derive(Clone, Debug)]
pub enum Payload {
    /// Spans.
    Traces(ExportTraceServiceRequest),
    /// Metric points.
    Metrics(ExportMetricsServiceRequest),
    /// Log records.
    Logs(ExportLogsServiceRequest),
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Request {
    /// What it carried.
    pub signal: Signal,
    /// When it arrived.
    pub at: Instant,
    /// Its HTTP headers or gRPC metadata, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// Its body, once accepted; `None` while a fault holds it, or when it was refused or undecodable.
    pub payload: Option<Payload>,
}

impl Request {
    /// The value of header `name` (lowercase), if it was sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the receiver keeps of the requests it accepts.
#[derive(Clone, Debug, Default)]
pub(crate) enum Keep {
    /// Every request, headers and body.
    #[default]
    Everything,
    /// Nothing but the counts; spans are counted only if named so. Storing them would put the receiver's own
    /// work into the figures a bench measures.
    CountNamed(String),
}

/// The state of one receiver.
#[derive(Debug, Default)]
pub(crate) struct Store {
    keep: Keep,
    /// Requests arrived, whatever the answer.
    requests: AtomicUsize,
    /// Spans accepted (those named so with [`Keep::CountNamed`]).
    spans: AtomicUsize,
    received: Mutex<Vec<Request>>,
    /// The fault for the next requests, and how many more get it (`usize::MAX`: all).
    fault: Mutex<(Option<Fault>, usize)>,
}

/// Where an arrived request is kept, to attach its body to once accepted.
pub(crate) struct Arrival(Option<usize>);

impl Store {
    pub(crate) fn new(keep: Keep) -> Store {
        Store {
            keep,
            ..Store::default()
        }
    }

    pub(crate) fn fail(&self, fault: Fault, count: usize) {
        *lock(&self.fault) = (Some(fault), count);
    }

    /// The fault for one more request or connection, using one of the faulty ones up.
    fn next_fault(&self) -> Option<Fault> {
        let mut fault = lock(&self.fault);
        if fault.1 == 0 {
            return None;
        }
        if fault.1 != usize::MAX {
            fault.1 -= 1;
        }
        fault.0.clone()
    }

    /// Whether a new connection is to be held unread (a [`Fault::BlackHole`] is due).
    pub(crate) fn holds_connection(&self) -> bool {
        let mut fault = lock(&self.fault);
        if fault.1 == 0 || fault.0 != Some(Fault::BlackHole) {
            return false;
        }
        if fault.1 != usize::MAX {
            fault.1 -= 1;
        }
        true
    }

    /// Records a request as it arrives, and what the fault due (if any) does to it.
    pub(crate) fn arrive(&self, signal: Signal, headers: Vec<(String, String)>) -> (Arrival, Play) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let play = self
            .next_fault()
            .map_or(Play::Accept(std::time::Duration::ZERO), |f| f.play());
        let arrival = match self.keep {
            Keep::Everything => {
                let mut received = lock(&self.received);
                received.push(Request {
                    signal,
                    at: Instant::now(),
                    headers,
                    payload: None,
                });
                Arrival(Some(received.len() - 1))
            }
            Keep::CountNamed(_) => Arrival(None),
        };
        (arrival, play)
    }

    /// Keeps the body of an accepted request (or counts it).
    pub(crate) fn accept(&self, arrival: Arrival, payload: Payload) {
        let spans = match (&payload, &self.keep) {
            (Payload::Traces(request), Keep::Everything) => spans_in(request).count(),
            (Payload::Traces(request), Keep::CountNamed(name)) => {
                spans_in(request).filter(|s| s.name == *name).count()
            }
            _ => 0,
        };
        if let Some(index) = arrival.0 {
            lock(&self.received)[index].payload = Some(payload);
        }
        self.spans.fetch_add(spans, Ordering::SeqCst);
    }

    /// Whether only span counts are kept: the bodies of logs and metrics then need no decoding.
    pub(crate) fn counts_only(&self) -> bool {
        matches!(self.keep, Keep::CountNamed(_))
    }

    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub(crate) fn span_count(&self) -> usize {
        self.spans.load(Ordering::SeqCst)
    }

    pub(crate) fn received(&self) -> MutexGuard<'_, Vec<Request>> {
        lock(&self.received)
    }
}

/// The spans of a traces request.
pub(crate) fn spans_in(
    request: &ExportTraceServiceRequest,
) -> impl Iterator<Item = &opentelemetry_proto::tonic::trace::v1::Span> {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
}

/// A handler that panicked (a failed assertion in a test) must not hide what was received.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
