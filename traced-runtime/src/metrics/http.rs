//! The HTTP and RPC instruments of the semantic conventions, recorded by the layers of `crate::http` and
//! `crate::grpc`: `http.server.request.duration`, `http.server.active_requests`, `http.client.request.duration`,
//! `rpc.server.duration` and `rpc.client.duration` (in seconds, as the HTTP ones and the function metrics).
//!
//! Their attributes are values of each request (route, status code, address), so each instrument keeps its
//! series in a map, bounded at [`CARDINALITY_LIMIT`] attribute sets; the rest go to one overflow series. A
//! request looks its series up under a read lock, taken for writing only when a new set appears.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use super::exemplar::Exemplar;
use super::histogram::Histogram;
use traced_conventions::error::ERROR_TYPE;
use traced_conventions::http::{
    HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, NETWORK_PROTOCOL_VERSION,
    SERVER_ADDRESS, SERVER_PORT, URL_SCHEME,
};
use traced_conventions::metrics::{
    CARDINALITY_LIMIT, HTTP_CLIENT_REQUEST_DURATION, HTTP_SERVER_ACTIVE_REQUESTS,
    HTTP_SERVER_REQUEST_DURATION, RPC_CLIENT_DURATION, RPC_SERVER_DURATION,
};
#[cfg(feature = "grpc")]
use traced_conventions::rpc::{RPC_GRPC_STATUS_CODE, RPC_METHOD, RPC_SERVICE, RPC_SYSTEM};

/// True while a metrics pipeline runs.
static ON: AtomicBool = AtomicBool::new(false);

/// Turns the HTTP instruments on or off.
pub(crate) fn set_on(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

/// True when requests are recorded.
#[inline]
pub(crate) fn is_on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// An attribute value of a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
}

/// The attributes of one series, in the order the layer gives them.
pub(crate) type Attributes = Vec<(&'static str, Value)>;

/// A histogram instrument with attributes.
#[derive(Debug, Default)]
pub(crate) struct Durations {
    series: RwLock<HashMap<Attributes, Arc<Histogram>>>,
    overflow: Histogram,
}

impl Durations {
    /// Records `nanos` for `attributes`; `exemplar` is the request's sampled span, if any.
    pub(crate) fn record(
        &self,
        attributes: Attributes,
        nanos: u64,
        exemplar: Option<&opentelemetry::trace::SpanContext>,
    ) {
        let record = |histogram: &Histogram| {
            let bucket = histogram.record(nanos);
            #[allow(clippy::cast_precision_loss)]
            if let Some(exemplar) = exemplar.and_then(|cx| Exemplar::of(cx, nanos as f64 / 1e9)) {
                histogram.offer(bucket, exemplar);
            }
        };
        if let Some(histogram) = self.find(&attributes) {
            return record(&histogram);
        }
        let Ok(mut series) = self.series.write() else {
            return;
        };
        if series.len() >= CARDINALITY_LIMIT && !series.contains_key(&attributes) {
            drop(series);
            return record(&self.overflow);
        }
        record(series.entry(attributes).or_default());
    }

    fn find(&self, attributes: &Attributes) -> Option<Arc<Histogram>> {
        self.series.read().ok()?.get(attributes).cloned()
    }

    /// Every series and the overflow one (if it counted anything), with their histograms.
    pub(crate) fn collect(
        &self,
        since: u64,
    ) -> (
        Vec<(Attributes, super::histogram::HistogramPoint)>,
        Option<super::histogram::HistogramPoint>,
    ) {
        let mut points: Vec<_> = self
            .series
            .read()
            .map(|series| {
                series
                    .iter()
                    .map(|(attributes, histogram)| (attributes.clone(), histogram.collect(since)))
                    .collect()
            })
            .unwrap_or_default();
        points.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
        let overflow = self.overflow.collect(since);
        (points, (overflow.count() > 0).then_some(overflow))
    }
}

/// An up-down counter instrument with attributes.
#[derive(Debug, Default)]
pub(crate) struct Active {
    series: RwLock<HashMap<Attributes, Arc<AtomicI64>>>,
    overflow: AtomicI64,
}

impl Active {
    /// Adds `delta` for `attributes`.
    pub(crate) fn add(&self, attributes: &Attributes, delta: i64) {
        if let Some(counter) = self
            .series
            .read()
            .ok()
            .and_then(|s| s.get(attributes).cloned())
        {
            counter.fetch_add(delta, Ordering::Relaxed);
            return;
        }
        let Ok(mut series) = self.series.write() else {
            return;
        };
        if series.len() >= CARDINALITY_LIMIT && !series.contains_key(attributes) {
            self.overflow.fetch_add(delta, Ordering::Relaxed);
            return;
        }
        series
            .entry(attributes.clone())
            .or_default()
            .fetch_add(delta, Ordering::Relaxed);
    }

    /// Every series and the overflow one (if it was used).
    pub(crate) fn collect(&self) -> (Vec<(Attributes, i64)>, Option<i64>) {
        let mut points: Vec<_> = self
            .series
            .read()
            .map(|series| {
                series
                    .iter()
                    .map(|(attributes, value)| (attributes.clone(), value.load(Ordering::Relaxed)))
                    .collect()
            })
            .unwrap_or_default();
        points.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
        let overflow = self.overflow.load(Ordering::Relaxed);
        (points, (overflow != 0).then_some(overflow))
    }
}

/// `http.server.request.duration`.
pub(crate) static SERVER_DURATION: std::sync::LazyLock<Durations> =
    std::sync::LazyLock::new(Durations::default);
/// `http.server.active_requests`.
pub(crate) static SERVER_ACTIVE: std::sync::LazyLock<Active> =
    std::sync::LazyLock::new(Active::default);
/// `http.client.request.duration`.
pub(crate) static CLIENT_DURATION: std::sync::LazyLock<Durations> =
    std::sync::LazyLock::new(Durations::default);

/// `rpc.server.duration`.
pub(crate) static RPC_SERVER: std::sync::LazyLock<Durations> =
    std::sync::LazyLock::new(Durations::default);
/// `rpc.client.duration`.
pub(crate) static RPC_CLIENT: std::sync::LazyLock<Durations> =
    std::sync::LazyLock::new(Durations::default);

/// The duration instruments with their names and descriptions, for the collection.
pub(crate) fn durations() -> [(&'static str, &'static str, &'static Durations); 4] {
    [
        (
            HTTP_SERVER_REQUEST_DURATION,
            "Duration of HTTP server requests.",
            &SERVER_DURATION,
        ),
        (
            HTTP_CLIENT_REQUEST_DURATION,
            "Duration of HTTP client requests.",
            &CLIENT_DURATION,
        ),
        (
            RPC_SERVER_DURATION,
            "Duration of inbound RPCs.",
            &RPC_SERVER,
        ),
        (
            RPC_CLIENT_DURATION,
            "Duration of outbound RPCs.",
            &RPC_CLIENT,
        ),
    ]
}

/// `http.server.active_requests` and its name.
pub(crate) fn active() -> (&'static str, &'static Active) {
    (HTTP_SERVER_ACTIVE_REQUESTS, &SERVER_ACTIVE)
}

/// One request being timed by a layer; recorded by [`Request::finish`], or on drop (a cancelled request) only
/// taken off the active requests.
#[derive(Debug)]
pub(crate) struct Request {
    durations: &'static Durations,
    attributes: Attributes,
    /// The `http.server.active_requests` series to count down.
    active: Option<Attributes>,
    start: std::time::Instant,
}

impl Request {
    /// A server request: `http.request.method`, `http.route` (when known), `url.scheme`,
    /// `network.protocol.version`; counted as active until it ends.
    pub(crate) fn server(
        method: &str,
        route: Option<&str>,
        scheme: &str,
        version: Option<&str>,
    ) -> Option<Request> {
        if !is_on() {
            return None;
        }
        let active = vec![
            (HTTP_REQUEST_METHOD, Value::Str(method.to_owned())),
            (URL_SCHEME, Value::Str(scheme.to_owned())),
        ];
        SERVER_ACTIVE.add(&active, 1);
        let mut attributes = active.clone();
        if let Some(route) = route {
            attributes.push((HTTP_ROUTE, Value::Str(route.to_owned())));
        }
        if let Some(version) = version {
            attributes.push((NETWORK_PROTOCOL_VERSION, Value::Str(version.to_owned())));
        }
        Some(Request {
            durations: &SERVER_DURATION,
            attributes,
            active: Some(active),
            start: std::time::Instant::now(),
        })
    }

    /// A client request: `http.request.method`, `server.address`, `server.port`.
    pub(crate) fn client(
        method: &str,
        address: Option<&str>,
        port: Option<u16>,
    ) -> Option<Request> {
        if !is_on() {
            return None;
        }
        let mut attributes = vec![(HTTP_REQUEST_METHOD, Value::Str(method.to_owned()))];
        if let Some(address) = address {
            attributes.push((SERVER_ADDRESS, Value::Str(address.to_owned())));
        }
        if let Some(port) = port {
            attributes.push((SERVER_PORT, Value::Int(i64::from(port))));
        }
        Some(Request {
            durations: &CLIENT_DURATION,
            attributes,
            active: None,
            start: std::time::Instant::now(),
        })
    }

    /// A gRPC call, on the server (`rpc.server.duration`) or the client side (`rpc.client.duration`):
    /// `rpc.system`, `rpc.service`, `rpc.method`; [`Request::finish_rpc`] adds the status code.
    #[cfg(feature = "grpc")]
    pub(crate) fn rpc(server: bool, service: &str, method: &str) -> Option<Request> {
        if !is_on() {
            return None;
        }
        Some(Request {
            durations: if server { &RPC_SERVER } else { &RPC_CLIENT },
            attributes: vec![
                (RPC_SYSTEM, Value::Str("grpc".to_owned())),
                (RPC_SERVICE, Value::Str(service.to_owned())),
                (RPC_METHOD, Value::Str(method.to_owned())),
            ],
            active: None,
            start: std::time::Instant::now(),
        })
    }

    /// Records a gRPC call's duration with its `rpc.grpc.status_code` (if the status arrived) and `error.type`
    /// (the code's name when the side counts it as an error, or the transport's error); `span` is its span.
    #[cfg(feature = "grpc")]
    pub(crate) fn finish_rpc(
        mut self,
        code: Option<u32>,
        error_type: Option<&str>,
        span: &tracing::Span,
    ) {
        if let Some(code) = code {
            self.attributes
                .push((RPC_GRPC_STATUS_CODE, Value::Int(i64::from(code))));
        }
        self.finish(None, error_type, span);
    }

    /// Records the request's duration with its status code (if it got a response) and `error.type` (if it
    /// failed); `span` is its span, an exemplar if sampled.
    pub(crate) fn finish(
        mut self,
        status: Option<u16>,
        error_type: Option<&str>,
        span: &tracing::Span,
    ) {
        self.respond(status, error_type);
        self.end(span);
    }

    /// The response head: its status code (if it got a response) and `error.type` (if it failed), recorded when
    /// the request [ends](Request::end), after its body.
    pub(crate) fn respond(&mut self, status: Option<u16>, error_type: Option<&str>) {
        if let Some(status) = status {
            self.attributes
                .push((HTTP_RESPONSE_STATUS_CODE, Value::Int(i64::from(status))));
        }
        if let Some(error_type) = error_type {
            self.fail(error_type);
        }
    }

    /// The request failed (its body did, after the head): `error.type`, unless the head already gave one.
    pub(crate) fn fail(&mut self, error_type: &str) {
        if !self.attributes.iter().any(|(key, _)| *key == ERROR_TYPE) {
            self.attributes
                .push((ERROR_TYPE, Value::Str(error_type.to_owned())));
        }
    }

    /// Records the request's duration, from its start until now; `span` is its span, an exemplar if sampled.
    pub(crate) fn end(mut self, span: &tracing::Span) {
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let exemplar = (!span.is_disabled()).then(|| Exemplar::span_context(span));
        self.durations.record(
            std::mem::take(&mut self.attributes),
            nanos,
            exemplar.as_ref(),
        );
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        if let Some(active) = self.active.take() {
            SERVER_ACTIVE.add(&active, -1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_sets_past_the_limit_overflow_into_one_series() {
        let durations = Durations::default();
        for i in 0..CARDINALITY_LIMIT + 5 {
            durations.record(
                vec![("http.route", Value::Str(format!("/r{i}")))],
                1_000,
                None,
            );
        }
        durations.record(vec![("http.route", Value::Str("/r0".into()))], 1_000, None);
        let (points, overflow) = durations.collect(0);
        assert_eq!(points.len(), CARDINALITY_LIMIT);
        assert_eq!(overflow.map(|o| o.count()), Some(5));
        assert!(points
            .iter()
            .any(|(a, p)| a[0].1 == Value::Str("/r0".into()) && p.count() == 2));
        let active = Active::default();
        let attributes = vec![("http.request.method", Value::Str("GET".into()))];
        active.add(&attributes, 1);
        active.add(&attributes, 1);
        active.add(&attributes, -1);
        assert_eq!(active.collect(), (vec![(attributes, 1)], None));
    }
}
