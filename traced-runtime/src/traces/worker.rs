//! What the export thread does with the spans taken from the queue before the exporters get them (those tail
//! sampling lets through, all of them when it is off), and which exporters those are: the trace signal's side of
//! the shared batch worker ([`export::batch`](crate::export::batch)).

use std::sync::Arc;
use std::time::Instant;

use super::prepare::Prepare;
use super::tail::Tail;
use crate::config::{BatchConfig, Config};
use crate::export::batch::Batches;
use crate::export::console::ConsoleExporter;
use crate::export::span::{ExportSpan, QueuedSpan};
use crate::export::{self, DynExporter};
use crate::redact::Redactor;
use crate::stats::{SharedStats, Signal};
use crate::Error;

/// The trace signal: the spans taken from the queue go through tail sampling (when it is on), then each take is
/// prepared once (empty keys, redaction, length limits) and shared out to the exporters `OTEL_TRACES_EXPORTER`
/// names.
#[derive(Debug)]
pub(crate) struct Spans {
    /// `None` when tail sampling is off.
    tail: Option<Tail>,
    prepare: Prepare,
}

impl Batches for Spans {
    type Queued = QueuedSpan;
    type Item = ExportSpan;
    const WHAT: &'static str = "span";
    const SIGNAL: Signal = Signal::Spans;

    fn settings(config: &Config) -> BatchConfig {
        config.batch
    }

    fn new(config: &Config, stats: &Arc<SharedStats>) -> Self {
        Spans {
            // A trace waits for its local root at most one export timeout.
            tail: config
                .tail_sampling
                .map(|tail| Tail::new(&tail, config.batch.export_timeout, stats.clone())),
            prepare: Prepare::new(
                config.limits.attribute_value_length,
                config
                    .redaction
                    .enabled
                    .then(|| Redactor::new(&config.redaction.keys)),
            ),
        }
    }

    fn exporters(
        config: &Config,
        console: Option<&ConsoleExporter>,
    ) -> Result<Vec<Box<dyn DynExporter>>, Error> {
        export::build(config, console)
    }

    fn admit(&mut self, taken: &mut Vec<QueuedSpan>, admitted: &mut Vec<ExportSpan>, close: bool) {
        // Each span is made whole here, in the export thread's own vector: the queue's vector, of the compact
        // spans, goes back to the queue as it is.
        let spans = taken.drain(..).map(ExportSpan::from);
        match &mut self.tail {
            Some(tail) => {
                admitted.reserve(spans.len());
                tail.admit(spans, admitted, close, Instant::now());
            }
            None => admitted.extend(spans),
        }
    }

    fn prepare(&mut self, spans: &mut [ExportSpan]) {
        self.prepare.batch(spans);
    }
}
