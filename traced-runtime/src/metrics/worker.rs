//! The export thread's side of the metrics: every export interval, one collection pushed to each OTLP (and
//! console) exporter, each within the export timeout; a flush or a shutdown pushes at once, within its deadline.

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::collect::{now_nanos, Collector};
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use super::temporality::Deltas;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use crate::config::Temporality;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use crate::export::budget::Budget;
use crate::export::budget::Closing;
use crate::export::error_log::ErrorLog;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use crate::export::otlp_metrics::MetricsClient;
use crate::stats::{ExporterCounters, SharedStats, Tally};

/// What the guard asks of the worker.
pub(crate) enum Control {
    Flush {
        deadline: Instant,
        reply: std_mpsc::SyncSender<Result<(), String>>,
    },
    Shutdown {
        deadline: Instant,
        reply: std_mpsc::SyncSender<Result<(), String>>,
    },
}

/// Where a collection is pushed.
pub(crate) enum Push {
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    Otlp {
        // Boxed: a client is large beside the console variant.
        client: Box<MetricsClient>,
        temporality: Temporality,
        deltas: Deltas,
    },
    /// The text format on stdout.
    Console,
}

pub(crate) struct Worker {
    pub(crate) collector: Arc<Collector>,
    /// Each exporter and its counters (a collection is one item: exported or failed).
    pub(crate) pushes: Vec<(Push, Arc<ExporterCounters>)>,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) stats: Arc<SharedStats>,
    /// Raised at shutdown: the last push does not retry a collector that refuses connections.
    pub(crate) closing: Closing,
    pub(crate) errors: ErrorLog,
    /// When the previous push collected: its exemplars are not sent again.
    pub(crate) since: u64,
}

impl Worker {
    pub(crate) async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) {
        let mut next = tokio::time::Instant::now() + self.interval;
        loop {
            tokio::select! {
                biased;
                request = control.recv() => match request {
                    Some(Control::Flush { deadline, reply }) => {
                        let _ = reply.send(self.push(deadline).await);
                    }
                    Some(Control::Shutdown { deadline, reply }) => {
                        self.closing.close();
                        // A collection lost at exit is counted and logged, not an error of the shutdown (as
                        // for spans): only a worker that does not answer is.
                        let _ = self.push(deadline).await;
                        let _ = reply.send(Ok(()));
                        return;
                    }
                    None => {
                        let _ = self.push(Instant::now() + self.timeout).await;
                        return;
                    }
                },
                () = tokio::time::sleep_until(next) => {
                    let _ = self.push(Instant::now() + self.timeout).await;
                    next = tokio::time::Instant::now() + self.interval;
                }
            }
        }
    }

    /// One collection to every exporter, all within `deadline` (which only the OTLP exporter can overrun).
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(unused_variables)
    )]
    async fn push(&mut self, deadline: Instant) -> Result<(), String> {
        if self.pushes.is_empty() {
            return Ok(());
        }
        let now = now_nanos();
        let request = self.collector.collect(self.since);
        self.since = now;
        let mut result = Ok(());
        for (push, counters) in &mut self.pushes {
            let outcome: Result<(), String> = match push {
                #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
                Push::Otlp {
                    client,
                    temporality,
                    deltas,
                } => {
                    let mut request = request.clone();
                    deltas.apply(*temporality, &mut request, now);
                    let budget = Budget {
                        deadline,
                        closing: self.closing.listen(),
                        counters: counters.clone(),
                    };
                    let send = client.send(&request, &budget);
                    match tokio::time::timeout_at(deadline.into(), send).await {
                        Ok(outcome) => outcome,
                        Err(_) => Err("metric export cut at its deadline".to_owned()),
                    }
                }
                Push::Console => {
                    print!("{}", super::prometheus::render(&request, false));
                    Ok(())
                }
            };
            let mut tally = Tally::default();
            match &outcome {
                Ok(()) => tally.exported = 1,
                Err(message) => {
                    tally.failed = 1;
                    self.stats.error(message);
                    self.errors.report(message);
                }
            }
            counters.resolve(tally);
            if outcome.is_err() {
                result = outcome;
            }
        }
        result
    }
}
