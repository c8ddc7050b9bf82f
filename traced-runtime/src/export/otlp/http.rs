//! OTLP/HTTP: one POST of protobuf or JSON to the signal's URL per attempt.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::StatusCode;

use super::retry::{self, Attempt};
use super::transport::{
    bad_endpoint, bad_header, gzip, no_answer, printable, unreachable, TOO_LARGE,
};
use crate::config::{OtlpConfig, Protocol};
use crate::Error;

#[derive(Debug)]
pub(super) struct Http {
    client: reqwest::Client,
    /// The signal's URL (`/v1/traces`), credentials included: reqwest sends them as basic authentication.
    url: reqwest::Url,
    /// The URL without credentials, for messages.
    printable: String,
    headers: HeaderMap,
    json: bool,
    gzip: bool,
}

impl Http {
    pub(super) fn new(config: &OtlpConfig, gzip: bool) -> Result<Self, Error> {
        let url =
            reqwest::Url::parse(&config.endpoint).map_err(|e| bad_endpoint(&config.endpoint, e))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad_endpoint(
                &config.endpoint,
                "the scheme must be http or https",
            ));
        }
        let mut headers = HeaderMap::new();
        for (key, value) in &config.headers {
            let name = HeaderName::from_bytes(key.as_bytes())
                .map_err(|e| bad_header(key, format!("not an HTTP header name: {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| bad_header(key, format!("not an HTTP header value: {e}")))?;
            headers.append(name, value);
        }
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| Error::Exporter {
                exporter: "otlp",
                reason: e.without_url().to_string(),
            })?;
        Ok(Http {
            client,
            printable: printable(url.as_str()),
            url,
            headers,
            json: config.protocol == Protocol::HttpJson,
            gzip,
        })
    }

    /// The request body from the encoded request: gzipped when configured, done once for every attempt. Gzipped,
    /// the request is given back, free to reuse.
    pub(super) fn body(&self, request: Vec<u8>) -> Result<(Bytes, Option<Vec<u8>>), String> {
        if !self.gzip {
            return Ok((request.into(), None));
        }
        gzip(&request).map(|body| (Bytes::from(body), Some(request)))
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
        let response = match request.send().await {
            Ok(response) => response,
            // reqwest's messages name the URL, credentials included: ours names it without them.
            Err(e) if e.is_timeout() => return Err(no_answer(&self.printable, timeout)),
            Err(e) if e.is_connect() => return Err(unreachable(&self.printable, causes(e))),
            Err(e) => {
                return Err(Attempt {
                    message: format!("cannot send to {}: {}", self.printable, causes(e)),
                    retry: retry::Retry::Backoff,
                })
            }
        };
        let status = response.status();
        if status.is_success() {
            // A partial success (some items rejected) is still a success: retrying would duplicate the rest.
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok());
        let hint = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!(" ({TOO_LARGE})")
        } else {
            String::new()
        };
        Err(Attempt {
            message: format!("{} answered HTTP {status}{hint}", self.printable),
            retry: retry::http_status(status.as_u16(), retry_after),
        })
    }
}

/// A reqwest error and its causes (`error sending request: client error (Connect): tcp connect error: Connection
/// refused`), without the URL reqwest adds to its own message.
fn causes(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
