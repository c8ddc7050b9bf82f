//! What every signal shares to get its data out: the queue, the pipeline and the batch worker with one lane per
//! exporter, the export thread, the export budget, the OTLP clients (gRPC, HTTP protobuf, HTTP JSON) with their
//! retries and size bound, and the console and Zipkin exporters.
//!
//! Exporters are built on the `traced-export` thread, inside its tokio runtime, because tonic needs a reactor
//! when its channel is created.

use std::fmt::Debug;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::Resource;

use crate::code_exporters::GivenExporter;
use crate::config::{Config, ExporterKind, LogsExporterKind};
use crate::Error;
use log_record::LogRecord;

pub(crate) mod attribute_vecs;
pub(crate) mod batch;
pub(crate) mod budget;
pub mod console;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http", feature = "zipkin"))]
mod endpoint;
pub(crate) mod error_log;
mod fanout;
mod lane;
pub(crate) mod log_record;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
pub(crate) mod pipeline;
mod queue;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) use otlp::metrics as otlp_metrics;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod retry;
pub(crate) mod span;
pub(crate) mod thread;
#[cfg(feature = "zipkin")]
mod zipkin;

use budget::Budget;
use span::ExportSpan;

/// What became of one exported batch, item by item: the items not listed as failed were delivered.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// Index ranges of the batch that were not delivered, in order, not overlapping.
    pub(crate) failed: Vec<Range<usize>>,
    /// Why, when some were not.
    pub(crate) error: Option<String>,
}

impl Delivery {
    /// Every item delivered.
    pub(crate) fn all() -> Self {
        Delivery::default()
    }

    /// No item of a batch of `len` delivered, for `error`.
    pub(crate) fn none(len: usize, error: String) -> Self {
        Delivery {
            failed: std::iter::once(0..len).collect(),
            error: Some(error),
        }
    }

    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    /// Marks the items `range` (after every range marked so far) as not delivered.
    pub(crate) fn fail(&mut self, range: Range<usize>) {
        match self.failed.last_mut() {
            Some(last) if last.end == range.start => last.end = range.end,
            _ => self.failed.push(range),
        }
    }

    /// The delivery of a whole batch from a result that is all or nothing.
    pub(crate) fn of(len: usize, result: OTelSdkResult) -> Self {
        match result {
            Ok(()) => Delivery::all(),
            Err(e) => Delivery::none(len, e.to_string()),
        }
    }
}

/// A boxed export future.
pub(crate) type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Delivery> + Send + 'a>>;

/// An object-safe exporter of one signal's items (spans by default): the SDK's `SpanExporter` returns
/// `impl Future`, which cannot live in a `Vec<Box<dyn>>`.
pub(crate) trait DynExporter<T = ExportSpan>: Send + Sync + Debug {
    /// The exporter's name, for stats and log lines.
    fn name(&self) -> &'static str;
    /// Exports one batch within `budget`: retries (where the exporter does) must not start after its deadline.
    fn export(&self, batch: Vec<T>, budget: Budget) -> DeliveryFuture<'_>;
    /// Shuts the exporter down.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult;
    /// Tells the exporter which resource the spans come from.
    fn set_resource(&mut self, resource: &Resource);
}

/// Builds every logs exporter the configuration names. Must run inside a tokio runtime; `console` is the console
/// exporter the traces print to, if they do, so records print under their spans.
pub(crate) fn build_logs(
    config: &Config,
    console: Option<&console::ConsoleExporter>,
) -> Result<Vec<Box<dyn DynExporter<LogRecord>>>, Error> {
    config
        .logs
        .exporters
        .iter()
        .map(|kind| -> Result<Box<dyn DynExporter<LogRecord>>, Error> {
            match kind {
                #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
                LogsExporterKind::Otlp => {
                    otlp::build_logs(&config.logs.otlp, config.logs.batch.max_export_bytes)
                }
                #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
                LogsExporterKind::Otlp => Err(Error::Exporter {
                    exporter: "otlp",
                    reason: "this build has neither the `otlp-grpc` nor the `otlp-http` feature"
                        .into(),
                }),
                LogsExporterKind::Console => Ok(Box::new(console::ConsoleLogs::new(
                    console.cloned().unwrap_or_default(),
                    console.is_some(),
                ))),
            }
        })
        .collect()
}

/// An SDK exporter with a name.
#[derive(Debug)]
pub(crate) struct Named {
    name: &'static str,
    inner: Box<dyn GivenExporter>,
}

impl Named {
    /// Boxes `inner` as a [`DynExporter`].
    pub(crate) fn boxed(
        name: &'static str,
        inner: impl GivenExporter + 'static,
    ) -> Box<dyn DynExporter> {
        Box::new(Named {
            name,
            inner: Box::new(inner),
        })
    }
}

impl DynExporter for Named {
    fn name(&self) -> &'static str {
        self.name
    }

    fn export(&self, batch: Vec<ExportSpan>, _budget: Budget) -> DeliveryFuture<'_> {
        let len = batch.len();
        let export = self
            .inner
            .export(batch.into_iter().map(ExportSpan::into_span_data).collect());
        Box::pin(async move { Delivery::of(len, export.await) })
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// An exporter given in code, as the pipeline runs it.
pub(crate) fn given(exporter: Box<dyn GivenExporter>) -> Box<dyn DynExporter> {
    Box::new(Named {
        name: "custom",
        inner: exporter,
    })
}

/// Builds every exporter the configuration names. Must run inside a tokio runtime. `console` is the console
/// exporter to print spans with, shared with the logs.
pub(crate) fn build(
    config: &Config,
    console: Option<&console::ConsoleExporter>,
) -> Result<Vec<Box<dyn DynExporter>>, Error> {
    config
        .exporters
        .iter()
        .map(|kind| build_one(*kind, config, console))
        .collect()
}

fn build_one(
    kind: ExporterKind,
    #[allow(unused_variables)] config: &Config,
    console: Option<&console::ConsoleExporter>,
) -> Result<Box<dyn DynExporter>, Error> {
    match kind {
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        ExporterKind::Otlp => otlp::build(&config.otlp, config.batch.max_export_bytes),
        #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
        ExporterKind::Otlp => Err(Error::Exporter {
            exporter: "otlp",
            reason: "this build has neither the `otlp-grpc` nor the `otlp-http` feature".into(),
        }),
        #[cfg(feature = "zipkin")]
        ExporterKind::Zipkin => zipkin::build(&config.zipkin_endpoint),
        #[cfg(not(feature = "zipkin"))]
        ExporterKind::Zipkin => Err(Error::Exporter {
            exporter: "zipkin",
            reason: "this build does not have the `zipkin` feature".into(),
        }),
        ExporterKind::Console => Ok(Named::boxed(
            "console",
            console.cloned().unwrap_or_default(),
        )),
    }
}
