//! The export thread's side of a signal's queue, shared by every signal: items taken from the queue, admitted
//! (all of them, or what tail sampling lets through) and prepared once by the signal ([`Batches`]), shared out to one lane per exporter ([`fanout`](super::fanout),
//! [`lane`](super::lane)), exported with a few exports in flight per lane, flushed on demand and at shutdown
//! within a deadline.

use std::fmt::Debug;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::Resource;
use tokio::sync::mpsc;
use tokio::task::{self, JoinSet};

use super::budget::{Budget, Closing};
use super::console::ConsoleExporter;
use super::fanout::{claimed, Claim, Cohort};
use super::lane::{Lane, MAX_CONCURRENT_EXPORTS};
use super::queue::Queue;
use super::thread::LOG_TARGET;
use super::{Delivery, DynExporter};
use crate::config::{BatchConfig, Config};
use crate::stats::{Outcome, SharedStats, Signal, Tally};
use crate::Error;

/// What a signal gives the pipeline: its items, where its settings are, how its exporters are built, which of
/// the items taken from the queue go on, and what is done to every batch.
pub(crate) trait Batches: Debug + Send + Sized + 'static {
    /// What the application's threads queue: an item, with what the signal needs to decide on it.
    type Queued: Debug + Send + Into<Self::Item> + 'static;
    /// A span, a log record, as the exporters get it.
    type Item: Clone + Debug + Send + 'static;
    /// What one item is called in messages: `span`, `log record`.
    const WHAT: &'static str;
    /// Whose counters the items are counted in.
    const SIGNAL: Signal;
    /// The signal's batch settings.
    fn settings(config: &Config) -> BatchConfig;
    /// What is done to every batch, for `config`; what the signal decides on its own is counted in `stats`.
    fn new(config: &Config, stats: &Arc<SharedStats>) -> Self;
    /// The exporters `config` names; runs on the export thread, inside its runtime. `console` is the console
    /// exporter every signal of one `init` prints to (so log records print under their spans).
    fn exporters(
        config: &Config,
        console: Option<&ConsoleExporter>,
    ) -> Result<Vec<Box<dyn DynExporter<Self::Item>>>, Error>;
    /// Moves the items just taken from the queue (draining `taken`) to `admitted` (empty), those to prepare and
    /// share out; `taken` goes back to the queue, and should keep its capacity. A signal may hold some back, to
    /// give them at a later take, or discard them and count them (tail sampling). Called at every take (a lane
    /// runs low, the schedule delay passed, a flush, the shutdown), so a signal's time bounds are checked there;
    /// `close`: the last take, nothing may stay held.
    fn admit(
        &mut self,
        taken: &mut Vec<Self::Queued>,
        admitted: &mut Vec<Self::Item>,
        close: bool,
    ) {
        let _ = close;
        admitted.extend(taken.drain(..).map(Into::into));
    }
    /// Prepares items once, before they are shared out to the exporters.
    fn prepare(&mut self, items: &mut [Self::Item]);
}

/// What the application asks of the worker, through its [`Pipeline`](super::pipeline::Pipeline).
pub(super) enum Control {
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

/// How long past a flush or shutdown deadline the exports under way may still report their own outcome (their
/// timeouts end at the deadline, the timer a little after) before they are cut; well within the processor's reply
/// grace.
const CUT_GRACE: Duration = Duration::from_millis(50);

/// One export under way: its lane and the claims on its items, to count them when it answers (or never does).
struct Export {
    id: task::Id,
    lane: usize,
    claims: Vec<Claim>,
}

/// The export thread's task for one pipeline's items of one signal.
pub(super) struct Worker<B: Batches> {
    lanes: Vec<Lane<B::Item>>,
    batch: BatchConfig,
    batches: B,
    stats: Arc<SharedStats>,
    /// Exports under way, on this thread's runtime.
    in_flight: JoinSet<Delivery>,
    exports: Vec<Export>,
    /// Raised at shutdown, for the exports under way too.
    closing: Closing,
    queue: Arc<Queue<B::Queued>>,
    /// The vector handed to the queue at the next take.
    spare: Vec<B::Queued>,
    /// The items of a take the signal admitted, kept for the next take once they are shared out.
    admitted: Vec<B::Item>,
}

impl<B: Batches> Worker<B> {
    pub(super) fn new(
        lanes: Vec<Lane<B::Item>>,
        batch: BatchConfig,
        batches: B,
        stats: Arc<SharedStats>,
        queue: Arc<Queue<B::Queued>>,
    ) -> Self {
        Worker {
            exports: Vec::with_capacity(lanes.len() * MAX_CONCURRENT_EXPORTS),
            lanes,
            batch,
            batches,
            stats,
            in_flight: JoinSet::new(),
            closing: Closing::new(),
            spare: Vec::with_capacity(batch.max_queue_size),
            admitted: Vec::with_capacity(batch.max_queue_size),
            queue,
        }
    }

    pub(super) async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) {
        let mut next_flush = tokio::time::Instant::now() + self.batch.schedule_delay;
        // The schedule delay passed while a lane could not send all it held: send its partial batch as soon as
        // a slot is free.
        let mut flush_due = false;
        loop {
            let queue = self.queue.clone();
            tokio::select! {
                // Control first: a flush must not wait behind an endless stream of items.
                biased;
                request = control.recv() => match request {
                    Some(Control::Flush { deadline, reply }) => {
                        self.take(false, None);
                        let result = self.export_all(deadline).await;
                        let _ = reply.send(result);
                    }
                    Some(Control::Shutdown { deadline, reply }) => {
                        self.finish(deadline).await;
                        // Items lost at shutdown are counted, not an error: the program exits either way.
                        let _ = reply.send(Ok(()));
                        return;
                    }
                    Some(Control::SetResource(resource)) => self.set_resource(&resource).await,
                    None => {
                        // The processor was dropped without a shutdown: still deliver what is queued.
                        let deadline = Instant::now() + self.batch.export_timeout;
                        self.finish(deadline).await;
                        return;
                    }
                },
                Some(joined) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    self.complete(joined);
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

    /// Takes the queued items (closing the queue for good if `close`), lets the signal admit them
    /// ([`Batches::admit`]: tail sampling holds spans and releases decided traces here, before anything is
    /// prepared), prepares those once, and shares them out to the lanes: each lane takes what fits in its share
    /// of the queue and drops the rest. `first`: take that many items if the queue holds them, else none.
    fn take(&mut self, close: bool, first: Option<usize>) -> bool {
        match first {
            Some(count) => {
                if !self.queue.take_first(&mut self.spare, count) {
                    return false;
                }
            }
            None => self.queue.take(&mut self.spare, close),
        }
        // The last lane keeps the vector it is given: the signal's admit allocates the next one.
        let mut items = std::mem::take(&mut self.admitted);
        self.batches.admit(&mut self.spare, &mut items, close);
        if !items.is_empty() && !self.lanes.is_empty() {
            self.batches.prepare(&mut items);
            self.share_out(&mut items);
        }
        items.clear();
        self.admitted = items;
        self.update_buffered();
        true
    }

    fn share_out(&mut self, items: &mut Vec<B::Item>) {
        let count = items.len();
        let cohort = Cohort::new(count, self.lanes.len());
        let capacity = self.batch.max_queue_size;
        let last = self.lanes.len() - 1;
        let mut overall = Tally::default();
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            let room = capacity.saturating_sub(lane.len()).min(count);
            let mut own = Tally::default();
            for index in room..count {
                own.add(Outcome::Dropped);
                if let Some(outcome) = cohort.resolve(index, Outcome::Dropped) {
                    overall.add(outcome);
                }
            }
            // Every lane but the last gets copies; the last takes the items themselves, in their vector.
            if i == last {
                items.truncate(room);
                lane.push(std::mem::take(items), &cohort);
            } else {
                lane.push(items[..room].to_vec(), &cohort);
            }
            lane.counters.resolve(own);
        }
        self.stats.of(B::SIGNAL).resolve(overall);
    }

    /// The queue takes items while the emptiest lane has room for them.
    fn update_buffered(&self) {
        let emptiest = self.lanes.iter().map(Lane::len).min().unwrap_or(0);
        self.queue.set_buffered(emptiest);
    }

    /// Refills the lanes when one holds less than a batch, and starts exporting whole batches (and the partial
    /// rest if `partial`) in each lane with a free slot. Returns whether a partial rest still waits for a slot.
    ///
    /// Unless `partial`, a take is what fills the emptiest lane to a batch, or nothing: items taken early, a
    /// few at each completed export, made every later batch join two takes, moving each span once more. A take
    /// that leaves the emptiest lane short (tail sampling admits few of a take's spans) comes back through the
    /// run loop for the next: the queue signals a batch only when it reaches one, so a queue left holding more
    /// would otherwise wait for the schedule delay, filling up meanwhile.
    fn send(&mut self, partial: bool) -> bool {
        let batch_size = self.batch.max_export_batch_size;
        let emptiest = |lanes: &[Lane<B::Item>]| lanes.iter().map(Lane::len).min();
        if let Some(short) = emptiest(&self.lanes).filter(|&len| len < batch_size) {
            let took = self.take(false, (!partial).then_some(batch_size - short));
            if took && !partial && emptiest(&self.lanes).is_some_and(|len| len < batch_size) {
                self.queue.ready.notify_one();
            }
        }
        let deadline = Instant::now() + self.batch.export_timeout;
        for lane in 0..self.lanes.len() {
            while self.lanes[lane].has_slot()
                && (self.lanes[lane].len() >= batch_size
                    || (partial && !self.lanes[lane].is_empty()))
            {
                self.launch(lane, deadline);
            }
        }
        self.update_buffered();
        partial && self.lanes.iter().any(|lane| !lane.is_empty())
    }

    /// Gives the exporters the resource, once no export borrows them.
    async fn set_resource(&mut self, resource: &Resource) {
        while let Some(joined) = self.in_flight.join_next_with_id().await {
            self.complete(joined);
        }
        for lane in &mut self.lanes {
            match Arc::get_mut(&mut lane.exporter) {
                Some(exporter) => exporter.set_resource(resource),
                None => tracing::warn!(
                    target: LOG_TARGET,
                    "the resource of the {} exporter could not be updated: exporter busy",
                    lane.name()
                ),
            }
        }
    }

    /// Exports everything queued, then shuts the exporters down with what is left of the deadline. From here on
    /// an unreachable endpoint is not retried, by the exports under way too.
    async fn finish(&mut self, deadline: Instant) {
        self.closing.close();
        self.take(true, None);
        let _ = self.export_all(deadline).await;
        let remaining = deadline.saturating_duration_since(Instant::now());
        for lane in &self.lanes {
            let _ = lane.exporter.shutdown_with_timeout(remaining);
        }
    }

    /// Exports every lane and waits for every export under way, all within `deadline`; the result is an error
    /// if any of them failed.
    async fn export_all(&mut self, deadline: Instant) -> OTelSdkResult {
        let mut result = Ok(());
        loop {
            let waiting = self.lanes.iter().any(|lane| !lane.is_empty());
            if !waiting && self.in_flight.is_empty() {
                return result;
            }
            let now = Instant::now();
            if now < deadline {
                for lane in 0..self.lanes.len() {
                    while self.lanes[lane].has_slot() && !self.lanes[lane].is_empty() {
                        self.launch(lane, deadline);
                    }
                }
                self.update_buffered();
            } else if waiting {
                // Past the deadline every attempt would time out at once: count the rest as failed in one go,
                // so a shutdown answers (with exact counts) instead of grinding through doomed batches.
                for lane in 0..self.lanes.len() {
                    let claims = self.lanes[lane].drain();
                    if !claims.is_empty() {
                        let message = format!(
                            "{} {}s not sent: the flush or shutdown deadline passed",
                            claimed(&claims),
                            B::WHAT
                        );
                        self.resolve(lane, claims, &Delivery::none(usize::MAX, message));
                    }
                }
                self.update_buffered();
                result = Err(OTelSdkError::InternalFailure(format!(
                    "{}s not sent: the flush or shutdown deadline passed",
                    B::WHAT
                )));
            } else if now >= deadline + CUT_GRACE {
                // Exports started before this flush may have a later deadline of their own: cut them.
                self.in_flight.abort_all();
                while let Some(joined) = self.in_flight.join_next_with_id().await {
                    self.complete(joined);
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
                if let Some(message) = self.complete(joined) {
                    result = Err(OTelSdkError::InternalFailure(message));
                }
            }
        }
    }

    /// Starts exporting the next batch of `lane`, bounded by the export timeout and by `deadline`.
    fn launch(&mut self, lane: usize, deadline: Instant) {
        let (batch, claims) = self.lanes[lane].next_batch(self.batch.max_export_batch_size);
        let timeout = self
            .batch
            .export_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let exporter = self.lanes[lane].exporter.clone();
        let budget = Budget {
            deadline: Instant::now() + timeout,
            closing: self.closing.listen(),
            counters: self.lanes[lane].counters.clone(),
        };
        let handle = self.in_flight.spawn(async move {
            let len = batch.len();
            // The exporter's retries stop at the deadline; the timeout also bounds an attempt in flight, and an
            // exporter that ignores its budget.
            match tokio::time::timeout(timeout, exporter.export(batch, budget)).await {
                Ok(delivery) => delivery,
                Err(_) => Delivery::none(
                    len,
                    format!("no answer within the export timeout of {timeout:?}"),
                ),
            }
        });
        self.lanes[lane].in_flight += 1;
        self.exports.push(Export {
            id: handle.id(),
            lane,
            claims,
        });
    }

    /// Takes the outcome of a finished export task and counts its items (all as failed if the task never
    /// answered: aborted at a deadline, or panicked). Returns the error, if any.
    fn complete(
        &mut self,
        joined: Result<(task::Id, Delivery), task::JoinError>,
    ) -> Option<String> {
        let (id, delivery) = match joined {
            Ok((id, delivery)) => (id, delivery),
            Err(e) => {
                let why = if e.is_panic() {
                    "the exporter panicked"
                } else {
                    "the export was cut at the flush or shutdown deadline"
                };
                (e.id(), Delivery::none(usize::MAX, why.to_owned()))
            }
        };
        let at = self.exports.iter().position(|export| export.id == id)?;
        let Export { lane, claims, .. } = self.exports.swap_remove(at);
        self.lanes[lane].in_flight -= 1;
        self.resolve(lane, claims, &delivery)
    }

    /// Counts the items of one export of `lane` by `delivery`; logs and returns its error.
    fn resolve(&mut self, lane: usize, claims: Vec<Claim>, delivery: &Delivery) -> Option<String> {
        let mut own = Tally::default();
        let mut overall = Tally::default();
        let mut failed = delivery.failed.iter().peekable();
        // The batch's items are the claims' items in order.
        let mut index = 0;
        for claim in claims {
            for item in claim.items {
                while failed.next_if(|range| range.end <= index).is_some() {}
                let outcome = match failed.peek() {
                    Some(range) if range.contains(&index) => Outcome::Failed,
                    _ => Outcome::Exported,
                };
                own.add(outcome);
                if let Some(outcome) = claim.cohort.resolve(item, outcome) {
                    overall.add(outcome);
                }
                index += 1;
            }
        }
        let lane = &mut self.lanes[lane];
        let message = delivery
            .error
            .as_ref()
            .map(|error| format!("{} exporter: {error}", lane.name()));
        // The error before the counts: whoever reads a failure counted reads its error too (the error line's
        // write to stderr, after, had left `Stats::last_error` empty for a while after `failed` rose).
        if let Some(message) = &message {
            self.stats.error(message);
        }
        lane.counters.resolve(own);
        self.stats.of(B::SIGNAL).resolve(overall);
        if let Some(message) = &message {
            lane.errors.report(message);
        }
        message
    }
}

/// The spec's constraints: a queue of at least one, a batch no larger than the queue.
pub(crate) fn normalized(mut batch: BatchConfig) -> BatchConfig {
    batch.max_queue_size = batch.max_queue_size.max(1);
    batch.max_export_batch_size = batch.max_export_batch_size.clamp(1, batch.max_queue_size);
    if batch.schedule_delay.is_zero() {
        batch.schedule_delay = Duration::from_millis(1);
    }
    batch
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
            max_export_bytes: 1 << 22,
        });
        assert_eq!((batch.max_queue_size, batch.max_export_batch_size), (1, 1));
        assert!(!batch.schedule_delay.is_zero());
    }
}
