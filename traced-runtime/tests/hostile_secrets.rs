//! Secrets planted everywhere a service puts them (query strings, URLs, error texts, log messages, resource
//! attributes, card numbers, a bad header in the configuration) never leave the process: every byte exported over
//! OTLP/HTTP and everything the pipeline printed on stderr is searched for them.
//!
//! The application runs as a child process (this test binary again, [`child`]), so that its stderr can be read
//! whole and its environment is its own.
#![cfg(all(feature = "http", feature = "otlp-http"))]

use std::error::Error as StdError;
use std::fmt;
use std::process::Command;
use std::time::Duration;

use http::{Request, Response};
use tower::{Service, ServiceExt};
use tower_layer::Layer;
use traced_runtime::http::{ClientTraceLayer, TraceLayer};
use traced_test_support::Receiver;

/// Each secret is unique text, so a hit names what leaked.
const SECRETS: &[&str] = &[
    "QUERY-SECRET-1",
    "URL-PASSWORD-2",
    "URL-QUERY-SECRET-3",
    "STATUS-SECRET-4",
    "ERROR-SECRET-5",
    "CHAIN-SECRET-6",
    "LOG-SECRET-7",
    "RESOURCE-SECRET-8",
    "RESOURCE-SECRET-9",
    "4111111111111111",
    "078-05-1120",
    "CVV-SECRET-10",
    "PRIVATE-KEY-SECRET-11",
    "sk-live-HEADER-12",
    "ZIPKIN-PASSWORD-13",
    "CONFIG-SECRET-14",
];

/// Set in the child's environment: run the application instead of skipping.
const CHILD: &str = "TRACED_HOSTILE_SECRETS_CHILD";

#[test]
fn planted_secrets_are_neither_exported_nor_logged() {
    let receiver = Receiver::start();
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{}", receiver.addr),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=payments,db.password=RESOURCE-SECRET-8,auth.token=RESOURCE-SECRET-9",
        )
        // Sent as a header (that is what it is for), never printed.
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer sk-live-HEADER-12",
        )
        // Invalid, and its exporter is not used: a warning on stderr, which must not quote the password.
        .env(
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
            "http://me:ZIPKIN-PASSWORD-13@zipkin:port",
        )
        .env("TRACED_LOG_FORMAT", "none")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("OTEL_EXPORTER_ZIPKIN_ENDPOINT") && stderr.contains("with_header"),
        "the child printed its warning and its error: {stderr}"
    );

    // The bodies: the headers carry the configured credential, which is what they are for.
    let received = receiver.received();
    let exported = format!(
        "{:?}",
        received.iter().map(|r| &r.payload).collect::<Vec<_>>()
    );
    assert!(
        received
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer sk-live-HEADER-12")),
        "the header is still sent"
    );
    let spans = receiver.spans();
    assert!(spans.len() >= 4, "{} spans: {exported}", spans.len());
    for secret in SECRETS {
        assert!(!exported.contains(secret), "{secret} exported: {exported}");
        assert!(!stderr.contains(secret), "{secret} printed: {stderr}");
        assert!(!stdout.contains(secret), "{secret} printed: {stdout}");
    }
    // What is left where the secrets were.
    let server = spans
        .iter()
        .find(|s| s.attr("url.query").is_some())
        .unwrap();
    assert_eq!(
        server.attr("url.query"),
        Some("q=shoes&api_key=REDACTED&page=2")
    );
    assert_eq!(server.resource_attr("db.password"), Some("[REDACTED]"));
    assert_eq!(server.resource_attr("team"), Some("payments"));
    let client = spans.iter().find(|s| s.attr("url.full").is_some()).unwrap();
    assert_eq!(
        client.attr("url.full"),
        Some("https://REDACTED:REDACTED@shop.example/cart?password=REDACTED&item=7")
    );
    let failed = spans.iter().find(|s| s.name == "login").unwrap();
    let description = &failed.status.as_ref().unwrap().message;
    assert_eq!(
        description,
        "login failed for token=[REDACTED] (retry later)"
    );
    assert!(
        failed
            .events
            .iter()
            .any(|e| e.name == "user logged in with password=[REDACTED]"),
        "{:?}",
        failed.events
    );
    let card = spans.iter().find(|s| s.name == "pay").unwrap();
    for key in ["credit_card", "card.cvv", "customer.ssn", "tls.private_key"] {
        assert_eq!(card.attr(key), Some("[REDACTED]"), "{key}");
    }
}

/// The application: the spans, the error and the configuration mistake the parent looks for secrets in.
#[test]
fn child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    // `main() -> Result<(), traced::Error>` prints the error with `Debug`: a header value in it would leak.
    let refused = traced_runtime::Config::builder()
        .without_env()
        .with_header("authorization", "Bearer CONFIG-SECRET-14\n")
        .build()
        .unwrap_err();
    eprintln!("Error: {refused:?}");

    let guard = traced_runtime::init().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(http_calls());
    let login = tracing::info_span!(
        "login",
        otel.status_description = tracing::field::Empty,
        error = tracing::field::Empty
    );
    login.in_scope(|| tracing::info!("user logged in with password=LOG-SECRET-7"));
    login.record(
        "otel.status_description",
        "login failed for token=STATUS-SECRET-4 (retry later)",
    );
    let error = LoginError;
    login.record("error", &error as &(dyn StdError + 'static));
    drop(login);
    drop(tracing::info_span!(
        "pay",
        credit_card = "4111111111111111",
        card.cvv = "CVV-SECRET-10",
        customer.ssn = "078-05-1120",
        tls.private_key = "PRIVATE-KEY-SECRET-11",
    ));
    let (_, stats) = guard.shutdown_with_stats();
    assert_eq!(stats.failed, 0, "{stats:?}");
}

/// A server request with a secret query parameter, a client request with credentials and a secret parameter.
async fn http_calls() {
    // The server span ends with the response body: a body type, read to its end below.
    let mut server = TraceLayer::new().layer(tower::service_fn(|_: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::new(String::new()))
    }));
    let request = Request::get("/search?q=shoes&api_key=QUERY-SECRET-1&page=2")
        .body(())
        .unwrap();
    let response = server.ready().await.unwrap().call(request).await.unwrap();
    http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap();
    let mut client = ClientTraceLayer::new().layer(tower::service_fn(|_: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::new(()))
    }));
    let request = Request::get(
        "https://buyer:URL-PASSWORD-2@shop.example/cart?password=URL-QUERY-SECRET-3&item=7",
    )
    .body(())
    .unwrap();
    client.ready().await.unwrap().call(request).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// An error whose message and cause carry secrets, as real ones do.
#[derive(Debug)]
struct LoginError;

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("login refused: session=ERROR-SECRET-5")
    }
}

impl StdError for LoginError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&Cause)
    }
}

#[derive(Debug)]
struct Cause;

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("upstream said api_key: CHAIN-SECRET-6")
    }
}

impl StdError for Cause {}
