//! The trace signal: `tracing` spans become OpenTelemetry spans ([`span_layer`]; with no other consumer of spans,
//! kept by [`span_subscriber`] instead of `tracing`'s registry), head sampling is decided before a `#[traced]`
//! span is built ([`sampling`]), and finished spans go through the sending end of a bounded queue ([`queue`], the
//! export side's) to the export thread, where the shared batch worker takes them as [`worker`]
//! says: through [`tail`] sampling, which holds each local trace until it is complete (when it is on), then
//! prepared once ([`prepare`]) and shared out to one lane per exporter. [`processor`] is the SDK face of it, for
//! spans made with the OpenTelemetry API.

mod baggage_attributes;
mod prepare;
pub(crate) mod processor;
pub(crate) mod queue;
pub(crate) mod sampler;
pub(crate) mod sampling;
pub(crate) mod span_ext;
pub(crate) mod span_layer;
pub(crate) mod span_subscriber;
pub(crate) mod tail;
mod worker;
