//! `traced`: distributed tracing for Rust with OpenTelemetry.
pub use traced_macros::traced;
pub use traced_runtime::*;
