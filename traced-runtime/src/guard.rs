//! The [`Guard`] returned by `init`: it owns the pipeline and flushes it on shutdown or drop.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::processor::SharedStats;
use crate::Error;

/// Counters of the export pipeline, from [`Guard::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Spans the exporters accepted.
    pub exported: u64,
    /// Spans dropped because the queue was full (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub dropped: u64,
    /// Spans whose export failed or timed out (after the retries that fitted in the export timeout).
    pub failed: u64,
    /// Export attempts repeated after a transient failure (connection refused, HTTP 429/502/503/504, gRPC
    /// UNAVAILABLE, ...).
    pub retries: u64,
    /// The message of the last export error.
    pub last_error: Option<String>,
    /// When the last export error happened.
    pub last_error_at: Option<SystemTime>,
}

/// Keeps the tracing pipeline alive; flushes and shuts it down on [`Guard::shutdown`] or drop.
///
/// Keep it in `main` for the life of the program: the spans still queued when it is dropped are exported then,
/// within the export timeout. Dropping it never panics and never waits longer than that, whether it happens
/// inside a tokio multi-thread runtime, a current-thread runtime, or no runtime at all.
#[must_use = "dropping the guard shuts the pipeline down: keep it alive until the end of main"]
pub struct Guard {
    inner: Option<Inner>,
}

struct Inner {
    provider: SdkTracerProvider,
    stats: Arc<SharedStats>,
    timeout: Duration,
}

impl Guard {
    pub(crate) fn new(
        provider: SdkTracerProvider,
        stats: Arc<SharedStats>,
        timeout: Duration,
    ) -> Self {
        Guard {
            inner: Some(Inner {
                provider,
                stats,
                timeout,
            }),
        }
    }

    /// A guard for a disabled pipeline (`OTEL_SDK_DISABLED=true`): every method succeeds and does nothing.
    pub(crate) fn disabled() -> Self {
        Guard { inner: None }
    }

    /// True when the pipeline is disabled and nothing is exported.
    pub fn is_disabled(&self) -> bool {
        self.inner.is_none()
    }

    /// Exports every finished span now, waiting at most the export timeout.
    pub fn force_flush(&self) -> Result<(), Error> {
        match &self.inner {
            Some(inner) => inner
                .provider
                .force_flush()
                .map_err(|e| Error::Shutdown(format!("flush: {e}"))),
            None => Ok(()),
        }
    }

    /// Flushes the queued spans and shuts the exporters down, waiting at most the export timeout.
    pub fn shutdown(mut self) -> Result<(), Error> {
        match self.inner.take() {
            Some(inner) => inner.shutdown(),
            None => Ok(()),
        }
    }

    /// Like [`Guard::shutdown`], and the final counters: with the pipeline stopped, every span ended is in
    /// `exported + dropped + failed`. Handy to log at exit how many spans were lost, and why.
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

    /// True when the last export succeeded, or none was attempted yet.
    pub fn healthy(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| inner.stats.healthy())
    }
}

/// The counters of the running pipeline, without its [`Guard`] (a health endpoint, a metrics exporter): all
/// zero when no pipeline runs. Cheap: a read lock and a few atomic loads.
pub fn stats() -> Stats {
    crate::processor::current()
        .map(|stats| stats.snapshot())
        .unwrap_or_default()
}

/// [`Guard::healthy`] without the guard: true when the last export succeeded, none was attempted yet, or no
/// pipeline runs.
pub fn healthy() -> bool {
    crate::processor::current().is_none_or(|stats| stats.healthy())
}

impl Inner {
    fn shutdown(self) -> Result<(), Error> {
        match self.provider.shutdown_with_timeout(self.timeout) {
            Ok(()) | Err(OTelSdkError::AlreadyShutdown) => Ok(()),
            Err(e) => Err(Error::Shutdown(e.to_string())),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if let Err(e) = inner.shutdown() {
                // Drop cannot return the error: say it in the log.
                tracing::warn!(target: crate::processor::LOG_TARGET, "the last spans may be lost: {e}");
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
