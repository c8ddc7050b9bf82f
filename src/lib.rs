//! `traced`: distributed tracing for Rust services with OpenTelemetry — one attribute, one init call, one
//! dependency.
//!
//! # Quick start
//!
//! ```no_run
//! use traced::traced;
//!
//! #[traced(kind = server, args(order_id))]
//! async fn checkout(order_id: u64) -> Result<u64, std::io::Error> {
//!     Ok(order_id * 2)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), traced::Error> {
//!     // OTEL_* environment (endpoint, protocol, sampler, ...); flushes every span when the guard drops.
//!     let _guard = traced::init()?;
//!     checkout(42).await.ok();
//!     Ok(())
//! }
//! ```
//!
//! The same from code, with the console exporter (each finished trace printed as a waterfall):
//!
//! ```
//! use traced::config::ExporterKind;
//! use traced::traced;
//!
//! #[traced(args(a, b))]
//! fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! # fn main() -> Result<(), traced::Error> {
//! let guard = traced::Config::builder()
//!     .without_env()
//!     .with_service_name("doc")
//!     .with_exporter(ExporterKind::Console)
//!     .build()?
//!     .init()?;
//! assert_eq!(add(2, 3), 5);
//! guard.force_flush()?;
//! assert_eq!(guard.stats().exported, 1);
//! guard.shutdown()
//! # }
//! ```
//!
//! - [`traced`](macro@traced): the attribute and its options.
//! - [`span!`]: the same records around a block of code.
//! - [`init`], [`Config`], [`Guard`]: configuration and lifecycle; [`propagation`]: context across processes.
//! - [`metrics`]: the function and HTTP metrics the same instrumentation records, and the OpenTelemetry metrics
//!   API for instruments of your own.
//! - [`spawn`], [`spawn_blocking`]: tokio tasks that continue the current span, context and baggage.

pub use traced_macros::traced;
pub use traced_runtime::*;

/// The README's examples, compiled and run as doctests so that they cannot rot (the one that needs `testing`, and
/// the expansion).
#[cfg(all(doctest, feature = "testing", not(feature = "off")))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
