//! The metric signal: what `#[traced]` fns (`function`) and the HTTP layers record, and the user's
//! instruments of `opentelemetry::global::meter`, collected as OTLP messages (`collect`) and pushed over OTLP on
//! the export thread (`worker`), or pulled from the Prometheus endpoint (`server`).
//!
//! Reached as `traced::metrics`: the names of the instruments and attributes ([`names`]), and the
//! OpenTelemetry metrics API, whose global meter provider [`init`](crate::init) installs.
//!
//! ```
//! use traced::metrics::{global, names};
//!
//! // After `traced::init()`, this counter is exported with the function metrics.
//! let orders = global::meter("shop").u64_counter("orders").build();
//! orders.add(1, &[]);
//! assert_eq!(names::FUNCTION_CALLS, "function.calls");
//! ```

mod clock;
mod collect;
mod exemplar;
pub(crate) mod function;
mod histogram;
// Collected in every build; only the layers of feature `http` record into it.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) mod http;
mod prometheus;
mod server;
mod shard;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod temporality;
mod worker;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use opentelemetry::global;
pub use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider, UpDownCounter};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, SdkMeterProvider};
use opentelemetry_sdk::Resource;
use tokio::sync::{mpsc, watch};
/// The names of the instruments and attribute keys `traced` records.
pub use traced_conventions::metrics as names;

use crate::config::{Config, MetricsExporterKind};
use crate::export::budget::Closing;
use crate::export::error_log::ErrorLog;
use crate::export::thread::{in_export_thread, ExportThread, THREAD_NAME};
use crate::stats::{SharedStats, Signal};
use crate::Error;

/// Pipelines with metrics running now: recording is on while there is one.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Of those, the ones with function metrics.
static WITH_FUNCTIONS: AtomicUsize = AtomicUsize::new(0);

/// What a caller waits beyond a deadline for the export thread to answer.
const REPLY_GRACE: Duration = Duration::from_millis(200);

/// The metrics of one pipeline: the SDK meter provider, the worker that pushes, the Prometheus endpoint.
pub(crate) struct MetricsPipeline {
    provider: SdkMeterProvider,
    control: mpsc::UnboundedSender<worker::Control>,
    stop_server: Option<watch::Sender<bool>>,
    prometheus: Option<SocketAddr>,
    functions: bool,
    /// Set once shut down, so a second shutdown (drop after `shutdown`) does nothing.
    stopped: Mutex<bool>,
}

impl fmt::Debug for MetricsPipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsPipeline")
            .field("prometheus", &self.prometheus)
            .field("functions", &self.functions)
            .finish_non_exhaustive()
    }
}

/// The SDK's side of our reader: the provider owns this, the collector keeps the reader itself.
#[derive(Debug)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: std::sync::Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(
        &self,
        rm: &mut opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> opentelemetry_sdk::metrics::Temporality {
        self.0.temporality(kind)
    }
}

impl MetricsPipeline {
    /// True when `config` asks for metrics at all.
    pub(crate) fn wanted(config: &Config) -> bool {
        !config.metrics.exporters.is_empty()
    }

    /// Starts the metrics of `config` on an export thread of their own (as every signal has): the Prometheus
    /// endpoint is bound here, so a port in use is an error of `init`.
    pub(crate) fn start(
        config: &Config,
        resource: &Resource,
        stats: Arc<SharedStats>,
    ) -> Result<MetricsPipeline, Error> {
        let metrics = &config.metrics;
        let thread = &ExportThread::start()?;
        let counters = stats.of(Signal::Metrics);
        let reader = Arc::new(ManualReader::builder().build());
        let provider = SdkMeterProvider::builder()
            .with_resource(resource.clone())
            .with_reader(SharedReader(reader.clone()))
            .build();
        let collector = Arc::new(collect::Collector::new(resource, reader, metrics.functions));
        let mut pushes = Vec::new();
        let mut listener = None;
        for kind in &metrics.exporters {
            match kind {
                MetricsExporterKind::Otlp => {
                    pushes.push((otlp_push(config, thread)?, counters.add_exporter("otlp")))
                }
                MetricsExporterKind::Console => {
                    pushes.push((worker::Push::Console, counters.add_exporter("console")))
                }
                MetricsExporterKind::Prometheus => {
                    listener = Some(server::bind(
                        &metrics.prometheus_host,
                        metrics.prometheus_port,
                    )?);
                }
            }
        }
        let prometheus = listener.as_ref().and_then(|l| l.local_addr().ok());
        let stop_server = listener.map(|listener| {
            let (stop, stopped) = watch::channel(false);
            thread.spawn(server::serve(listener, collector.clone(), stopped));
            stop
        });
        let (control, requests) = mpsc::unbounded_channel();
        thread.spawn(
            worker::Worker {
                collector,
                pushes,
                interval: metrics.export_interval,
                timeout: metrics.export_timeout,
                stats,
                closing: Closing::new(),
                errors: ErrorLog::new("metric"),
                since: 0,
            }
            .run(requests),
        );
        opentelemetry::global::set_meter_provider(provider.clone());
        RUNNING.fetch_add(1, Ordering::Relaxed);
        http::set_on(true);
        if metrics.functions {
            WITH_FUNCTIONS.fetch_add(1, Ordering::Relaxed);
            function::set_on(true);
        }
        Ok(MetricsPipeline {
            provider,
            control,
            stop_server,
            prometheus,
            functions: metrics.functions,
            stopped: Mutex::new(false),
        })
    }

    /// The address of the Prometheus endpoint, if it runs.
    pub(crate) fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.prometheus
    }

    /// Pushes a collection now; waits at most `timeout`.
    pub(crate) fn force_flush(&self, timeout: Duration) -> Result<(), String> {
        self.request(timeout, |deadline, reply| worker::Control::Flush {
            deadline,
            reply,
        })
    }

    /// Pushes a last collection and stops, within `timeout`; recording stops with the last pipeline.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        {
            let Ok(mut stopped) = self.stopped.lock() else {
                return Ok(());
            };
            if *stopped {
                return Ok(());
            }
            *stopped = true;
        }
        let result = self.request(timeout, |deadline, reply| worker::Control::Shutdown {
            deadline,
            reply,
        });
        if let Some(stop) = &self.stop_server {
            let _ = stop.send(true);
        }
        if RUNNING.fetch_sub(1, Ordering::Relaxed) == 1 {
            http::set_on(false);
        }
        if self.functions && WITH_FUNCTIONS.fetch_sub(1, Ordering::Relaxed) == 1 {
            function::set_on(false);
        }
        let _ = self.provider.shutdown_with_timeout(timeout);
        result
    }

    fn request(
        &self,
        timeout: Duration,
        make: impl FnOnce(Instant, std_mpsc::SyncSender<Result<(), String>>) -> worker::Control,
    ) -> Result<(), String> {
        if in_export_thread() {
            return Err(format!(
                "metrics flush or shutdown called from the {THREAD_NAME} thread"
            ));
        }
        let deadline = Instant::now() + timeout;
        let (reply, answer) = std_mpsc::sync_channel(1);
        self.control
            .send(make(deadline, reply))
            .map_err(|_| "the metrics worker has stopped".to_owned())?;
        match answer.recv_timeout(timeout + REPLY_GRACE) {
            Ok(result) => result,
            Err(_) => Err(format!("metrics not exported within {timeout:?}")),
        }
    }
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn otlp_push(config: &Config, thread: &ExportThread) -> Result<worker::Push, Error> {
    let otlp = config.metrics.otlp.clone();
    let client =
        thread.run(async move { crate::export::otlp_metrics::MetricsClient::new(&otlp) })?;
    Ok(worker::Push::Otlp {
        client: Box::new(client),
        temporality: config.metrics.temporality,
        deltas: temporality::Deltas::default(),
    })
}

#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
fn otlp_push(_config: &Config, _thread: &ExportThread) -> Result<worker::Push, Error> {
    Err(Error::Exporter {
        exporter: "otlp metrics",
        reason: "this build has neither the `otlp-grpc` nor the `otlp-http` feature".into(),
    })
}
