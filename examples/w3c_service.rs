//! The test service of the W3C Trace Context conformance harness, built on the public API alone: a hyper server
//! wrapped in `TraceLayer`, calling out through a hyper-util client wrapped in `ClientTraceLayer`.
//!
//! The harness POSTs to `/test` a JSON array of `{"url": .., "arguments": ..}`; for each element, in order, the
//! service POSTs `arguments` (as JSON) to `url`. The harness then reads the `traceparent` and `tracestate` of those
//! calls: each one is a client span, child of the server span that continued the harness's headers.
//!
//! ```sh
//! OTEL_TRACES_EXPORTER=none cargo run --example w3c_service --features http -- 127.0.0.1:5000
//! STRICT_LEVEL=2 SPEC_LEVEL=2 python3 ../shared/w3c-trace-context/test.py http://127.0.0.1:5000/test
//! ```
//!
//! `bash .ci/w3c` does both and counts the results. The address defaults to `127.0.0.1:0` (any free port); the
//! service prints `listening on http://ADDR/test` once it accepts connections and runs until it is killed.

use std::convert::Infallible;

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tower::{Layer, ServiceExt};
use traced::http::{ClientTraceLayer, ClientTraceService, TraceLayer};

/// A hyper client whose requests carry the trace.
type HttpClient = ClientTraceService<Client<HttpConnector, Full<Bytes>>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // No collector is needed: the harness reads the headers, not the spans (the script sets
    // OTEL_TRACES_EXPORTER=none). Propagators and sampler are the defaults every user gets.
    let _guard = traced::init()?;

    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}/test", listener.local_addr()?);

    let client: HttpClient =
        ClientTraceLayer::new().layer(Client::builder(TokioExecutor::new()).build_http());
    let server = TraceLayer::new().layer(tower::service_fn(move |request| {
        handle(client.clone(), request)
    }));
    loop {
        let (stream, _) = listener.accept().await?;
        let server = server.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| server.clone().oneshot(request));
            // A connection the harness drops mid-request is its business; the service goes on.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `POST /test`: makes the calls the body lists, in order, and answers with their status codes.
async fn handle(
    client: HttpClient,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::POST || request.uri().path() != "/test" {
        return Ok(reply(StatusCode::NOT_FOUND, "only POST /test\n".into()));
    }
    let calls = match request.into_body().collect().await {
        Ok(body) => serde_json::from_slice::<Vec<Value>>(&body.to_bytes()),
        Err(e) => return Ok(reply(StatusCode::BAD_REQUEST, format!("body: {e}\n"))),
    };
    let calls = match calls {
        Ok(calls) => calls,
        Err(e) => {
            return Ok(reply(
                StatusCode::BAD_REQUEST,
                format!("not a JSON array: {e}\n"),
            ))
        }
    };
    let mut statuses = Vec::with_capacity(calls.len());
    for call in &calls {
        match call_back(&client, call).await {
            Ok(status) => statuses.push(Value::from(status.as_u16())),
            Err(e) => return Ok(reply(StatusCode::BAD_GATEWAY, format!("{e}\n"))),
        }
    }
    let mut response = reply(StatusCode::OK, Value::Array(statuses).to_string());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// POSTs `call.arguments` to `call.url` through the traced client.
async fn call_back(client: &HttpClient, call: &Value) -> Result<StatusCode, String> {
    let url = call["url"]
        .as_str()
        .ok_or_else(|| format!("no url in {call}"))?;
    let arguments = call.get("arguments").cloned().unwrap_or(Value::Null);
    let request = Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(arguments.to_string())))
        .map_err(|e| format!("{url}: {e}"))?;
    let response = client
        .clone()
        .oneshot(request)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    // Read to the end, so the connection goes back to the pool.
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(status)
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}
