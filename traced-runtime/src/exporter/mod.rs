//! Span exporters: OTLP (gRPC, HTTP protobuf, HTTP JSON), Zipkin, console, fanned out by the batch processor.
//!
//! Exporters are built on the `traced-export` thread, inside its tokio runtime, because tonic needs a reactor
//! when its channel is created.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use crate::config::{Config, ExporterKind};
use crate::processor::SharedStats;
use crate::Error;

pub mod console;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod retry;
#[cfg(feature = "zipkin")]
mod zipkin;

/// A boxed export future.
pub(crate) type ExportFuture<'a> = Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>;

/// An object-safe exporter: the SDK's `SpanExporter` returns `impl Future`, which cannot live in a `Vec<Box<dyn>>`.
pub(crate) trait DynExporter: Send + Sync + Debug {
    /// The exporter's name, for stats and log lines.
    fn name(&self) -> &'static str;
    /// Exports one batch; retries (where the exporter does) must not start after `deadline`.
    fn export(&self, batch: Vec<SpanData>, deadline: Instant) -> ExportFuture<'_>;
    /// Shuts the exporter down.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult;
    /// Tells the exporter which resource the spans come from.
    fn set_resource(&mut self, resource: &Resource);
}

/// An SDK exporter with a name.
#[derive(Debug)]
pub(crate) struct Named<E> {
    name: &'static str,
    inner: E,
}

impl<E: SpanExporter + 'static> Named<E> {
    /// Boxes `inner` as a [`DynExporter`].
    pub(crate) fn boxed(name: &'static str, inner: E) -> Box<dyn DynExporter> {
        Box::new(Named { name, inner })
    }
}

impl<E: SpanExporter> DynExporter for Named<E> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn export(&self, batch: Vec<SpanData>, _deadline: Instant) -> ExportFuture<'_> {
        Box::pin(self.inner.export(batch))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Span exporters given in code ([`ConfigBuilder::with_span_exporter`](crate::config::ConfigBuilder::with_span_exporter)):
/// any `opentelemetry_sdk` [`SpanExporter`] (an in-memory exporter in tests, a vendor's exporter), run by the
/// same batch processor as the exporters [`Config::exporters`] names.
///
/// An exporter is moved into the first pipeline started with it; a clone of the configuration shares it, and a
/// second pipeline started from that clone fails with [`Error::Exporter`] rather than export twice.
#[derive(Clone, Default)]
pub struct SpanExporters(Vec<Slot>);

/// One exporter given in code, until a pipeline takes it.
type Slot = Arc<Mutex<Option<Box<dyn DynExporter>>>>;

impl SpanExporters {
    /// Adds `exporter`.
    pub fn push<E: SpanExporter + 'static>(&mut self, exporter: E) {
        self.0
            .push(Arc::new(Mutex::new(Some(Named::boxed("custom", exporter)))));
    }

    /// True when no exporter was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many exporters were given.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    fn take(&self) -> Result<Vec<Box<dyn DynExporter>>, Error> {
        self.0
            .iter()
            .map(|slot| {
                slot.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                    .ok_or_else(|| Error::Exporter {
                        exporter: "custom",
                        reason: "this span exporter already runs in another pipeline".into(),
                    })
            })
            .collect()
    }
}

impl Debug for SpanExporters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SpanExporters({})", self.0.len())
    }
}

/// The same exporters (not merely alike): exporters have no equality of their own.
impl PartialEq for SpanExporters {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

/// Builds every exporter the configuration names, then takes the ones given in code. Must run inside a tokio
/// runtime. `stats` receives the retry counts.
pub(crate) fn build(
    config: &Config,
    stats: &Arc<SharedStats>,
) -> Result<Vec<Box<dyn DynExporter>>, Error> {
    let mut exporters = Vec::with_capacity(config.exporters.len() + config.span_exporters.len());
    for kind in &config.exporters {
        exporters.push(build_one(*kind, config, stats)?);
    }
    exporters.extend(config.span_exporters.take()?);
    Ok(exporters)
}

fn build_one(
    kind: ExporterKind,
    #[allow(unused_variables)] config: &Config,
    #[allow(unused_variables)] stats: &Arc<SharedStats>,
) -> Result<Box<dyn DynExporter>, Error> {
    match kind {
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        ExporterKind::Otlp => otlp::build(&config.otlp, stats),
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
        ExporterKind::Console => Ok(Named::boxed("console", console::ConsoleExporter::new())),
    }
}
