//! Added by `traced`'s span layer to every span and span event it records.

/// The id of the thread that created the span, an integer.
pub const THREAD_ID: &str = "thread.id";
/// The name of the thread that created the span, if it has one.
pub const THREAD_NAME: &str = "thread.name";
/// The `tracing` target of the span or event.
pub const TARGET: &str = "target";
/// The `tracing` level of an event.
pub const LEVEL: &str = "level";
/// The field of a `tracing` event that names the span event.
pub const MESSAGE: &str = "message";
