//! Our batch span processor.
//!
//! The SDK's batch processor exports with `futures_executor::block_on` on a thread without a tokio reactor, which
//! hangs tonic on a current-thread runtime, and never times an export out. This one owns a dedicated thread,
//! `traced-export`, running a tokio current-thread runtime on which the exporters are built and run, so gRPC
//! behaves the same whatever runtime (if any) the application uses. Every export is bounded by the export
//! timeout; flush and shutdown are bounded too, and the caller only ever waits on a std channel with a timeout,
//! never on a runtime.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::{Array, Context, StringValue, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;
use tokio::sync::{mpsc, Notify};
use tokio::task::{self, JoinSet};

use crate::config::{BatchConfig, Config};
use crate::exporter::{self, DynExporter};
use crate::guard::Stats;
use crate::redact::Redactor;
use crate::Error;

/// The name of the export thread, also the target of its log lines.
pub(crate) const THREAD_NAME: &str = "traced-export";
/// The `tracing` target of the processor's own log lines; never exported.
pub(crate) const LOG_TARGET: &str = "traced_export";
/// At most one export error line per interval; the others are counted and reported with the next line.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// What a caller waits beyond a deadline for the export thread to answer.
const REPLY_GRACE: Duration = Duration::from_millis(200);

thread_local! {
    static IN_EXPORT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// True on the `traced-export` thread: whatever the transports log or trace there must not become spans.
pub(crate) fn in_export_thread() -> bool {
    IN_EXPORT_THREAD.with(Cell::get)
}

/// The counters of the last pipeline started, for [`crate::stats`]; weak, so a finished pipeline frees them.
static CURRENT: RwLock<Option<Weak<SharedStats>>> = RwLock::new(None);

/// The counters of the running pipeline, if any.
pub(crate) fn current() -> Option<Arc<SharedStats>> {
    CURRENT.read().ok()?.as_ref()?.upgrade()
}

/// Counters shared by the processor, its thread and the [`Guard`](crate::Guard).
#[derive(Debug)]
pub(crate) struct SharedStats {
    exported: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    /// Export attempts repeated after a transient failure; the exporters add to it.
    pub(crate) retries: AtomicU64,
    last_ok: AtomicBool,
    last_error: Mutex<Option<(String, SystemTime)>>,
}

impl Default for SharedStats {
    fn default() -> Self {
        SharedStats {
            exported: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            last_ok: AtomicBool::new(true),
            last_error: Mutex::new(None),
        }
    }
}

impl SharedStats {
    /// A snapshot of the counters.
    pub(crate) fn snapshot(&self) -> Stats {
        let last = self
            .last_error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        let (last_error, last_error_at) = match last {
            Some((message, at)) => (Some(message), Some(at)),
            None => (None, None),
        };
        Stats {
            exported: self.exported.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            last_error,
            last_error_at,
        }
    }

    /// True when the last export succeeded or none was attempted.
    pub(crate) fn healthy(&self) -> bool {
        self.last_ok.load(Ordering::Relaxed)
    }

    fn record(&self, spans: u64, result: &Result<(), String>) {
        match result {
            Ok(()) => {
                self.exported.fetch_add(spans, Ordering::Relaxed);
                self.last_ok.store(true, Ordering::Relaxed);
            }
            Err(message) => {
                self.failed.fetch_add(spans, Ordering::Relaxed);
                self.last_ok.store(false, Ordering::Relaxed);
                if let Ok(mut last) = self.last_error.lock() {
                    *last = Some((message.clone(), SystemTime::now()));
                }
            }
        }
    }
}

enum Control {
    Flush {
        deadline: Instant,
        reply: std_mpsc::SyncSender<OTelSdkResult>,
    },
    Shutdown {
        deadline: Instant,
        reply: std_mpsc::SyncSender<OTelSdkResult>,
    },
    SetResource(Resource),
}

/// The queue between the application's threads and the export thread: a vector behind a mutex, which the export
/// thread swaps out whole. The export thread is woken when a batch is ready, not per span: with a channel that
/// wakes its receiver on every send, the wake-up (a system call on both sides) cost more than the span.
#[derive(Debug)]
struct Queue {
    state: Mutex<QueueState>,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`: what the queue and the export thread's buffer hold together.
    capacity: usize,
    /// Spans taken to the export thread's buffer and not yet sent.
    buffered: AtomicUsize,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`: the length at which the export thread is woken.
    batch: usize,
    ready: Notify,
}

#[derive(Debug)]
struct QueueState {
    spans: Vec<SpanData>,
    /// Set by shutdown: later spans are dropped (and counted).
    closed: bool,
}

impl Queue {
    fn new(capacity: usize, batch: usize) -> Queue {
        Queue {
            state: Mutex::new(QueueState {
                spans: Vec::with_capacity(capacity),
                closed: false,
            }),
            capacity,
            buffered: AtomicUsize::new(0),
            batch,
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A panic while holding the lock cannot leave the vector inconsistent: keep using it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `span`, or gives it back when the queue is full or closed.
    fn push(&self, span: SpanData) -> Option<SpanData> {
        let mut state = self.lock();
        let buffered = self.buffered.load(Ordering::Relaxed);
        if state.closed || state.spans.len() + buffered >= self.capacity {
            return Some(span);
        }
        state.spans.push(span);
        // A batch is ready, or the queue just filled up (with a large buffer it may never hold a whole batch).
        let len = state.spans.len();
        let batch_ready = len == self.batch || len + buffered == self.capacity;
        drop(state);
        if batch_ready {
            self.ready.notify_one();
        }
        None
    }

    /// Moves every queued span to the end of `buffer`; `spare` (empty) becomes the queue's vector, and gets
    /// back the queue's, emptied, so neither side allocates in the steady state.
    fn take(&self, buffer: &mut VecDeque<SpanData>, spare: &mut Vec<SpanData>, close: bool) {
        let mut state = self.lock();
        state.closed |= close;
        std::mem::swap(&mut state.spans, spare);
        drop(state);
        buffer.extend(spare.drain(..));
        self.buffered.store(buffer.len(), Ordering::Relaxed);
    }
}

/// The batch span processor; see the module documentation.
#[derive(Debug)]
pub(crate) struct BatchProcessor {
    /// Where `on_end` queues spans; the span layer gets a clone.
    sink: SpanSink,
    control: mpsc::UnboundedSender<Control>,
    export_timeout: Duration,
}

/// The sending end of the export queue, for the span layer: finished spans go straight in, without an SDK span.
#[derive(Clone, Debug)]
pub(crate) struct SpanSink {
    queue: Arc<Queue>,
    stats: Arc<SharedStats>,
}

impl SpanSink {
    /// Queues a sampled span. Never blocks the caller: a full queue (or one closed by shutdown) drops the span
    /// and counts it, so that every span ended is exported, dropped or failed.
    pub(crate) fn send(&self, span: SpanData) {
        if let Some(span) = self.queue.push(span) {
            // Freed outside the queue's lock.
            drop(span);
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl BatchProcessor {
    /// A sending end for the span layer.
    pub(crate) fn sink(&self) -> SpanSink {
        self.sink.clone()
    }

    /// Starts the export thread and builds the configured exporters on it.
    pub(crate) fn start(
        config: &Config,
        resource: &Resource,
        stats: Arc<SharedStats>,
    ) -> Result<Self, Error> {
        let batch = normalized(config.batch);
        let queue = Arc::new(Queue::new(
            batch.max_queue_size,
            batch.max_export_batch_size,
        ));
        let worker_queue = queue.clone();
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std_mpsc::sync_channel(1);
        let worker_config = config.clone();
        let worker_resource = resource.clone();
        let worker_stats = stats.clone();
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                IN_EXPORT_THREAD.with(|f| f.set(true));
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Error::Exporter {
                            exporter: "runtime",
                            reason: format!("cannot start the export runtime: {e}"),
                        }));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let mut exporters = match exporter::build(&worker_config, &worker_stats) {
                        Ok(exporters) => exporters,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    for exporter in &mut exporters {
                        exporter.set_resource(&worker_resource);
                    }
                    let _ = ready_tx.send(Ok(()));
                    Worker {
                        exporters: Arc::new(exporters),
                        batch,
                        value_length_limit: worker_config.limits.attribute_value_length,
                        redactor: worker_config
                            .redaction
                            .enabled
                            .then(|| Redactor::new(&worker_config.redaction.keys)),
                        stats: worker_stats,
                        errors: ErrorLog::default(),
                        buffer: VecDeque::with_capacity(batch.max_queue_size),
                        in_flight: JoinSet::new(),
                        in_flight_spans: Vec::with_capacity(MAX_CONCURRENT_EXPORTS),
                        spare: Vec::with_capacity(batch.max_queue_size),
                        queue: worker_queue,
                    }
                    .run(control_rx)
                    .await;
                });
                // Blocking tasks of the transports (DNS lookups) must not hold the thread forever.
                runtime.shutdown_timeout(Duration::from_millis(100));
            })
            .map_err(|e| Error::Exporter {
                exporter: "runtime",
                reason: format!("cannot spawn the {THREAD_NAME} thread: {e}"),
            })?;
        ready_rx.recv().unwrap_or_else(|_| {
            Err(Error::Exporter {
                exporter: "runtime",
                reason: format!("the {THREAD_NAME} thread stopped while building the exporters"),
            })
        })?;
        if let Ok(mut current) = CURRENT.write() {
            *current = Some(Arc::downgrade(&stats));
        }
        Ok(BatchProcessor {
            sink: SpanSink { queue, stats },
            control: control_tx,
            export_timeout: batch.export_timeout,
        })
    }

    /// Sends a request carrying a deadline and waits for the answer, at most until the deadline (plus a grace).
    fn request(
        &self,
        timeout: Duration,
        make: impl FnOnce(Instant, std_mpsc::SyncSender<OTelSdkResult>) -> Control,
    ) -> OTelSdkResult {
        if in_export_thread() {
            // The thread would wait for itself.
            return Err(OTelSdkError::InternalFailure(format!(
                "flush or shutdown called from the {THREAD_NAME} thread"
            )));
        }
        let deadline = Instant::now() + timeout;
        let (reply_tx, reply_rx) = std_mpsc::sync_channel(1);
        self.control
            .send(make(deadline, reply_tx))
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        match reply_rx.recv_timeout(timeout + REPLY_GRACE) {
            Ok(result) => result,
            Err(std_mpsc::RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(OTelSdkError::AlreadyShutdown),
        }
    }
}

impl SpanProcessor for BatchProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.sink.send(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.request(self.export_timeout, |deadline, reply| Control::Flush {
            deadline,
            reply,
        })
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.request(timeout, |deadline, reply| Control::Shutdown {
            deadline,
            reply,
        })
    }

    fn set_resource(&mut self, resource: &Resource) {
        let _ = self.control.send(Control::SetResource(resource.clone()));
    }
}

/// The spec's constraints: a queue of at least one, a batch no larger than the queue.
fn normalized(mut batch: BatchConfig) -> BatchConfig {
    batch.max_queue_size = batch.max_queue_size.max(1);
    batch.max_export_batch_size = batch.max_export_batch_size.clamp(1, batch.max_queue_size);
    if batch.schedule_delay.is_zero() {
        batch.schedule_delay = Duration::from_millis(1);
    }
    batch
}

/// Export errors, logged at most once per interval ([`ERROR_LOG_INTERVAL`]): a dead collector must not
/// flood the log with one line per batch. The next line says how many were suppressed.
struct ErrorLog {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Default for ErrorLog {
    fn default() -> Self {
        ErrorLog {
            interval: ERROR_LOG_INTERVAL,
            last: None,
            suppressed: 0,
        }
    }
}

impl ErrorLog {
    fn report(&mut self, message: &str) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            self.suppressed += 1;
            return;
        }
        if self.suppressed > 0 {
            tracing::warn!(
                target: LOG_TARGET,
                suppressed = self.suppressed,
                "span export failed: {message} ({} more failures since the last report)",
                self.suppressed
            );
        } else {
            tracing::warn!(target: LOG_TARGET, "span export failed: {message}");
        }
        self.last = Some(now);
        self.suppressed = 0;
    }
}

/// Exports in flight at once. With one, the thread waits a whole round trip to the collector per batch while
/// the queue overflows; with a few, the next batch is encoded and sent during that wait. Spans held beyond the
/// queue: at most this many batches.
const MAX_CONCURRENT_EXPORTS: usize = 4;

/// How long past a flush or shutdown deadline the exports under way may still report their own outcome (their
/// timeouts end at the deadline, the timer a little after) before they are cut; well within [`REPLY_GRACE`].
const CUT_GRACE: Duration = Duration::from_millis(50);

/// The outcome of one export task: its spans are already counted in the stats.
type Outcome = Result<(), String>;

struct Worker {
    /// Shared with the export tasks; only [`Control::SetResource`] needs them alone (and waits for that).
    exporters: Arc<Vec<Box<dyn DynExporter>>>,
    batch: BatchConfig,
    value_length_limit: Option<usize>,
    /// `None` when redaction is off.
    redactor: Option<Redactor>,
    stats: Arc<SharedStats>,
    errors: ErrorLog,
    /// Spans taken from the queue, oldest first: batches leave from the front without moving the rest.
    buffer: VecDeque<SpanData>,
    /// Exports under way, on this thread's runtime.
    in_flight: JoinSet<Outcome>,
    /// The span count of each export under way, to count them as failed if the task never answers.
    in_flight_spans: Vec<(task::Id, u64)>,
    queue: Arc<Queue>,
    /// The vector handed to the queue at the next take.
    spare: Vec<SpanData>,
}

impl Worker {
    async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) {
        let mut next_flush = tokio::time::Instant::now() + self.batch.schedule_delay;
        // The schedule delay passed while the buffer could not all be sent: send the partial batch as soon as
        // a slot is free.
        let mut flush_due = false;
        loop {
            let queue = self.queue.clone();
            tokio::select! {
                // Control first: a flush must not wait behind an endless stream of spans.
                biased;
                request = control.recv() => match request {
                    Some(Control::Flush { deadline, reply }) => {
                        self.take(false);
                        let result = self.export_all(deadline).await;
                        let _ = reply.send(result);
                    }
                    Some(Control::Shutdown { deadline, reply }) => {
                        let result = self.finish(deadline).await;
                        let _ = reply.send(result);
                        return;
                    }
                    Some(Control::SetResource(resource)) => self.set_resource(&resource).await,
                    None => {
                        // The processor was dropped without a shutdown: still deliver what is queued.
                        let deadline = Instant::now() + self.batch.export_timeout;
                        let _ = self.finish(deadline).await;
                        return;
                    }
                },
                Some(joined) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    let _ = self.complete(joined);
                    flush_due = self.send(flush_due);
                }
                () = queue.ready.notified() => {
                    flush_due = self.send(flush_due);
                }
                () = tokio::time::sleep_until(next_flush) => {
                    flush_due = self.send(true);
                    next_flush = tokio::time::Instant::now() + self.batch.schedule_delay;
                }
            }
        }
    }

    /// Moves the queued spans to the buffer (closing the queue for good if `close`).
    fn take(&mut self, close: bool) {
        self.queue.take(&mut self.buffer, &mut self.spare, close);
    }

    /// Refills the buffer when it holds less than a batch, and starts exporting whole batches (and the partial
    /// rest if `partial`) while a slot is free. Returns whether a partial rest still waits for a slot.
    fn send(&mut self, partial: bool) -> bool {
        let batch_size = self.batch.max_export_batch_size;
        if self.buffer.len() < batch_size {
            self.take(false);
        }
        while self.in_flight.len() < MAX_CONCURRENT_EXPORTS
            && (self.buffer.len() >= batch_size || (partial && !self.buffer.is_empty()))
        {
            self.launch(Instant::now() + self.batch.export_timeout);
        }
        partial && !self.buffer.is_empty()
    }

    /// Gives the exporters the resource, once no export borrows them.
    async fn set_resource(&mut self, resource: &Resource) {
        while let Some(joined) = self.in_flight.join_next_with_id().await {
            let _ = self.complete(joined);
        }
        match Arc::get_mut(&mut self.exporters) {
            Some(exporters) => exporters
                .iter_mut()
                .for_each(|exporter| exporter.set_resource(resource)),
            None => {
                tracing::warn!(target: LOG_TARGET, "the resource could not be updated: exporters busy")
            }
        }
    }

    /// Exports everything queued, then shuts the exporters down with what is left of the deadline.
    async fn finish(&mut self, deadline: Instant) -> OTelSdkResult {
        self.take(true);
        let exported = self.export_all(deadline).await;
        let remaining = deadline.saturating_duration_since(Instant::now());
        for exporter in self.exporters.iter() {
            let _ = exporter.shutdown_with_timeout(remaining);
        }
        exported
    }

    /// Exports the buffer and waits for every export under way, all within `deadline`; the result is an error
    /// if any of them failed.
    async fn export_all(&mut self, deadline: Instant) -> OTelSdkResult {
        let mut result = Ok(());
        loop {
            if self.buffer.is_empty() && self.in_flight.is_empty() {
                return result;
            }
            let now = Instant::now();
            if now < deadline {
                while !self.buffer.is_empty() && self.in_flight.len() < MAX_CONCURRENT_EXPORTS {
                    self.launch(deadline);
                }
            } else if !self.buffer.is_empty() {
                // Past the deadline every attempt would time out at once: count the rest as failed in one go,
                // so a shutdown answers (with exact counts) instead of grinding through doomed batches.
                let count = self.buffer.len();
                self.buffer.clear();
                self.queue.buffered.store(0, Ordering::Relaxed);
                let message =
                    format!("{count} spans not sent: the flush or shutdown deadline passed");
                self.errors.report(&message);
                self.stats.record(count as u64, &Err(message.clone()));
                result = Err(OTelSdkError::InternalFailure(message));
            } else if now >= deadline + CUT_GRACE {
                // Exports started before this flush may have a later deadline of their own: cut them.
                self.in_flight.abort_all();
                while let Some(joined) = self.in_flight.join_next_with_id().await {
                    let _ = self.complete(joined);
                }
                return Err(OTelSdkError::InternalFailure(
                    "exports under way were cut at the flush or shutdown deadline".into(),
                ));
            }
            // Those started here time out by `deadline` and report it themselves, given a moment to.
            let next = tokio::time::timeout_at(
                (deadline + CUT_GRACE).into(),
                self.in_flight.join_next_with_id(),
            );
            if let Ok(Some(joined)) = next.await {
                if let Err(message) = self.complete(joined) {
                    result = Err(OTelSdkError::InternalFailure(message));
                }
            }
        }
    }

    /// Starts exporting the next batch of the buffer, bounded by the export timeout and by `deadline`.
    fn launch(&mut self, deadline: Instant) {
        let take = self.buffer.len().min(self.batch.max_export_batch_size);
        let mut batch: Vec<SpanData> = self.buffer.drain(..take).collect();
        self.queue
            .buffered
            .store(self.buffer.len(), Ordering::Relaxed);
        self.prepare(&mut batch);
        let count = batch.len() as u64;
        let timeout = self
            .batch
            .export_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let task = export(self.exporters.clone(), batch, timeout, self.stats.clone());
        let handle = self.in_flight.spawn(task);
        self.in_flight_spans.push((handle.id(), count));
    }

    /// What every exporter gets: no empty keys, secrets redacted, values cut to the length limit.
    fn prepare(&mut self, batch: &mut [SpanData]) {
        batch.iter_mut().for_each(drop_empty_keys);
        if let Some(redactor) = &mut self.redactor {
            for span in batch.iter_mut() {
                redactor.redact(&mut span.attributes);
                for event in span.events.events.iter_mut() {
                    redactor.redact(&mut event.attributes);
                }
                for link in span.links.links.iter_mut() {
                    redactor.redact(&mut link.attributes);
                }
            }
        }
        if let Some(limit) = self.value_length_limit {
            batch
                .iter_mut()
                .for_each(|span| truncate_values(span, limit));
        }
    }

    /// Takes the outcome of a finished export task: logs its error, and counts its spans as failed if the task
    /// never got to count them (aborted at a deadline, or panicked).
    fn complete(&mut self, joined: Result<(task::Id, Outcome), task::JoinError>) -> Outcome {
        let outcome = match joined {
            Ok((id, outcome)) => {
                self.take_count(id);
                outcome
            }
            Err(e) => {
                let failure = Err(if e.is_panic() {
                    "an exporter panicked".to_owned()
                } else {
                    "the export was cut at the flush or shutdown deadline".to_owned()
                });
                let count = self.take_count(e.id());
                self.stats.record(count, &failure);
                failure
            }
        };
        if let Err(message) = &outcome {
            self.errors.report(message);
        }
        outcome
    }

    fn take_count(&mut self, id: task::Id) -> u64 {
        match self.in_flight_spans.iter().position(|(i, _)| *i == id) {
            Some(index) => self.in_flight_spans.swap_remove(index).1,
            None => 0,
        }
    }
}

/// One export task: the batch to every exporter concurrently, each bounded by `timeout`; counts the spans.
async fn export(
    exporters: Arc<Vec<Box<dyn DynExporter>>>,
    batch: Vec<SpanData>,
    timeout: Duration,
    stats: Arc<SharedStats>,
) -> Outcome {
    if exporters.is_empty() {
        return Ok(());
    }
    let count = batch.len() as u64;
    let last = exporters.len() - 1;
    let mut batch = Some(batch);
    // Fan out concurrently, so a slow exporter does not delay the others.
    let exports: Vec<_> = exporters
        .iter()
        .enumerate()
        .map(|(i, exporter)| {
            // Every exporter but the last gets a copy.
            let spans = if i == last {
                batch.take().unwrap_or_default()
            } else {
                batch.clone().unwrap_or_default()
            };
            let name = exporter.name();
            // The exporter's retries stop at the deadline; the timeout also bounds an attempt in flight.
            let export =
                tokio::time::timeout(timeout, exporter.export(spans, Instant::now() + timeout));
            Box::pin(async move {
                match export.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("{name} exporter: {e}")),
                    Err(_) => Err(format!(
                        "{name} exporter: no answer within the export timeout of {timeout:?}"
                    )),
                }
            })
        })
        .collect();
    let failures: Vec<String> = join_all(exports)
        .await
        .into_iter()
        .filter_map(|outcome| {
            outcome
                .unwrap_or_else(|| Err("an exporter panicked".to_owned()))
                .err()
        })
        .collect();
    // One message per batch, naming every exporter that failed; the worker logs it, rate-limited.
    let result = if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    };
    stats.record(count, &result);
    result
}

/// Polls every future until all are done; their outputs in order, `None` for one that panicked: a broken
/// exporter must not take the export thread, and with it every other exporter, down. (Small enough not to pull
/// in `futures`.)
async fn join_all<F: Future + Unpin>(futures: Vec<F>) -> Vec<Option<F::Output>> {
    let mut pending: Vec<Option<F>> = futures.into_iter().map(Some).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (slot, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot {
                let polled =
                    std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(future).poll(cx)));
                match polled {
                    Ok(Poll::Ready(value)) => {
                        *output = Some(value);
                        *slot = None;
                    }
                    Ok(Poll::Pending) => done = false,
                    Err(_) => *slot = None,
                }
            }
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs
}

/// Attributes with an empty key are invalid (OTel common spec) and some backends reject the whole batch for
/// one: they are dropped and counted in the dropped-attributes counts. (The SDK already enforces the count
/// limits; it checks no key.)
fn drop_empty_keys(span: &mut SpanData) {
    fn retain(attributes: &mut Vec<opentelemetry::KeyValue>) -> u32 {
        let before = attributes.len();
        attributes.retain(|kv| !kv.key.as_str().is_empty());
        (before - attributes.len()) as u32
    }
    span.dropped_attributes_count += retain(&mut span.attributes);
    for event in span.events.events.iter_mut() {
        event.dropped_attributes_count += retain(&mut event.attributes);
    }
    for link in span.links.links.iter_mut() {
        link.dropped_attributes_count += retain(&mut link.attributes);
    }
}

/// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, which the Rust SDK does not apply: strings (alone or in arrays) are cut
/// to `limit` characters.
fn truncate_values(span: &mut SpanData, limit: usize) {
    let cut = |value: &mut Value| match value {
        Value::String(s) => truncate_string(s, limit),
        Value::Array(Array::String(items)) => {
            items.iter_mut().for_each(|s| truncate_string(s, limit))
        }
        _ => {}
    };
    span.attributes.iter_mut().for_each(|kv| cut(&mut kv.value));
    for event in span.events.events.iter_mut() {
        event
            .attributes
            .iter_mut()
            .for_each(|kv| cut(&mut kv.value));
    }
}

fn truncate_string(s: &mut StringValue, limit: usize) {
    if let Some((index, _)) = s.as_str().char_indices().nth(limit) {
        *s = StringValue::from(s.as_str()[..index].to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_settings_are_normalized() {
        let batch = normalized(BatchConfig {
            schedule_delay: Duration::ZERO,
            export_timeout: Duration::from_secs(1),
            max_queue_size: 0,
            max_export_batch_size: 512,
        });
        assert_eq!((batch.max_queue_size, batch.max_export_batch_size), (1, 1));
        assert!(!batch.schedule_delay.is_zero());
    }

    #[test]
    fn strings_are_truncated_on_char_boundaries() {
        let mut s = StringValue::from("héllo wörld".to_owned());
        truncate_string(&mut s, 4);
        assert_eq!(s.as_str(), "héll");
        let mut short = StringValue::from("ab");
        truncate_string(&mut short, 4);
        assert_eq!(short.as_str(), "ab");
    }

    #[test]
    fn join_all_survives_a_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let futures: Vec<Pin<Box<dyn Future<Output = u8> + Send>>> = vec![
            Box::pin(async { 1 }),
            Box::pin(async { panic!("broken exporter") }),
            Box::pin(async {
                tokio::task::yield_now().await;
                3
            }),
        ];
        assert_eq!(
            runtime.block_on(join_all(futures)),
            vec![Some(1), None, Some(3)]
        );
    }

    /// A writer collecting what a thread-local fmt subscriber prints.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn error_log_is_rate_limited_and_reports_the_suppressed_count() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let mut log = ErrorLog {
                interval: Duration::from_millis(100),
                ..ErrorLog::default()
            };
            log.report("a");
            log.report("b");
            log.report("c");
            std::thread::sleep(Duration::from_millis(120));
            log.report("d");
            log.report("e");
            assert_eq!(log.suppressed, 1);
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let printed: Vec<&str> = text.lines().collect();
        assert_eq!(printed.len(), 2, "{text}");
        assert!(printed[0].contains("span export failed: a"), "{text}");
        assert!(
            printed[1].contains("span export failed: d (2 more failures since the last report)"),
            "{text}"
        );
    }
}
