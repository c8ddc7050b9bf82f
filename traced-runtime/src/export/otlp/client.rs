//! The OTLP client every signal shares: a transport (gRPC or HTTP), compression, and the retries of one request.
//!
//! A signal gives the client where its requests go ([`Signal`]: the gRPC method; the HTTP URL comes with the
//! signal's configuration) and the encoded bytes of each request; the client compresses them (once for every
//! attempt), sends them, and retries by the OTLP rules within the export's [`Budget`]. It knows nothing of spans.

use std::time::{Duration, Instant};

#[cfg(feature = "otlp-grpc")]
use bytes::Bytes;

use super::retry;
use super::split::{self, Piece};
use super::transport::Signal;
use crate::config::{Compression, OtlpConfig, Protocol};
use crate::export::budget::Budget;
use crate::export::Delivery;
use crate::Error;

#[cfg(feature = "otlp-grpc")]
use super::grpc::Grpc;
#[cfg(feature = "otlp-http")]
use super::http::Http;

/// How a signal encodes its requests for this client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Protobuf, over gRPC or `http/protobuf`.
    Protobuf,
    /// OTLP/JSON, over `http/json`.
    Json,
}

#[derive(Debug)]
enum Transport {
    #[cfg(feature = "otlp-grpc")]
    Grpc(Grpc),
    #[cfg(feature = "otlp-http")]
    Http(Http),
}

/// An OTLP client for one signal's endpoint.
#[derive(Debug)]
pub(crate) struct Client {
    transport: Transport,
    encoding: Encoding,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`: the bound of one attempt.
    timeout: Duration,
}

impl Client {
    /// A client for `config`'s endpoint and protocol. Must run inside a tokio runtime (tonic needs a reactor to
    /// create its channel, even a lazy one).
    pub(crate) fn new(
        config: &OtlpConfig,
        #[cfg_attr(not(feature = "otlp-grpc"), allow(unused_variables))] signal: Signal,
    ) -> Result<Self, Error> {
        let gzip = match config.compression {
            None => false,
            Some(Compression::Gzip) => true,
            // Refused by every source (`config::parse`); only a `Config` built field by field gets here.
            Some(Compression::Zstd) => {
                return Err(Error::invalid(
                    "OtlpConfig::compression",
                    "zstd",
                    "zstd compression is not supported; accepted: gzip, none",
                ))
            }
        };
        let transport = match config.protocol {
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => Transport::Grpc(Grpc::new(config, gzip, signal)?),
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                Transport::Http(Http::new(config, gzip)?)
            }
            #[allow(unreachable_patterns)]
            other => {
                return Err(Error::Exporter {
                    exporter: "otlp",
                    reason: format!(
                        "protocol {other:?} is not enabled in this build (features otlp-grpc, otlp-http)"
                    ),
                })
            }
        };
        let encoding = match config.protocol {
            Protocol::HttpJson => Encoding::Json,
            Protocol::Grpc | Protocol::HttpProtobuf => Encoding::Protobuf,
        };
        Ok(Client {
            transport,
            encoding,
            timeout: config.timeout,
        })
    }

    /// What the requests must be encoded as.
    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Sends one encoded request, retried within `budget`. Compressed once for every attempt: by tonic per
    /// message over gRPC, here as the request body over HTTP.
    pub(crate) async fn send(&self, request: Vec<u8>, budget: &Budget) -> Result<(), String> {
        let attempt_timeout = || self.attempt_timeout(budget.deadline);
        match &self.transport {
            #[cfg(feature = "otlp-grpc")]
            Transport::Grpc(grpc) => {
                let body = Bytes::from(request);
                retry::with_backoff(budget, || grpc.send(body.clone(), attempt_timeout())).await
            }
            #[cfg(feature = "otlp-http")]
            Transport::Http(http) => {
                let body = http.compress(request)?;
                retry::with_backoff(budget, || http.send(body.clone(), attempt_timeout())).await
            }
        }
    }

    /// Exports `items` (`what` they are, for messages) as requests of at most `max_bytes` that `encode` writes
    /// ([`split::bounded`]), one after the other within `budget`; the outcome item by item.
    pub(crate) async fn deliver<T>(
        &self,
        items: Vec<T>,
        what: &str,
        max_bytes: usize,
        budget: &Budget,
        encode: impl FnMut(&[T]) -> Vec<u8>,
    ) -> Delivery {
        // Encoded once per batch, whatever the number of attempts; the items are freed before the first attempt
        // waits for an answer.
        let pieces = split::bounded(&items, max_bytes, encode);
        drop(items);
        let mut delivery = Delivery::all();
        let mut errors = Vec::new();
        for piece in pieces {
            let (range, result) = match piece {
                Piece::Request { range, bytes } => (range, self.send(bytes, budget).await),
                Piece::TooLarge { index, size } => (
                    index..index + 1,
                    Err(format!(
                        "a {what} of {size} bytes is over the export size bound of {max_bytes} bytes \
                         (TRACED_MAX_EXPORT_BYTES): not sent"
                    )),
                ),
            };
            if let Err(error) = result {
                delivery.fail(range);
                if !errors.contains(&error) {
                    errors.push(error);
                }
            }
        }
        if !errors.is_empty() {
            delivery.error = Some(errors.join("; "));
        }
        delivery
    }

    /// What one attempt may take: the OTLP timeout, or less when the export's deadline is nearer.
    fn attempt_timeout(&self, deadline: Instant) -> Duration {
        self.timeout
            .min(deadline.saturating_duration_since(Instant::now()))
    }
}
