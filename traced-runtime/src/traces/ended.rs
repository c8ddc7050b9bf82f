//! What the span queue carries: a finished span, with what tail sampling needs that `SpanData` cannot carry.

use opentelemetry_sdk::trace::SpanData;

/// A finished span on its way to the export thread.
#[derive(Debug)]
pub(crate) struct Ended {
    pub(crate) span: SpanData,
    /// The span's parent is remote and arrived sampled (flag `01`): tail sampling keeps its trace.
    pub(crate) parent_sampled: bool,
}

impl From<Ended> for SpanData {
    fn from(ended: Ended) -> SpanData {
        ended.span
    }
}
