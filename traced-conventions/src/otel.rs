//! Span fields that both OpenTelemetry layers (`traced`'s and tracing-opentelemetry's) read as the span's name,
//! kind and status rather than as attributes.

/// Replaces the span's name.
pub const NAME: &str = "otel.name";
/// The span kind: `server`, `client`, `producer`, `consumer` or `internal` (option `kind`, the HTTP layers).
pub const KIND: &str = "otel.kind";
/// `ERROR` (or `OK`) sets the span's status.
pub const STATUS_CODE: &str = "otel.status_code";
/// The description of an error status.
pub const STATUS_DESCRIPTION: &str = "otel.status_description";
