//! The OTLP client every signal shares: a transport (gRPC or HTTP), compression, and the retries of one request.
//!
//! A signal gives the client where its requests go ([`Signal`]: the gRPC method; the HTTP URL comes with the
//! signal's configuration) and the encoded bytes of each request; the client compresses them (once for every
//! attempt), sends them, and retries by the OTLP rules within the export's [`Budget`]. It knows nothing of spans.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::retry;
use super::split::{self, Piece};
use super::transport::Signal;
use crate::config::{Compression, OtlpConfig, Protocol};
use crate::export::budget::Budget;
use crate::export::lane::MAX_CONCURRENT_EXPORTS;
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
    spare: SpareBuffers,
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
            spare: SpareBuffers::default(),
        })
    }

    /// What the requests must be encoded as.
    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Sends one encoded request, retried within `budget`. Compressed once for every attempt (the gRPC message,
    /// the HTTP body). The request's buffer is kept for a later request when the transport is done with it.
    pub(crate) async fn send(&self, request: Vec<u8>, budget: &Budget) -> Result<(), String> {
        let attempt_timeout = || self.attempt_timeout(budget.deadline);
        let (result, spent) = match &self.transport {
            #[cfg(feature = "otlp-grpc")]
            Transport::Grpc(grpc) => {
                let (message, raw) = grpc.message(request)?;
                let result =
                    retry::with_backoff(budget, || grpc.send(message.clone(), attempt_timeout()))
                        .await;
                // As over HTTP: gzipped, free once compressed; sent as is, once h2 dropped its share.
                (result, raw.or_else(|| message.into_buffer()))
            }
            #[cfg(feature = "otlp-http")]
            Transport::Http(http) => {
                let (body, raw) = http.body(request)?;
                let result =
                    retry::with_backoff(budget, || http.send(body.clone(), attempt_timeout()))
                        .await;
                // Gzipped, the raw request was free once compressed; sent as is, it is free once reqwest
                // dropped its copies of the body.
                (
                    result,
                    raw.or_else(|| body.try_into_mut().ok().map(Vec::from)),
                )
            }
        };
        if let Some(buffer) = spent {
            self.spare.give_back(buffer);
        }
        result
    }

    /// Exports `items` (`what` they are, for messages) as requests of at most `max_bytes` that `encode` writes
    /// into an empty buffer ([`split::bounded`]), one after the other within `budget`; the outcome item by item.
    pub(crate) async fn deliver<T>(
        &self,
        items: Vec<T>,
        what: &str,
        max_bytes: usize,
        budget: &Budget,
        mut encode: impl FnMut(&[T], &mut Vec<u8>),
        release: impl FnOnce(Vec<T>),
    ) -> Delivery {
        // Encoded once per batch, whatever the number of attempts; the items are freed before the first attempt
        // waits for an answer.
        let pieces = split::bounded(&items, max_bytes, |items| {
            let mut request = self.spare.take();
            encode(items, &mut request);
            request
        });
        release(items);
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

/// Request buffers the finished sends gave back, for the next requests. A batch's request is a few hundred KiB:
/// allocated fresh per batch, it is fresh memory the kernel faults in page by page (in the service bench, most of
/// the page faults of the process, on the export thread). At most one per export in flight and none over
/// [`SPARE_MAX_BYTES`], so what is kept is about what the exports in flight hold anyway.
#[derive(Debug, Default)]
struct SpareBuffers(Mutex<Vec<Vec<u8>>>);

/// A buffer larger than this (a batch of unusually large spans) is freed rather than kept.
const SPARE_MAX_BYTES: usize = 1 << 20;

impl SpareBuffers {
    /// An empty buffer, with the capacity of an earlier request when one was given back.
    fn take(&self) -> Vec<u8> {
        self.lock().pop().unwrap_or_default()
    }

    fn give_back(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() > SPARE_MAX_BYTES {
            return;
        }
        buffer.clear();
        let mut spare = self.lock();
        if spare.len() < MAX_CONCURRENT_EXPORTS {
            spare.push(buffer);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        // A vector of empty buffers cannot be left inconsistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_the_next_one_taken_empty() {
        let spare = SpareBuffers::default();
        let mut first = spare.take();
        first.extend_from_slice(&[1; 1000]);
        let at = first.as_ptr();
        spare.give_back(first);
        let again = spare.take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), at, "the same allocation, not a new one");
        assert!(again.capacity() >= 1000);
        assert_eq!(spare.take().capacity(), 0, "only one was given back");
    }

    #[test]
    fn spare_buffers_are_bounded_in_number_and_size() {
        let spare = SpareBuffers::default();
        for _ in 0..MAX_CONCURRENT_EXPORTS + 3 {
            spare.give_back(Vec::with_capacity(64));
        }
        spare.give_back(Vec::with_capacity(SPARE_MAX_BYTES + 1));
        let kept: Vec<Vec<u8>> = std::iter::from_fn(|| Some(spare.take()))
            .take_while(|buffer| buffer.capacity() > 0)
            .collect();
        assert_eq!(kept.len(), MAX_CONCURRENT_EXPORTS);
        assert!(kept
            .iter()
            .all(|buffer| buffer.capacity() <= SPARE_MAX_BYTES));
    }

    /// Each transport, once done with a request, leaves its buffer for the next one: over gRPC once tonic
    /// dropped its share, over HTTP once reqwest dropped the body (or, gzipped, once it was compressed).
    #[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
    #[test]
    fn every_transport_gives_the_request_buffer_back() {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
        use prost::Message as _;

        use crate::export::budget::Closing;
        use crate::stats::{SharedStats, Signal};

        let receiver = traced_test_support::Receiver::start();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                schema_url: "x".repeat(10_000),
                ..Default::default()
            }],
        };
        let stats = SharedStats::default();
        let closing = Closing::new();
        for (protocol, compression, endpoint) in [
            (Protocol::Grpc, None, receiver.grpc_endpoint()),
            (Protocol::HttpProtobuf, None, receiver.http_endpoint()),
            (
                Protocol::HttpProtobuf,
                Some(Compression::Gzip),
                receiver.http_endpoint(),
            ),
        ] {
            let config = OtlpConfig {
                endpoint,
                protocol,
                headers: Vec::new(),
                timeout: Duration::from_secs(5),
                compression,
            };
            runtime.block_on(async {
                let client = Client::new(&config, super::super::transport::TRACES).unwrap();
                let budget = Budget {
                    deadline: Instant::now() + Duration::from_secs(5),
                    closing: closing.listen(),
                    counters: stats.of(Signal::Spans).add_exporter("otlp"),
                };
                let mut written_at = None;
                for _ in 0..2 {
                    let delivery = client
                        .deliver(
                            vec![()],
                            "span",
                            1 << 20,
                            &budget,
                            |_, out| {
                                let _ = request.encode(out);
                                written_at.get_or_insert(out.as_ptr());
                            },
                            drop,
                        )
                        .await;
                    assert_eq!(delivery.error, None, "{protocol:?} {compression:?}");
                    let spare = client.spare.lock();
                    assert_eq!(spare.len(), 1, "{protocol:?} {compression:?}");
                    assert!(spare[0].capacity() >= request.encoded_len());
                }
                // The second request was written in the buffer the first one left.
                assert_eq!(
                    client.spare.lock()[0].as_ptr(),
                    written_at.unwrap(),
                    "{protocol:?} {compression:?}"
                );
            });
        }
        assert_eq!(receiver.requests(), 6);
    }
}
