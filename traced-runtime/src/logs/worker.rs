//! What the export thread does with the log records of a batch before the exporters get them, and which
//! exporters those are: the logs signal's side of the shared batch worker
//! ([`export::batch`](crate::export::batch)).

use std::sync::Arc;

use super::buffers::Buffers;
use super::prepare::Prepare;
use super::queued::QueuedRecord;
use crate::config::{BatchConfig, Config};
use crate::export::batch::Batches;
use crate::export::console::ConsoleExporter;
use crate::export::log_record::LogRecord;
use crate::export::{self, DynExporter};
use crate::redact::Redactor;
use crate::stats::{SharedStats, Signal};
use crate::Error;

/// The logs signal: its batches are prepared once (empty keys, the attribute count limit, redaction, length
/// limits), then shared out to the exporters `OTEL_LOGS_EXPORTER` names.
#[derive(Debug)]
pub(crate) struct Records {
    prepare: Prepare,
    /// The buffers of the records just built, given back to the callers at the end of each take.
    used: Vec<Buffers>,
}

impl Batches for Records {
    type Queued = QueuedRecord;
    type Item = LogRecord;
    const WHAT: &'static str = "log record";
    const SIGNAL: Signal = Signal::LogRecords;

    fn settings(config: &Config) -> BatchConfig {
        config.logs.batch
    }

    fn new(config: &Config, _stats: &Arc<SharedStats>) -> Self {
        Records {
            prepare: Prepare {
                attribute_count: config.logs.limits.attribute_count,
                value_length_limit: config.logs.limits.attribute_value_length,
                redactor: config
                    .redaction
                    .enabled
                    .then(|| Redactor::new(&config.redaction.keys)),
            },
            used: Vec::new(),
        }
    }

    fn exporters(
        config: &Config,
        console: Option<&ConsoleExporter>,
    ) -> Result<Vec<Box<dyn DynExporter<LogRecord>>>, Error> {
        export::build_logs(config, console)
    }

    /// Builds the records the callers queued, here rather than on the callers' threads, and gives their buffers
    /// back.
    fn admit(
        &mut self,
        taken: &mut Vec<QueuedRecord>,
        admitted: &mut Vec<LogRecord>,
        _close: bool,
    ) {
        admitted.reserve(taken.len());
        for queued in taken.drain(..) {
            let (record, buffers) = queued.into_record();
            admitted.push(record);
            self.used.push(buffers);
        }
        Buffers::give_back(&mut self.used);
    }

    fn prepare(&mut self, records: &mut [LogRecord]) {
        self.prepare.batch(records);
    }
}
