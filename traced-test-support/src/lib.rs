//! What the tests and benches of `traced` share, written once:
//!
//! - [`Receiver`]: an in-process OTLP receiver, gRPC and HTTP (protobuf or JSON, gzip or not) on one loopback
//!   port, for traces, metrics and logs, that records what it got ([`ReceivedSpan`], [`ReceivedLog`], [`Request`]) and fails on
//!   demand ([`Fault`]), or only counts (a bench's sink);
//! - [`Rotel`]: a real collector in front of it;
//! - [`free_addr`], [`rss_bytes`], [`Drip`] (a streamed response body);
//! - [`span`]: accessors for assertions on the SDK's `SpanData`.
//!
//! ```
//! use std::time::Duration;
//! use traced_test_support::{Fault, Receiver};
//!
//! let receiver = Receiver::start();
//! // The first two exports are refused (HTTP 503, gRPC UNAVAILABLE), the next ones accepted.
//! receiver.fail(Fault::Status(503, None), 2);
//! let (grpc, http) = (receiver.grpc_endpoint(), receiver.http_endpoint());
//! assert!(http.starts_with("http://127.0.0.1:") && http.ends_with("/v1/traces"));
//! // ... export spans to `grpc` or `http`, then:
//! assert_eq!(receiver.wait_for(0, Duration::from_secs(1)), receiver.spans().len());
//! # let _ = grpc;
//! ```

mod addr;
mod drip;
mod fault;
mod grpc;
mod http;
mod process;
mod received_log;
mod received_span;
mod receiver;
mod rotel;
pub mod span;
mod store;
mod zipkin;

pub use addr::free_addr;
pub use drip::Drip;
pub use fault::{code_for_status, status_for_code, Fault};
pub use process::rss_bytes;
pub use received_log::ReceivedLog;
pub use received_span::ReceivedSpan;
pub use receiver::{Receiver, ReceiverBuilder, Serve, Stopped};
pub use rotel::{rotel_agent, Rotel};
pub use store::{Payload, Request, Signal};

/// The OTLP types a [`ReceivedSpan`] and a [`Payload`] are made of.
pub use opentelemetry_proto as proto;

/// The largest request body a receiver decodes: a batch of big spans must not be refused by a test's own
/// receiver (tonic's default is 4 MiB, axum's 2 MiB).
const MAX_MESSAGE_BYTES: usize = 64 << 20;
