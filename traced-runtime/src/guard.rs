//! The [`Guard`] returned by `init`: it owns the pipeline and flushes it on shutdown or drop.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::export::pipeline::{Pending, Pipeline};
use crate::export::thread::LOG_TARGET;
use crate::logs::worker::Records;
use crate::metrics::MetricsPipeline;
use crate::stats::{SharedStats, Stats};
use crate::Error;

/// Keeps the tracing pipeline alive; flushes and shuts it down on [`Guard::shutdown`] or drop.
///
/// Keep it in `main` for the life of the program: the spans still queued when it is dropped are exported then.
/// The wait is bounded by `TRACED_SHUTDOWN_TIMEOUT` (5 s by default) and by the export timeout, whichever is
/// shorter, and a collector that refuses connections is not retried at that point, so a short-lived program
/// with its collector down exits at once. Dropping it never fails the program, never panics and never waits
/// longer than that bound, whether it happens inside a tokio multi-thread runtime, a current-thread runtime,
/// or no runtime at all. Spans it could not send by then are counted as failed, and one warning line says how
/// many were lost.
#[must_use = "dropping the guard shuts the pipeline down: keep it alive until the end of main"]
pub struct Guard {
    inner: Option<Inner>,
}

struct Inner {
    provider: SdkTracerProvider,
    /// The log pipeline, when logs are exported.
    logs: Option<Arc<Pipeline<Records>>>,
    /// The metrics pipeline, when metrics are recorded.
    metrics: Option<MetricsPipeline>,
    stats: Arc<SharedStats>,
    timeout: Duration,
}

impl Guard {
    /// `timeout` bounds the shutdown.
    pub(crate) fn new(
        provider: SdkTracerProvider,
        logs: Option<Arc<Pipeline<Records>>>,
        metrics: Option<MetricsPipeline>,
        stats: Arc<SharedStats>,
        timeout: Duration,
    ) -> Self {
        Guard {
            inner: Some(Inner {
                provider,
                logs,
                metrics,
                stats,
                timeout,
            }),
        }
    }

    /// The address the Prometheus endpoint (`GET /metrics`) listens on, when `OTEL_METRICS_EXPORTER` names
    /// `prometheus` (useful with port 0).
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.inner
            .as_ref()
            .and_then(|inner| inner.metrics.as_ref())
            .and_then(MetricsPipeline::prometheus_addr)
    }

    /// A guard for a disabled pipeline (`OTEL_SDK_DISABLED=true`): every method succeeds and does nothing.
    pub(crate) fn disabled() -> Self {
        Guard { inner: None }
    }

    /// True when the pipeline is disabled and nothing is exported.
    pub fn is_disabled(&self) -> bool {
        self.inner.is_none()
    }

    /// Exports every finished span, every log record and the metrics now, waiting at most the export timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Shutdown`] when some span or record could not be exported (the collector is down, say) or the
    /// export thread did not answer in time; they are counted in [`Guard::stats`] either way.
    pub fn force_flush(&self) -> Result<(), Error> {
        let start = Instant::now();
        match &self.inner {
            Some(inner) => {
                // Both signals flush at once, on the export thread; the caller waits for both in one bound.
                let logs = inner
                    .logs
                    .as_ref()
                    .map(|logs| logs.send_flush(inner.timeout));
                let spans = inner.provider.force_flush();
                let logs = logs.map_or(Ok(()), Pending::wait);
                let traces = spans
                    .and(logs)
                    .map_err(|e| Error::Shutdown(format!("flush: {e}")));
                // The metrics get what is left of the bound.
                let metrics = match &inner.metrics {
                    Some(metrics) => metrics
                        .force_flush(inner.left(start))
                        .map_err(|e| Error::Shutdown(format!("metrics flush: {e}"))),
                    None => Ok(()),
                };
                traces.and(metrics)
            }
            None => Ok(()),
        }
    }

    /// Flushes the queued spans and log records and shuts the exporters down, waiting at most the shutdown
    /// bound (see [`Guard`]).
    ///
    /// Spans and records lost on the way (the collector is down, the bound passed) are not an error: a
    /// `fn main() -> Result<_, _>` must not fail because the collector was away. They are counted, logged in
    /// one line per signal, and [`Guard::shutdown_with_stats`] tells them.
    ///
    /// # Errors
    ///
    /// [`Error::Shutdown`] only when a pipeline itself did not stop: its export thread did not answer within
    /// the bound (or `shutdown` was called from that thread).
    pub fn shutdown(mut self) -> Result<(), Error> {
        match self.inner.take() {
            Some(inner) => inner.shutdown(),
            None => Ok(()),
        }
    }

    /// Like [`Guard::shutdown`], and the final counters: with the pipeline stopped, every span ended is in
    /// `exported + dropped + failed` (`+ tail_discarded` with tail sampling on; `queued` is zero), every log record
    /// in `log_records_exported + log_records_dropped + log_records_failed`. Handy to log at exit how many were
    /// lost, and why.
    pub fn shutdown_with_stats(mut self) -> (Result<(), Error>, Stats) {
        match self.inner.take() {
            Some(inner) => {
                let stats = inner.stats.clone();
                let result = inner.shutdown();
                (result, stats.snapshot())
            }
            None => (Ok(()), Stats::default()),
        }
    }

    /// The export counters so far.
    pub fn stats(&self) -> Stats {
        self.inner
            .as_ref()
            .map(|inner| inner.stats.snapshot())
            .unwrap_or_default()
    }

    /// True when the last export of every exporter succeeded, or none was attempted yet.
    pub fn healthy(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| inner.stats.healthy())
    }
}

impl Inner {
    /// What is left of the bound since `start`: the metrics get the rest of the time the spans did not take.
    fn left(&self, start: Instant) -> Duration {
        self.timeout
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(10))
    }

    fn shutdown(self) -> Result<(), Error> {
        let start = Instant::now();
        // Both signals shut down at once, each on its export thread; the caller waits for both in one bound.
        let logs = self
            .logs
            .as_ref()
            .map(|logs| logs.send_shutdown(self.timeout));
        let spans = self.provider.shutdown_with_timeout(self.timeout);
        let logs = logs.map_or(Ok(()), Pending::wait);
        let mut result = Ok(());
        for outcome in [spans, logs] {
            match outcome {
                Ok(()) | Err(OTelSdkError::AlreadyShutdown) => {}
                Err(e) => result = Err(Error::Shutdown(e.to_string())),
            }
        }
        // The metrics push their last collection in what is left of the bound.
        if let Some(metrics) = &self.metrics {
            if let Err(e) = metrics.shutdown(self.left(start)) {
                result = Err(Error::Shutdown(format!("metrics: {e}")));
            }
        }
        let stats = self.stats.snapshot();
        let why = stats
            .last_error
            .map(|e| format!("; last error: {e}"))
            .unwrap_or_default();
        let lost = stats.dropped + stats.failed + stats.queued;
        if lost > 0 {
            tracing::warn!(
                target: LOG_TARGET,
                "{lost} of {} spans were not exported ({} dropped, {} failed){why}",
                lost + stats.exported,
                stats.dropped,
                stats.failed + stats.queued,
            );
        }
        let lost_records =
            stats.log_records_dropped + stats.log_records_failed + stats.log_records_queued;
        if lost_records > 0 {
            tracing::warn!(
                target: LOG_TARGET,
                "{lost_records} of {} log records were not exported ({} dropped, {} failed){why}",
                lost_records + stats.log_records_exported,
                stats.log_records_dropped,
                stats.log_records_failed + stats.log_records_queued,
            );
        }
        result
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if let Err(e) = inner.shutdown() {
                // Drop cannot return the error: say it in the log.
                tracing::warn!(target: LOG_TARGET, "the last spans may be lost: {e}");
            }
        }
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("disabled", &self.is_disabled())
            .field("stats", &self.stats())
            .finish()
    }
}
