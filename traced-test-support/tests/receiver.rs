//! The receiver over both wires: what the tests and benches of the workspace do not exercise already (gzip and
//! JSON over HTTP, metrics and logs, gRPC codes, black holes, restarts, counting, one wire only).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use prost::Message as _;
use traced_test_support::proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use traced_test_support::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use traced_test_support::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use traced_test_support::proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use traced_test_support::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use traced_test_support::proto::tonic::common::v1::any_value::Value;
use traced_test_support::proto::tonic::trace::v1::span::SpanKind;
use traced_test_support::{Fault, Receiver, Serve, Signal};

/// A traces request of one span per name, each with an `n` int attribute, under `service.name` = `svc`.
fn traces(names: &[&str]) -> ExportTraceServiceRequest {
    serde_json::from_value(serde_json::json!({
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
            "scopeSpans": [{
                "scope": {"name": "scope"},
                "spans": names.iter().map(|name| serde_json::json!({
                    "name": name,
                    "traceId": "0af7651916cd43dd8448eb211c80319c",
                    "spanId": "b7ad6b7169203331",
                    "kind": 2,
                    "attributes": [{"key": "n", "value": {"intValue": "7"}}],
                })).collect::<Vec<_>>(),
            }],
        }],
    }))
    .expect("an OTLP/JSON traces request")
}

/// An HTTP/1.1 POST; returns the status and the response headers.
fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    request += "\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"));
    (status, response)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn http_decodes_protobuf_json_and_gzip_for_every_signal() {
    let receiver = Receiver::start();
    let protobuf = traces(&["a"]).encode_to_vec();
    let (status, _) = post(receiver.addr, "/v1/traces", &[], &protobuf);
    assert_eq!(status, 200);
    let json = serde_json::to_vec(&traces(&["b", "c"])).unwrap();
    let (status, _) = post(
        receiver.addr,
        "/v1/traces",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        &gzip(&json),
    );
    assert_eq!(status, 200);
    let metrics = ExportMetricsServiceRequest::default().encode_to_vec();
    assert_eq!(post(receiver.addr, "/v1/metrics", &[], &metrics).0, 200);
    let logs = serde_json::to_vec(&ExportLogsServiceRequest::default()).unwrap();
    let (status, _) = post(
        receiver.addr,
        "/v1/logs",
        &[("content-type", "application/json"), ("x-tenant", "acme")],
        &logs,
    );
    assert_eq!(status, 200);
    assert_eq!(post(receiver.addr, "/v1/traces", &[], b"\xff\xff").0, 400);

    let spans = receiver.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let span = &spans[1];
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.attribute("n"), Some(&Value::IntValue(7)));
    assert_eq!(span.attr("n"), None, "not a string");
    assert_eq!(span.resource_attr("service.name"), Some("svc"));
    assert_eq!(span.scope.as_ref().map(|s| s.name.as_str()), Some("scope"));
    assert_eq!(span.trace_id.len(), 16);
    assert_eq!(receiver.span_count(), 3);
    assert_eq!((receiver.metrics().len(), receiver.logs().len()), (1, 1));
    assert_eq!(receiver.requests(), 5);
    let signals: Vec<Signal> = receiver.received().iter().map(|r| r.signal).collect();
    assert_eq!(
        signals,
        [
            Signal::Traces,
            Signal::Traces,
            Signal::Metrics,
            Signal::Logs,
            Signal::Traces
        ]
    );
    assert_eq!(receiver.received()[3].header("x-tenant"), Some("acme"));
    assert_eq!(
        receiver.last_header("x-tenant"),
        None,
        "the last request had none"
    );
}

#[test]
fn http_faults_answer_a_status_and_retry_after() {
    let receiver = Receiver::start();
    receiver.fail(Fault::Status(429, Some(Duration::from_secs(2))), 1);
    let body = traces(&["a"]).encode_to_vec();
    let (status, response) = post(receiver.addr, "/v1/traces", &[], &body);
    assert_eq!(status, 429);
    assert!(response.contains("retry-after: 2"), "{response}");
    receiver.fail(Fault::Code(tonic::Code::Unavailable, None), 1);
    assert_eq!(post(receiver.addr, "/v1/traces", &[], &body).0, 503);
    assert_eq!(post(receiver.addr, "/v1/traces", &[], &body).0, 200);
    assert_eq!((receiver.requests(), receiver.span_count()), (3, 1));
    assert_eq!(receiver.arrivals().len(), 3);
}

#[tokio::test]
async fn grpc_faults_answer_a_code_with_retry_info() {
    use tonic_types::StatusExt as _;

    let receiver = Receiver::start();
    receiver.fail(Fault::Status(429, Some(Duration::from_secs(3))), 1);
    let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .unwrap();
    let mut request = tonic::Request::new(traces(&["a"]));
    request
        .metadata_mut()
        .insert("x-tenant", "acme".parse().unwrap());
    let status = client.export(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    let hint = status.get_details_retry_info().and_then(|i| i.retry_delay);
    assert_eq!(hint, Some(Duration::from_secs(3)));
    let mut request = tonic::Request::new(traces(&["b"]));
    request
        .metadata_mut()
        .insert("x-tenant", "acme".parse().unwrap());
    client.export(request).await.unwrap();
    assert_eq!(receiver.spans()[0].name, "b");
    assert_eq!(receiver.last_header("x-tenant").as_deref(), Some("acme"));
}

#[test]
fn a_black_hole_accepts_connections_and_never_answers() {
    let receiver = Receiver::start();
    receiver.fail(Fault::BlackHole, 1);
    let mut held = TcpStream::connect(receiver.addr).unwrap();
    held.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    held.write_all(b"POST /v1/traces HTTP/1.1\r\nhost: test\r\ncontent-length: 0\r\n\r\n")
        .unwrap();
    let mut byte = [0u8; 1];
    let read = held.read(&mut byte);
    assert!(
        read.as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "{read:?}"
    );
    assert_eq!(receiver.requests(), 0, "never read");
    // Used up: the next connection is served.
    assert_eq!(post(receiver.addr, "/v1/traces", &[], &[]).0, 200);
}

#[test]
fn a_restart_serves_the_same_address_with_what_was_received() {
    let receiver = Receiver::start();
    let body = traces(&["before"]).encode_to_vec();
    assert_eq!(post(receiver.addr, "/v1/traces", &[], &body).0, 200);
    let stopped = receiver.stop();
    assert!(TcpStream::connect(stopped.addr).is_err(), "nothing listens");
    let receiver = stopped.restart();
    let body = traces(&["after"]).encode_to_vec();
    assert_eq!(post(receiver.addr, "/v1/traces", &[], &body).0, 200);
    let names: Vec<String> = receiver.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["before", "after"]);
}

#[test]
fn counting_keeps_nothing_and_counts_the_spans_named() {
    let receiver = Receiver::builder().count_only("work").start();
    let body = traces(&["work", "other", "work"]).encode_to_vec();
    assert_eq!(post(receiver.addr, "/v1/traces", &[], &body).0, 200);
    assert_eq!(receiver.settle(2, Duration::from_secs(1)), 2);
    assert_eq!(receiver.requests(), 1);
    assert!(receiver.spans().is_empty() && receiver.received().is_empty());
}

#[tokio::test]
async fn counting_answers_logs_over_grpc_unread_and_plays_their_faults() {
    let receiver = Receiver::builder().count_only("work").start();
    let mut client = LogsServiceClient::connect(receiver.grpc_endpoint())
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let logs: ExportLogsServiceRequest = serde_json::from_value(serde_json::json!({
        "resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "hello"}}]}]}],
    }))
    .unwrap();
    receiver.fail(Fault::Code(tonic::Code::Unavailable, None), 1);
    let status = client.export(logs.clone()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    client.export(logs).await.unwrap();
    assert_eq!(receiver.requests(), 2);
    assert!(receiver.logs().is_empty() && receiver.received().is_empty());
}

#[test]
fn one_wire_only_closes_the_other() {
    let receiver = Receiver::builder().serve(Serve::Grpc).start();
    let mut stream = TcpStream::connect(receiver.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"POST /v1/traces HTTP/1.1\r\nhost: test\r\ncontent-length: 0\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    assert!(
        !response.starts_with(b"HTTP/1.1"),
        "answered over HTTP/1.1: {:?}",
        String::from_utf8_lossy(&response)
    );
    assert_eq!(receiver.requests(), 0);
}

#[test]
fn zipkin_spans_are_read_as_otlp_spans() {
    let receiver = Receiver::start();
    let body = serde_json::json!([{
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "id": "b7ad6b7169203331",
        "name": "get",
        "kind": "CLIENT",
        "timestamp": 1_000,
        "duration": 5,
        "localEndpoint": {"serviceName": "shop"},
        "tags": {"http.method": "GET"},
    }]);
    let (status, _) = post(
        receiver.addr,
        "/api/v2/spans",
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 202);
    let span = &receiver.spans()[0];
    assert_eq!(span.name, "get");
    assert_eq!(span.kind, SpanKind::Client);
    assert_eq!(span.trace_id[0], 0x0a);
    assert_eq!(span.span_id.len(), 8);
    assert_eq!(span.resource_attr("service.name"), Some("shop"));
    assert_eq!(span.attr("http.method"), Some("GET"));
}
