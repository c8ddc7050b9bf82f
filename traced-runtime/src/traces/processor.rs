//! Our batch span processor: the SDK's `SpanProcessor` face of the pipeline, for spans made with the
//! OpenTelemetry API.
//!
//! Every export is bounded by the export timeout; flush and shutdown are bounded too, and the caller only ever
//! waits on a std channel with a timeout, never on a runtime (see [`export::thread`](crate::export::thread)).

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;

use super::queue::SpanSink;
use super::worker::Spans;
use crate::code_exporters::SpanExporters;
use crate::config::Config;
use crate::export::console::ConsoleExporter;
use crate::export::pipeline::Pipeline;
use crate::export::span::{ExportSpan, QueuedSpan};
use crate::export::{self, DynExporter};
use crate::stats::SharedStats;
use crate::Error;

/// The batch span processor; see the module documentation.
#[derive(Debug)]
pub(crate) struct BatchProcessor {
    pipeline: Arc<Pipeline<Spans>>,
    export_timeout: Duration,
    /// Tail sampling is on: spans the head sampler did not sample are queued too.
    record_dropped: bool,
}

impl BatchProcessor {
    /// Starts a pipeline for `config` (see [`Pipeline::start`]) with the exporters it names and those given in
    /// code (taken from `given`), spans printing to `console` if the console is named: on `sink`, the sink of
    /// an installed span layer whose pipeline was shut down, or on a new one.
    pub(crate) fn start(
        config: &Config,
        given: &SpanExporters,
        console: Option<ConsoleExporter>,
        resource: &Resource,
        stats: Arc<SharedStats>,
        sink: Option<&SpanSink>,
    ) -> Result<Self, Error> {
        let given: Vec<Box<dyn DynExporter>> =
            given.take()?.into_iter().map(export::given).collect();
        Ok(BatchProcessor {
            pipeline: Pipeline::start(config, given, console, resource, stats, sink)?,
            export_timeout: config.batch.export_timeout,
            record_dropped: config.tail_sampling.is_some(),
        })
    }

    /// A sending end for the span layer.
    pub(crate) fn sink(&self) -> SpanSink {
        self.pipeline.sink().clone()
    }
}

impl SpanProcessor for BatchProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() || self.record_dropped {
            // The SDK keeps no remote parent's flags; a parent-based sampler gives its child the same, and that is
            // the default sampler.
            let parent_sampled = span.parent_span_is_remote && span.span_context.is_sampled();
            let mut span = ExportSpan::from(span);
            span.parent_sampled = parent_sampled;
            self.pipeline.sink().send(QueuedSpan::Sdk(Box::new(span)));
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.pipeline.flush(self.export_timeout)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.pipeline.shutdown(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.pipeline.set_resource(resource);
    }
}
