//! The runtime of `traced`: configuration, export pipeline, propagation, and the support code that
//! `#[traced]` expands to.
//!
//! Read it as data flow (`docs/architecture.md` draws it): [`config`] (pure data, from the environment, YAML or
//! the builder) → the signals (`traces`, `logs`, [`metrics`]) → `export` (the export thread, the OTLP clients, console,
//! Zipkin, shared by every signal) → `stats` at the bottom; `init` and the [`Guard`] on top.
mod block;
mod code_exporters;
pub mod config;
mod error;
mod export;
#[cfg(feature = "grpc")]
pub mod grpc;
mod guard;
#[cfg(feature = "http")]
pub mod http;
mod init;
mod logs;
pub mod metrics;
mod propagated;
pub mod propagation;
pub mod redact;
mod resource;
mod stats;
mod subscriber;
mod task;
#[cfg(test)]
mod test_writer;
#[cfg(feature = "testing")]
pub mod testing;
mod traces;

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;

/// Exporters usable on their own, outside the pipeline `init` builds.
pub mod exporter {
    pub use crate::export::console;
}

pub use config::Config;
pub use error::Error;
pub use guard::Guard;
pub use init::{init, init_from_file, init_from_file_section, layer, try_init};
pub use stats::{healthy, stats, ExporterStats, Stats};
pub use task::{spawn, spawn_blocking};
pub use traced_macros::traced;
pub use traces::span_ext::SpanExt;
/// `.instrument(span)` and `.in_current_span()` on futures, from `tracing`; [`spawn`] also carries the
/// OpenTelemetry context and the sampling decision over to a new task.
pub use tracing::Instrument;

// What users name in their own code, at the versions this crate is built with: one dependency line, no versions
// matched by hand.
/// The OpenTelemetry API this version is built on (`traced::opentelemetry::trace::SpanContext`, baggage, ...).
pub use opentelemetry;
/// The OpenTelemetry context: what `#[traced(parent = cx)]` and the propagation functions take and return.
pub use opentelemetry::Context;
/// `tracing`, for events and spans of your own: `traced::tracing::info!(order_id, "paid")`.
pub use tracing;
