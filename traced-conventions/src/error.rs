//! Recorded when a fn or block returns an `Err` or panics (with [`otel::STATUS_CODE`](crate::otel::STATUS_CODE)
//! `ERROR` and the message as [`otel::STATUS_DESCRIPTION`](crate::otel::STATUS_DESCRIPTION)), and read from the
//! `dyn Error` fields of `tracing` events.

/// A low-cardinality name of the error: its type path without generic arguments
/// ([`value::error_type`](crate::value::error_type)), `panic`, or an HTTP status code.
pub const ERROR_TYPE: &str = "error.type";
/// The error's `source()` chain, one cause per line ([`value::error_chain`](crate::value::error_chain)).
pub const ERROR_CHAIN: &str = "error.chain";
/// The name of the span event an error is recorded as.
pub const EXCEPTION: &str = "exception";
/// On the [`EXCEPTION`] event: the same as [`ERROR_TYPE`].
pub const EXCEPTION_TYPE: &str = "exception.type";
/// On the [`EXCEPTION`] event: the error's message (`Display`, or `Debug` with `err(Debug)`).
pub const EXCEPTION_MESSAGE: &str = "exception.message";
/// On the [`EXCEPTION`] event: the `source()` chain, as [`ERROR_CHAIN`] (Rust errors carry no stack trace).
pub const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";
/// The field of a `tracing` event that makes it an [`EXCEPTION`] (`error = %e`) and sets the span's status.
pub const ERROR_FIELD: &str = "error";
