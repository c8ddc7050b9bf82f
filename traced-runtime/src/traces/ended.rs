//! What the span queue carries: a finished span, with what tail sampling needs that the span cannot carry.

use crate::export::span::ExportSpan;

/// A finished span on its way to the export thread.
#[derive(Debug)]
pub(crate) struct Ended {
    pub(crate) span: ExportSpan,
    /// The span's parent is remote and arrived sampled (flag `01`): tail sampling keeps its trace.
    pub(crate) parent_sampled: bool,
}

impl From<Ended> for ExportSpan {
    fn from(ended: Ended) -> ExportSpan {
        ended.span
    }
}
