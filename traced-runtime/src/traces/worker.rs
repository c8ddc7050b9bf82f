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
use crate::export::span::ExportSpan;
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
    type Queued = ExportSpan;
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

    fn admit(&mut self, taken: &mut Vec<ExportSpan>, admitted: &mut Vec<ExportSpan>, close: bool) {
        match &mut self.tail {
            Some(tail) => {
                admitted.reserve(taken.len());
                tail.admit(taken.drain(..), admitted, close, Instant::now());
            }
            // The take is what is shared out: its vector changes hands and no span moves (each is about 400
            // bytes). The queue gets a new one as large, so its pushes do not reallocate.
            None => {
                debug_assert!(admitted.is_empty(), "admit is given an empty vector");
                std::mem::swap(taken, admitted);
                taken.reserve_exact(admitted.capacity());
            }
        }
    }

    fn prepare(&mut self, spans: &mut [ExportSpan]) {
        self.prepare.batch(spans);
    }
}
