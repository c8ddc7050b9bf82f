//! The OTLP/HTTP routes of a receiver (`POST /v1/traces`, `/v1/metrics`, `/v1/logs`: protobuf or JSON by
//! content type, gzip bodies decoded) and Zipkin's `POST /api/v2/spans`.

use std::io::Read as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde::de::DeserializeOwned;

use crate::fault::Play;
use crate::store::{Payload, Signal, Store};
use crate::{zipkin, MAX_MESSAGE_BYTES};

/// Zipkin v2's span endpoint.
pub(crate) const ZIPKIN_PATH: &str = "/api/v2/spans";

pub(crate) fn routes(store: Arc<Store>) -> axum::Router {
    axum::Router::new()
        .route(
            Signal::Traces.path(),
            otlp::<ExportTraceServiceRequest>(store.clone(), Signal::Traces, Payload::Traces),
        )
        .route(
            Signal::Metrics.path(),
            otlp::<ExportMetricsServiceRequest>(store.clone(), Signal::Metrics, Payload::Metrics),
        )
        .route(
            Signal::Logs.path(),
            otlp::<ExportLogsServiceRequest>(store.clone(), Signal::Logs, Payload::Logs),
        )
        .route(
            ZIPKIN_PATH,
            post(move |headers: HeaderMap, body: Bytes| async move {
                answer(
                    &store,
                    Signal::Traces,
                    &headers,
                    StatusCode::ACCEPTED,
                    || {
                        let spans: Vec<serde_json::Value> =
                            serde_json::from_slice(&decompress(&headers, body)?)
                                .map_err(|e| e.to_string())?;
                        Ok(Payload::Traces(zipkin::to_otlp(&spans)))
                    },
                )
                .await
            }),
        )
        .layer(DefaultBodyLimit::max(MAX_MESSAGE_BYTES))
}

/// The route of one OTLP signal, decoding its request type `T`.
fn otlp<T>(store: Arc<Store>, signal: Signal, payload: fn(T) -> Payload) -> MethodRouter
where
    T: Message + Default + DeserializeOwned + 'static,
{
    post(move |headers: HeaderMap, body: Bytes| async move {
        answer(&store, signal, &headers, StatusCode::OK, || {
            decode::<T>(&headers, body).map(payload)
        })
        .await
    })
}

/// Records the request, plays the fault due, then decodes and keeps the body: `ok` when it decodes, 400 with
/// the decoding error when not.
async fn answer(
    store: &Store,
    signal: Signal,
    headers: &HeaderMap,
    ok: StatusCode,
    decode: impl FnOnce() -> Result<Payload, String>,
) -> Response {
    let (arrival, play) = store.arrive(signal, header_pairs(headers.iter()));
    match play {
        Play::Accept(delay) => tokio::time::sleep(delay).await,
        Play::Refuse(refusal) => {
            let status = StatusCode::from_u16(refusal.status).expect("an HTTP status in 100..=999");
            let mut response = status.into_response();
            if let Some(after) = refusal.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs()));
            }
            return response;
        }
        Play::Hang => std::future::pending::<()>().await,
    }
    match decode() {
        Ok(payload) => {
            store.accept(arrival, payload);
            ok.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

/// An OTLP request body: JSON for `application/json`, protobuf otherwise.
fn decode<T: Message + Default + DeserializeOwned>(
    headers: &HeaderMap,
    body: Bytes,
) -> Result<T, String> {
    let body = decompress(headers, body)?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    } else {
        T::decode(body).map_err(|e| e.to_string())
    }
}

/// The body, gunzipped if its `Content-Encoding` says gzip.
fn decompress(headers: &HeaderMap, body: Bytes) -> Result<Bytes, String> {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    if !gzip {
        return Ok(body);
    }
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut plain)
        .map_err(|e| format!("gzip body: {e}"))?;
    Ok(plain.into())
}

/// Headers (or gRPC metadata) as text pairs; a value that is not text is kept lossily.
pub(crate) fn header_pairs<'a>(
    headers: impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)>,
) -> Vec<(String, String)> {
    headers
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}
