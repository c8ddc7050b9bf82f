//! The sending end of the span queue, for the span layer and the SDK processor.

use super::worker::Spans;
use crate::export::pipeline::Sink;

/// The sending end of the span export queue: finished spans go straight in,
/// without an SDK span. Never blocks the caller: a full queue (or one closed by shutdown) drops the span and
/// counts it.
pub(crate) type SpanSink = Sink<Spans>;
