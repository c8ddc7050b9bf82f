//! The log signal: every `tracing` event that passes the filter is captured ([`layer`]) with the span it belongs
//! to, and goes through a bounded queue ([`sink`], the export side's queue) to the export thread, where
//! [`worker`] builds the log records ([`queued`], whose buffers go back to the callers: [`buffers`]), prepares
//! each batch ([`prepare`]: redaction and limits, as for spans) and fans it out to the logs exporters.
//! [`pipeline`] starts it all.

mod buffers;
pub(crate) mod layer;
pub(crate) mod pipeline;
mod prepare;
mod queued;
pub(crate) mod sink;
pub(crate) mod worker;

pub(crate) use queued::write_caught;
