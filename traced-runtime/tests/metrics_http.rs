//! The HTTP instruments over OTLP to the in-process receiver: `TraceLayer` records `http.server.request.duration`
//! and `http.server.active_requests`, `ClientTraceLayer` records `http.client.request.duration`, each with the
//! semantic-convention attributes of its request and the request's sampled span as exemplar.

mod metrics_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use metrics_support::{attr, exemplar_trace_ids, hex, histogram_points, int, sum_points};
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::HistogramDataPoint;
use tower::{Service, ServiceExt};
use tower_layer::Layer;
use traced::config::{Config, ExporterKind, LogFormat, MetricsExporterKind, Protocol};
use traced::http::{ClientTraceLayer, TraceLayer};
use traced::metrics::names::{
    HTTP_CLIENT_REQUEST_DURATION, HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION,
};
use traced_test_support::{Drip, Receiver};

/// An integer attribute (status codes, ports).
fn int_attr(attributes: &[KeyValue], key: &str) -> Option<i64> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::IntValue(v) => Some(*v),
            _ => None,
        }
    })
}

/// The point of `points` whose string attribute `key` is `value` and whose status code is `status`.
fn point<'a>(
    points: &'a [HistogramDataPoint],
    key: &str,
    value: &str,
    status: i64,
) -> &'a HistogramDataPoint {
    points
        .iter()
        .find(|p| {
            attr(&p.attributes, key) == Some(value)
                && int_attr(&p.attributes, "http.response.status_code") == Some(status)
        })
        .unwrap_or_else(|| panic!("no point with {key}={value} and status {status}: {points:#?}"))
}

#[test]
fn server_and_client_requests_are_measured_with_their_attributes_and_exemplars() {
    let receiver = Receiver::start();
    let base = format!("http://{}", receiver.addr);
    let guard = Config::builder()
        .without_env()
        .with_service_name("metrics-http")
        .with_exporters([ExporterKind::Otlp])
        .with_protocol(Protocol::HttpProtobuf)
        .with_otlp_endpoint(base)
        .with_metrics_exporters([MetricsExporterKind::Otlp])
        .with_logs_exporters([])
        .with_log_format(LogFormat::None)
        .build()
        .unwrap()
        .init()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = runtime.block_on(async {
        let app = axum::Router::new()
            .route("/orders/{id}", axum::routing::get(|| async { "ok" }))
            .route(
                "/fail",
                axum::routing::get(|| async {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "no")
                }),
            )
            .route(
                "/stream",
                axum::routing::get(|| async {
                    axum::body::Body::new(Drip::new(2, Duration::from_millis(150)))
                }),
            )
            .route(
                "/missing",
                axum::routing::get(|| async { (axum::http::StatusCode::NOT_FOUND, "gone") }),
            )
            .layer(TraceLayer::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut client = ClientTraceLayer::new()
            .layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
        for path in [
            "/orders/1",
            "/orders/2",
            "/orders/3",
            "/fail",
            "/missing",
            "/stream",
        ] {
            let request = http::Request::get(format!("http://{addr}{path}"))
                .body(Empty::new())
                .unwrap();
            let response = client.ready().await.unwrap().call(request).await.unwrap();
            response.into_body().collect().await.unwrap();
        }
        addr.port()
    });
    guard.force_flush().unwrap();

    let start = Instant::now();
    let (requests, spans) = loop {
        let requests = receiver.metrics();
        let spans = receiver.spans();
        let servers = spans
            .iter()
            .filter(|s| s.attr("http.route").is_some())
            .count();
        if !histogram_points(&requests, HTTP_CLIENT_REQUEST_DURATION).is_empty() && servers >= 6
            || start.elapsed() > Duration::from_secs(20)
        {
            break (requests, spans);
        }
        std::thread::sleep(Duration::from_millis(50));
    };

    // The server: one series per route and status, with the request's method, scheme and protocol version;
    // only a 5xx is an error.
    let server = histogram_points(&requests, HTTP_SERVER_REQUEST_DURATION);
    let orders = point(&server, "http.route", "/orders/{id}", 200);
    assert_eq!(orders.count, 3, "{server:#?}");
    assert_eq!(attr(&orders.attributes, "http.request.method"), Some("GET"));
    assert_eq!(attr(&orders.attributes, "url.scheme"), Some("http"));
    assert_eq!(
        attr(&orders.attributes, "network.protocol.version"),
        Some("1.1")
    );
    assert_eq!(attr(&orders.attributes, "error.type"), None);
    let failed = point(&server, "http.route", "/fail", 500);
    assert_eq!(failed.count, 1);
    assert_eq!(attr(&failed.attributes, "error.type"), Some("500"));
    let missing = point(&server, "http.route", "/missing", 404);
    assert_eq!(
        attr(&missing.attributes, "error.type"),
        None,
        "a 4xx is the client's error, not the server's"
    );
    // A streamed body is part of the request: two chunks 150 ms apart, sent after the head.
    let streamed = point(&server, "http.route", "/stream", 200);
    assert_eq!(streamed.count, 1);
    assert!(
        streamed.sum.unwrap_or_default() >= 0.3,
        "the duration stopped at the response head: {streamed:#?}"
    );
    assert_eq!(
        orders.explicit_bounds,
        [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
    );
    let server_traces: HashSet<String> = spans
        .iter()
        .filter(|s| s.attr("http.route").is_some())
        .map(|s| hex(&s.trace_id))
        .collect();
    let exemplars = exemplar_trace_ids(std::slice::from_ref(orders));
    assert!(!exemplars.is_empty(), "{orders:#?}");
    assert!(
        exemplars.is_subset(&server_traces),
        "{exemplars:?} not in {server_traces:?}"
    );

    // No request under way once all were answered.
    let active = sum_points(&requests, HTTP_SERVER_ACTIVE_REQUESTS);
    assert!(!active.is_empty());
    assert!(active.iter().all(|p| int(p) == 0), "{active:#?}");
    assert!(active.iter().all(
        |p| attr(&p.attributes, "http.request.method") == Some("GET")
            && attr(&p.attributes, "url.scheme") == Some("http")
    ));

    // The client: the server's address and port; from 400 on, the status code is the error type.
    let client = histogram_points(&requests, HTTP_CLIENT_REQUEST_DURATION);
    let ok = point(&client, "server.address", "127.0.0.1", 200);
    assert_eq!(ok.count, 4, "{client:#?}");
    assert_eq!(
        int_attr(&ok.attributes, "server.port"),
        Some(i64::from(port))
    );
    assert_eq!(attr(&ok.attributes, "http.request.method"), Some("GET"));
    assert_eq!(attr(&ok.attributes, "error.type"), None);
    assert_eq!(
        attr(
            &point(&client, "server.address", "127.0.0.1", 404).attributes,
            "error.type"
        ),
        Some("404")
    );
    assert_eq!(
        attr(
            &point(&client, "server.address", "127.0.0.1", 500).attributes,
            "error.type"
        ),
        Some("500")
    );
    let client_traces: HashSet<String> = spans
        .iter()
        .filter(|s| s.attr("url.full").is_some())
        .map(|s| hex(&s.trace_id))
        .collect();
    let exemplars = exemplar_trace_ids(std::slice::from_ref(ok));
    assert!(
        !exemplars.is_empty() && exemplars.is_subset(&client_traces),
        "{exemplars:?} not in {client_traces:?}"
    );
    guard.shutdown().unwrap();
}
