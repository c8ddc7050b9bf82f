//! The log pipeline of a configuration: the shared pipeline ([`export::pipeline`](crate::export::pipeline))
//! run for log records, and the layer that feeds it.

use std::sync::Arc;

use opentelemetry_sdk::Resource;

use super::layer::LogLayer;
use super::sink::LogSink;
use super::worker::Records;
use crate::config::Config;
use crate::export::console::ConsoleExporter;
use crate::export::log_record::LogRecord;
use crate::export::pipeline::Pipeline;
use crate::export::DynExporter;
use crate::stats::SharedStats;
use crate::Error;

/// Starts the log pipeline on its export thread (records print under their spans through `console`, the traces'
/// console exporter, if any), draining `sink` (an installed layer's, whose pipeline was shut down) or a new
/// queue; returns the pipeline and the layer that feeds it. `given`: exporters beside the configured ones (a
/// test capture's memory).
pub(crate) fn start(
    config: &Config,
    resource: &Resource,
    stats: Arc<SharedStats>,
    console: Option<ConsoleExporter>,
    sink: Option<&LogSink>,
    given: Vec<Box<dyn DynExporter<LogRecord>>>,
) -> Result<(Arc<Pipeline<Records>>, LogLayer), Error> {
    let pipeline = Pipeline::start(config, given, console, resource, stats, sink)?;
    let layer = LogLayer::new(pipeline.sink().clone(), config.logs.span_attributes.clone());
    Ok((pipeline, layer))
}
