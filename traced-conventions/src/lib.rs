//! What the crates of [`traced`](https://docs.rs/traced) agree on: the span attribute keys they write and read, the
//! shape of the values under them, and the one "did you mean" rule of their error messages.
//!
//! `traced-macros` (the `#[traced]` attribute) cannot depend on `traced-runtime` (the runtime depends on it), and a
//! proc-macro crate exports only macros: this crate, with no dependencies, sits below both. The macro emits the
//! string literals it reads from here; the runtime names the constants, in `tracing` macros as
//! `{ CONST } = value`.
//!
//! Keys are grouped by what records them: [`span`] (every `#[traced]` and `traced::span!` span), [`error`] (an
//! `Err` or a panic), [`otel`] (fields the OpenTelemetry layers turn into span name, kind and status), [`layer`]
//! (what `traced`'s span layer adds), [`http`] (the HTTP server and client layers), [`rpc`] (the gRPC ones),
//! [`sampling`] (what tail sampling writes on the traces it keeps).

pub mod error;
pub mod http;
pub mod layer;
pub mod metrics;
pub mod otel;
pub mod rpc;
pub mod sampling;
pub mod span;
pub mod suggest;
pub mod value;
