//! Span exporters: where finished spans go.
pub mod console;
