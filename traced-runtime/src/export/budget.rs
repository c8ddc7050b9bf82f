//! What one export may spend: a deadline, the pipeline's shutdown signal, and the counter of its retries.
//!
//! Shutdown is a signal rather than a shorter deadline because exports already under way must hear it: an export
//! retrying a refused connection with a 30 s budget stops as soon as the program exits, instead of holding the
//! exit for the whole export timeout.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::stats::ExporterCounters;

/// The shutdown signal of one pipeline: raised once, heard by every export under way and every later one.
#[derive(Debug)]
pub(crate) struct Closing(watch::Sender<bool>);

impl Closing {
    pub(crate) fn new() -> Self {
        Closing(watch::Sender::new(false))
    }

    /// Raises the signal.
    pub(crate) fn close(&self) {
        self.0.send_replace(true);
    }

    /// A receiver for one export.
    pub(crate) fn listen(&self) -> Closed {
        Closed(self.0.subscribe())
    }
}

/// The receiving end of [`Closing`]: only the OTLP clients retry, and listen.
#[derive(Clone, Debug)]
#[cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(dead_code)
)]
pub(crate) struct Closed(watch::Receiver<bool>);

#[cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(dead_code)
)]
impl Closed {
    /// True once the pipeline is shutting down.
    pub(crate) fn is_closed(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until the pipeline is shutting down (forever if it never does).
    pub(crate) async fn wait(&mut self) {
        if self.0.wait_for(|closed| *closed).await.is_err() {
            // The pipeline is gone without raising it: nothing will.
            std::future::pending::<()>().await;
        }
    }
}

/// What one export call may spend (the exporters given in code take no budget: they do not retry).
#[derive(Clone, Debug)]
#[cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(dead_code)
)]
pub(crate) struct Budget {
    /// No attempt starts after it, and none runs past it.
    pub(crate) deadline: Instant,
    /// Raised at shutdown: an endpoint that refuses connections is not retried from then on.
    pub(crate) closing: Closed,
    /// The exporter's counters, where retries are counted.
    pub(crate) counters: Arc<ExporterCounters>,
}
