//! Interop with the OpenTelemetry Python SDK over real HTTP on loopback (`tests/interop/*.py`):
//! a Python client calling our server, and our client calling a Python server, each continuing the other's
//! trace and baggage.
//!
//! Needs `python3` with `opentelemetry-sdk` (`.ci/requirements.txt`); fails, never skips, without them.
#![cfg(feature = "http")]

mod http_support;

use std::process::Stdio;
use std::time::Duration;

use http_support::*;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Bound on every wait for a Python child.
const TIMEOUT: Duration = Duration::from_secs(30);

fn script(name: &str) -> String {
    format!("{}/../tests/interop/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `python3` with the SDK, the same environment for every child: the SDK's default propagators whatever the
/// environment of the test run says.
fn python(script_name: &str) -> Command {
    let check = std::process::Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.sdk.trace, opentelemetry.propagate",
        ])
        .output()
        .expect("python3 is needed for the interop tests");
    assert!(
        check.status.success(),
        "the interop tests need the OpenTelemetry Python SDK: pip install -r .ci/requirements.txt\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut command = Command::new("python3");
    command
        .arg(script(script_name))
        .env_remove("OTEL_PROPAGATORS")
        .env_remove("OTEL_SDK_DISABLED")
        .env("OTEL_TRACES_EXPORTER", "none")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn a_python_client_is_continued_by_our_server() {
    let base = server().await;
    let output = tokio::time::timeout(
        TIMEOUT,
        python("client.py").arg(format!("{base}/headers")).output(),
    )
    .await
    .expect("client.py within the timeout")
    .expect("client.py runs");
    assert!(
        output.status.success(),
        "client.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], 200);
    let python_trace = report["trace_id"].as_str().unwrap();
    let python_span = report["span_id"].as_str().unwrap();

    let trace_id = opentelemetry::trace::TraceId::from_hex(python_trace).unwrap();
    let spans = spans_of(trace_id, 1);
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(server.parent_span_id.to_string(), python_span);
    assert!(server.parent_span_is_remote);

    // The handler saw the Python baggage, and the response names our server span.
    let seen: serde_json::Value = serde_json::from_str(report["body"].as_str().unwrap()).unwrap();
    assert_eq!(seen["baggage"]["tenant"], "acme");
    let (trace, span) = parse_traceparent(report["response_traceparent"].as_str().unwrap());
    assert_eq!(trace, trace_id);
    assert_eq!(span, server.span_context.span_id());
}

#[tokio::test]
async fn a_python_server_continues_our_client() {
    exporter();
    let mut child = python("server.py")
        .stdout(Stdio::piped())
        .spawn()
        .expect("server.py starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(TIMEOUT, lines.next_line())
        .await
        .expect("server.py prints its port within the timeout")
        .unwrap()
        .expect("server.py prints its port");
    let port = serde_json::from_str::<serde_json::Value>(&first).unwrap()["port"]
        .as_u64()
        .unwrap();

    let root = tracing::info_span!("root", otel.name = "to-python");
    root.set_parent(Context::new().with_baggage([KeyValue::new("tenant", "acme")]))
        .unwrap();
    let trace_id = root.context().span().span_context().trace_id();
    let reply = traced_get(&mut client(), &format!("http://127.0.0.1:{port}/orders/7"))
        .instrument(root)
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    let report: serde_json::Value = serde_json::from_str(&reply.body).unwrap();

    let spans = spans_of(trace_id, 2);
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    let client_id = client.span_context.span_id().to_string();
    assert_eq!(report["extracted_valid"], true);
    assert_eq!(report["extracted_remote"], true);
    assert_eq!(report["extracted_trace_id"], trace_id.to_string());
    assert_eq!(report["extracted_span_id"], client_id);
    // The SDK's own span continues our trace, as a child of our client span.
    assert_eq!(report["span_trace_id"], trace_id.to_string());
    assert_eq!(report["span_parent_id"], client_id);
    assert_eq!(report["baggage"], serde_json::json!({ "tenant": "acme" }));

    child.kill().await.unwrap();
}
