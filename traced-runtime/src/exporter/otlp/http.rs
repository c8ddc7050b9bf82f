//! OTLP/HTTP: one POST of protobuf or JSON to the traces URL per attempt.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};

use super::{unreachable, Attempt};
use crate::config::{OtlpConfig, Protocol};
use crate::exporter::retry;
use crate::Error;

#[derive(Debug)]
pub(super) struct Http {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    json: bool,
    gzip: bool,
}

impl Http {
    pub(super) fn new(config: &OtlpConfig, gzip: bool) -> Result<Self, Error> {
        let invalid = |option: &str, value: String, reason: String| Error::InvalidValue {
            option: option.into(),
            value,
            reason,
        };
        let url = reqwest::Url::parse(&config.endpoint).map_err(|e| {
            invalid(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                config.endpoint.clone(),
                e.to_string(),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                config.endpoint.clone(),
                "the scheme must be http or https".into(),
            ));
        }
        let mut headers = HeaderMap::new();
        for (key, value) in &config.headers {
            let bad = |reason: String| {
                invalid(
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    format!("{key}={value}"),
                    reason,
                )
            };
            let name = HeaderName::from_bytes(key.as_bytes())
                .map_err(|e| bad(format!("not an HTTP header name: {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| bad(format!("not an HTTP header value: {e}")))?;
            headers.append(name, value);
        }
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| Error::Exporter {
                exporter: "otlp",
                reason: e.to_string(),
            })?;
        Ok(Http {
            client,
            url,
            headers,
            json: config.protocol == Protocol::HttpJson,
            gzip,
        })
    }

    /// True for OTLP/JSON, false for protobuf.
    pub(super) fn json(&self) -> bool {
        self.json
    }

    /// The request body from the encoded request: gzipped when configured. Done once for every attempt.
    pub(super) fn compress(&self, body: Vec<u8>) -> Result<Bytes, String> {
        if !self.gzip {
            return Ok(body.into());
        }
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::default(),
        );
        encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .map(Bytes::from)
            .map_err(|e| format!("cannot gzip the request: {e}"))
    }

    pub(super) async fn send(&self, body: Bytes, timeout: Duration) -> Result<(), Attempt> {
        let content_type = if self.json {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        let mut request = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, content_type)
            .timeout(timeout)
            .body(body);
        if self.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(self.url.as_str(), e))?;
        let status = response.status();
        if status.is_success() {
            // A partial success (some spans rejected) is still a success: retrying would duplicate the rest.
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok());
        Err(Attempt {
            message: format!("{} answered HTTP {status}", self.url),
            retry: retry::http_status(status.as_u16(), retry_after),
        })
    }
}
