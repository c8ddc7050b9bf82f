//! Recorded on every span of `#[traced]` and `traced::span!` (the first four when the span starts, the rest when
//! they apply).

/// The fully qualified path of the fn (`my_crate::orders::checkout`, `my_crate::orders::Cart::add`); for a
/// `span!` block, the fn the block is written in.
pub const CODE_FUNCTION_NAME: &str = "code.function.name";
/// The source file of the fn or block, as `file!()` gives it.
pub const CODE_FILE_PATH: &str = "code.file.path";
/// The line of the fn's name or of the block's `span!`, an OTLP integer.
pub const CODE_LINE_NUMBER: &str = "code.line.number";
/// The column of the fn's name or of the block's `span!`, an OTLP integer.
pub const CODE_COLUMN_NUMBER: &str = "code.column.number";
/// The fields every `#[traced]` and `span!` span starts with, in this order: the runtime tells the callsites of
/// the expansion from others by them.
pub const CODE_FIELDS: [&str; 4] = [
    CODE_FUNCTION_NAME,
    CODE_FILE_PATH,
    CODE_LINE_NUMBER,
    CODE_COLUMN_NUMBER,
];
/// The span's duration in milliseconds, a float.
pub const DURATION_MS: &str = "duration_ms";
/// `true` when the future of an async fn or block was dropped before it completed.
pub const CANCELLED: &str = "cancelled";
/// The returned value (option `ret`).
pub const RETURN_VALUE: &str = "return.value";

/// Every key `#[traced]` records itself: a `fields(..)` entry may not use one, it would be recorded twice.
pub const RESERVED: [&str; 11] = [
    CODE_FUNCTION_NAME,
    CODE_FILE_PATH,
    CODE_LINE_NUMBER,
    CODE_COLUMN_NUMBER,
    DURATION_MS,
    crate::error::ERROR_TYPE,
    crate::error::ERROR_CHAIN,
    crate::otel::STATUS_CODE,
    crate::otel::STATUS_DESCRIPTION,
    CANCELLED,
    RETURN_VALUE,
];
