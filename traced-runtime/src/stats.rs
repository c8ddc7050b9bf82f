//! The pipeline's counters: written by the signals and the exporters, read by the [`Guard`](crate::Guard) and by
//! [`stats`] / [`healthy`]. At the bottom of the runtime: every layer may import it, it imports none of them.
//!
//! Every count is a running total, so a snapshot adds up at any time, not only after shutdown: the queue counts
//! the spans it takes (`accepted`) and refuses; the exports count what became of the accepted ones, and tail
//! sampling the ones it discarded; `queued` is the difference. A snapshot reads the outcomes before the spans taken, so a span that resolves in between is
//! still counted once, as queued.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::SystemTime;

/// Counters of the export pipeline, from [`Guard::stats`](crate::Guard::stats) or [`stats`].
///
/// Every span ended is in exactly one of `exported`, `dropped`, `failed`, `queued` and (with tail sampling on)
/// `tail_discarded`, at any time. With several exporters a span still counts once, by its worst outcome:
/// `exported` when every exporter accepted it, `failed` when any exporter gave up on it, `dropped` otherwise (the
/// queue, or one exporter's share of it, was full). [`Stats::exporters`] has each exporter's own counts, which
/// add up the same way with `tail_discarded` (spans no exporter was given).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Spans every exporter accepted.
    pub exported: u64,
    /// Spans dropped because the queue (`OTEL_BSP_MAX_QUEUE_SIZE`), or an exporter's share of it, was full.
    pub dropped: u64,
    /// Spans whose export failed or timed out (after the retries that fitted in the export timeout), or that
    /// were larger than `TRACED_MAX_EXPORT_BYTES`, for at least one exporter.
    pub failed: u64,
    /// Spans ended and not yet exported, dropped, failed or discarded: waiting in the queue, held by tail sampling
    /// until their trace is decided, or being exported. Zero once the pipeline is shut down.
    pub queued: u64,
    /// Tail sampling: traces kept because one of their spans had status ERROR.
    pub tail_kept_error: u64,
    /// Tail sampling: traces kept because their local root lasted at least `slow`.
    pub tail_kept_slow: u64,
    /// Tail sampling: traces kept by `ratio`, by their trace id.
    pub tail_kept_ratio: u64,
    /// Tail sampling: traces kept because their remote parent arrived sampled.
    pub tail_kept_parent: u64,
    /// Tail sampling: **spans** (not traces) discarded, those of the traces not kept and those ending later
    /// under such a verdict; no exporter is given them. Once the pipeline is shut down,
    /// `exported + dropped + failed + tail_discarded` is every span ended (with tail sampling on, that includes
    /// the spans the head sampler did not sample).
    pub tail_discarded: u64,
    /// Tail sampling: traces decided early, by `ratio`, because more than `max_spans` spans were held; each is
    /// counted again in `tail_kept_ratio` or, by its spans, in `tail_discarded`.
    pub tail_overflow: u64,
    /// Export attempts repeated after a transient failure (connection refused, HTTP 429/502/503/504, gRPC
    /// UNAVAILABLE, ...), all exporters of every signal together.
    pub retries: u64,
    /// Log records the exporters accepted (every exporter, as for spans).
    pub log_records_exported: u64,
    /// Log records dropped because the queue (`OTEL_BLRP_MAX_QUEUE_SIZE`), or an exporter's share of it, was
    /// full.
    pub log_records_dropped: u64,
    /// Log records whose export failed or timed out, for at least one exporter.
    pub log_records_failed: u64,
    /// Log records waiting in the queue or being exported.
    pub log_records_queued: u64,
    /// Metric exports (one collection to one exporter) the exporters accepted.
    pub metric_exports: u64,
    /// Metric exports that failed or timed out (after the retries that fitted in the export timeout).
    pub metric_export_failures: u64,
    /// The message of the last export error, of any signal.
    pub last_error: Option<String>,
    /// When the last export error happened.
    pub last_error_at: Option<SystemTime>,
    /// Each span exporter's own counts, in the order the configuration names them (the exporters given in code
    /// last).
    pub exporters: Vec<ExporterStats>,
}

/// One exporter's counts: every span ended is in exactly one of `exported`, `dropped`, `failed` and `queued`
/// for each exporter, or in [`Stats::tail_discarded`] (given to none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExporterStats {
    /// `otlp`, `console`, `zipkin`, or `custom` for an exporter given in code.
    pub name: &'static str,
    /// Spans this exporter accepted.
    pub exported: u64,
    /// Spans dropped before they reached this exporter: the queue was full, or this exporter's share of it (it
    /// fell behind).
    pub dropped: u64,
    /// Spans whose export by this exporter failed, timed out, or was over the size bound.
    pub failed: u64,
    /// Spans waiting for this exporter, or being exported by it.
    pub queued: u64,
    /// Attempts this exporter repeated after a transient failure.
    pub retries: u64,
}

/// The counters of the last pipeline started, for [`stats`]; weak, so a finished pipeline frees them.
static CURRENT: RwLock<Option<Weak<SharedStats>>> = RwLock::new(None);

/// Makes `stats` the counters [`stats`] and [`healthy`] read.
pub(crate) fn set_current(stats: &Arc<SharedStats>) {
    if let Ok(mut current) = CURRENT.write() {
        *current = Some(Arc::downgrade(stats));
    }
}

/// The counters of the running pipeline, if any.
fn current() -> Option<Arc<SharedStats>> {
    CURRENT.read().ok()?.as_ref()?.upgrade()
}

/// The counters of the running pipeline, without its [`Guard`](crate::Guard) (a health endpoint, a metrics
/// exporter): all zero when no pipeline runs. Cheap: a read lock and a few atomic loads.
pub fn stats() -> Stats {
    current().map(|stats| stats.snapshot()).unwrap_or_default()
}

/// [`Guard::healthy`](crate::Guard::healthy) without the guard: true when the last export of every exporter
/// succeeded, none was attempted yet, or no pipeline runs.
pub fn healthy() -> bool {
    current().is_none_or(|stats| stats.healthy())
}

/// The signals the counters are kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Spans.
    Spans,
    /// Log records.
    LogRecords,
    /// Metric collections: each exporter counts its exports (one collection each), exported or failed.
    Metrics,
}

/// What became of one item, for one exporter or for all of them together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    Exported,
    Dropped,
    Failed,
}

/// Counts of spans by outcome, added to the counters at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) exported: u64,
    pub(crate) dropped: u64,
    pub(crate) failed: u64,
}

impl Tally {
    /// Adds one item with `outcome`.
    pub(crate) fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Exported => self.exported += 1,
            Outcome::Dropped => self.dropped += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    fn is_empty(&self) -> bool {
        *self == Tally::default()
    }
}

/// Exported, dropped and failed items: running totals.
#[derive(Debug, Default)]
struct Resolved {
    exported: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

impl Resolved {
    fn add(&self, tally: Tally) {
        self.exported.fetch_add(tally.exported, Ordering::SeqCst);
        self.dropped.fetch_add(tally.dropped, Ordering::SeqCst);
        self.failed.fetch_add(tally.failed, Ordering::SeqCst);
    }

    fn load(&self) -> Tally {
        Tally {
            exported: self.exported.load(Ordering::SeqCst),
            dropped: self.dropped.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
        }
    }

    fn reset(&self) {
        for counter in [&self.exported, &self.dropped, &self.failed] {
            counter.store(0, Ordering::SeqCst);
        }
    }
}

/// The counters of one exporter, shared by its lane on the export thread and its export calls (which count the
/// retries).
#[derive(Debug)]
pub(crate) struct ExporterCounters {
    name: &'static str,
    /// Outcomes of the items this exporter was given; its drops are those of its own share of the queue.
    resolved: Resolved,
    retries: AtomicU64,
    last_ok: AtomicBool,
}

impl ExporterCounters {
    fn new(name: &'static str) -> Self {
        ExporterCounters {
            name,
            resolved: Resolved::default(),
            retries: AtomicU64::new(0),
            last_ok: AtomicBool::new(true),
        }
    }

    /// Counts one attempt repeated after a transient failure.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts items this exporter exported, failed, or could not take (its share of the queue was full); a
    /// failure or success marks the exporter's health.
    pub(crate) fn resolve(&self, tally: Tally) {
        if tally.failed > 0 {
            self.last_ok.store(false, Ordering::Relaxed);
        } else if tally.exported > 0 {
            self.last_ok.store(true, Ordering::Relaxed);
        }
        self.resolved.add(tally);
    }
}

/// One signal's counters, shared by its queue, its worker on the export thread and its exporters.
#[derive(Debug, Default)]
pub(crate) struct SignalStats {
    /// Items the queue took.
    accepted: AtomicU64,
    /// Items the queue refused (full, or closed by shutdown): dropped for every exporter.
    refused: AtomicU64,
    /// Outcomes of the accepted items, each counted once by its worst outcome over the exporters.
    resolved: Resolved,
    /// Accepted items the signal discarded before any exporter was given them (tail sampling).
    discarded: AtomicU64,
    exporters: RwLock<Vec<Arc<ExporterCounters>>>,
}

/// One signal's counts in a snapshot.
struct SignalSnapshot {
    exported: u64,
    dropped: u64,
    failed: u64,
    queued: u64,
    discarded: u64,
    exporters: Vec<ExporterStats>,
}

impl SignalStats {
    /// Registers an exporter (in configuration order) and returns its counters.
    pub(crate) fn add_exporter(&self, name: &'static str) -> Arc<ExporterCounters> {
        let counters = Arc::new(ExporterCounters::new(name));
        self.exporters
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(counters.clone());
        counters
    }

    /// The outcomes are read before the items taken, so each item counts once.
    fn snapshot(&self) -> SignalSnapshot {
        let exporters: Vec<(&'static str, Tally, u64)> = self
            .exporters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|e| (e.name, e.resolved.load(), e.retries.load(Ordering::Relaxed)))
            .collect();
        let resolved = self.resolved.load();
        let discarded = self.discarded.load(Ordering::SeqCst);
        let accepted = self.accepted.load(Ordering::SeqCst);
        let refused = self.refused.load(Ordering::SeqCst);
        let queued =
            |t: &Tally| accepted.saturating_sub(t.exported + t.dropped + t.failed + discarded);
        SignalSnapshot {
            exported: resolved.exported,
            dropped: resolved.dropped + refused,
            failed: resolved.failed,
            queued: queued(&resolved),
            discarded,
            exporters: exporters
                .iter()
                .map(|(name, tally, retries)| ExporterStats {
                    name,
                    exported: tally.exported,
                    dropped: tally.dropped + refused,
                    failed: tally.failed,
                    queued: queued(tally),
                    retries: *retries,
                })
                .collect(),
        }
    }

    fn healthy(&self) -> bool {
        self.exporters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .all(|e| e.last_ok.load(Ordering::Relaxed))
    }

    /// Counts an item the queue took.
    pub(crate) fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts items the queue could not take (or discarded).
    pub(crate) fn refused(&self, items: u64) {
        self.refused.fetch_add(items, Ordering::SeqCst);
    }

    /// Counts accepted items the signal discarded on purpose, before any exporter was given them.
    pub(crate) fn discarded(&self, items: u64) {
        self.discarded.fetch_add(items, Ordering::SeqCst);
    }

    /// Counts accepted items whose outcome over every exporter is known.
    pub(crate) fn resolve(&self, tally: Tally) {
        if !tally.is_empty() {
            self.resolved.add(tally);
        }
    }

    fn reset(&self) {
        self.accepted.store(0, Ordering::SeqCst);
        self.refused.store(0, Ordering::SeqCst);
        self.discarded.store(0, Ordering::SeqCst);
        self.resolved.reset();
        self.exporters
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// What tail sampling decided (see [`Stats`]): traces kept by reason, traces overflowed. The spans it discards
/// are counted in the spans' [`SignalStats`], so that `queued` leaves them out.
#[derive(Debug, Default)]
pub(crate) struct TailCounters {
    pub(crate) kept_error: AtomicU64,
    pub(crate) kept_slow: AtomicU64,
    pub(crate) kept_ratio: AtomicU64,
    pub(crate) kept_parent: AtomicU64,
    pub(crate) overflow: AtomicU64,
}

impl TailCounters {
    fn reset(&self) {
        for counter in [
            &self.kept_error,
            &self.kept_slow,
            &self.kept_ratio,
            &self.kept_parent,
            &self.overflow,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// Counters shared by the signals' queues, the export thread, the exporters and the [`Guard`](crate::Guard).
#[derive(Debug, Default)]
pub(crate) struct SharedStats {
    spans: Arc<SignalStats>,
    log_records: Arc<SignalStats>,
    metrics: Arc<SignalStats>,
    /// Written by the tail sampling stage on the export thread.
    pub(crate) tail: TailCounters,
    last_error: Mutex<Option<(String, SystemTime)>>,
}

impl SharedStats {
    /// The counters of `signal`.
    pub(crate) fn of(&self, signal: Signal) -> &Arc<SignalStats> {
        match signal {
            Signal::Spans => &self.spans,
            Signal::LogRecords => &self.log_records,
            Signal::Metrics => &self.metrics,
        }
    }

    /// A snapshot of the counters: within each signal, every item counts once.
    pub(crate) fn snapshot(&self) -> Stats {
        let spans = self.spans.snapshot();
        let logs = self.log_records.snapshot();
        let metrics = self.metrics.snapshot();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let (last_error, last_error_at) = match self.last_error() {
            Some((message, at)) => (Some(message), Some(at)),
            None => (None, None),
        };
        Stats {
            exported: spans.exported,
            dropped: spans.dropped,
            failed: spans.failed,
            queued: spans.queued,
            tail_kept_error: load(&self.tail.kept_error),
            tail_kept_slow: load(&self.tail.kept_slow),
            tail_kept_ratio: load(&self.tail.kept_ratio),
            tail_kept_parent: load(&self.tail.kept_parent),
            tail_discarded: spans.discarded,
            tail_overflow: load(&self.tail.overflow),
            retries: spans
                .exporters
                .iter()
                .chain(&logs.exporters)
                .chain(&metrics.exporters)
                .map(|e| e.retries)
                .sum(),
            log_records_exported: logs.exported,
            log_records_dropped: logs.dropped,
            log_records_failed: logs.failed,
            log_records_queued: logs.queued,
            metric_exports: metrics.exporters.iter().map(|e| e.exported).sum(),
            metric_export_failures: metrics.exporters.iter().map(|e| e.failed).sum(),
            last_error,
            last_error_at,
            exporters: spans.exporters,
        }
    }

    fn last_error(&self) -> Option<(String, SystemTime)> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// True when the last export of every exporter of every signal succeeded, or none was attempted.
    pub(crate) fn healthy(&self) -> bool {
        self.spans.healthy() && self.log_records.healthy() && self.metrics.healthy()
    }

    /// Remembers the last export error, for [`Stats::last_error`].
    pub(crate) fn error(&self, message: &str) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) =
            Some((message.to_owned(), SystemTime::now()));
    }

    /// Forgets every count and exporter of `signal`, and the last error: a forked child starts counting its own.
    pub(crate) fn reset(&self, signal: Signal) {
        self.of(signal).reset();
        if signal == Signal::Spans {
            self.tail.reset();
        }
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_while_spans_are_under_way() {
        let shared = SharedStats::default();
        let stats = shared.of(Signal::Spans);
        let otlp = stats.add_exporter("otlp");
        let console = stats.add_exporter("console");
        for _ in 0..10 {
            stats.accepted();
        }
        stats.refused(1);
        // The console took all 10; OTLP failed 4 and had no room for 2; 4 are still on their way to it.
        console.resolve(Tally {
            exported: 10,
            ..Tally::default()
        });
        otlp.resolve(Tally {
            failed: 4,
            dropped: 2,
            ..Tally::default()
        });
        otlp.retried();
        stats.resolve(Tally {
            failed: 4,
            dropped: 2,
            ..Tally::default()
        });
        let snapshot = shared.snapshot();
        assert_eq!(
            (
                snapshot.exported,
                snapshot.dropped,
                snapshot.failed,
                snapshot.queued
            ),
            (0, 3, 4, 4)
        );
        assert_eq!(snapshot.retries, 1);
        let [otlp, console] = &snapshot.exporters[..] else {
            panic!("{snapshot:?}")
        };
        assert_eq!(
            (
                otlp.name,
                otlp.exported,
                otlp.dropped,
                otlp.failed,
                otlp.queued
            ),
            ("otlp", 0, 3, 4, 4)
        );
        assert_eq!(
            (console.exported, console.dropped, console.queued),
            (10, 1, 0)
        );
        assert!(!shared.healthy(), "OTLP's last export failed");
        shared.reset(Signal::Spans);
        assert_eq!(shared.snapshot(), Stats::default());
    }

    #[test]
    fn spans_discarded_by_tail_sampling_are_no_longer_queued() {
        let shared = SharedStats::default();
        let stats = shared.of(Signal::Spans);
        let otlp = stats.add_exporter("otlp");
        for _ in 0..5 {
            stats.accepted();
        }
        // Of 5 spans: 2 discarded, 1 exported, 2 held (or on their way).
        stats.discarded(2);
        let exported = Tally {
            exported: 1,
            ..Tally::default()
        };
        otlp.resolve(exported);
        stats.resolve(exported);
        shared.tail.kept_error.fetch_add(1, Ordering::Relaxed);
        let snapshot = shared.snapshot();
        assert_eq!(
            (
                snapshot.exported,
                snapshot.tail_discarded,
                snapshot.queued,
                snapshot.tail_kept_error
            ),
            (1, 2, 2, 1)
        );
        assert_eq!(snapshot.exporters[0].queued, 2);
        shared.reset(Signal::Spans);
        assert_eq!(shared.snapshot(), Stats::default());
    }
}
