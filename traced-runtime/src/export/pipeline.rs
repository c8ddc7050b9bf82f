//! One running pipeline of one signal as the application's threads see it: the sink the signal's producers feed
//! (the span layer, the SDK processor), the control channel to the worker on the export thread, and how a
//! pipeline starts again on the same sink.
//!
//! It starts again in two cases. After `fork()` the child has the parent's memory but not its export thread:
//! the queue would fill and shutdown would wait for a worker that does not exist. A pid that changed tells it
//! (checked a few times per batch, at flush and at shutdown), and the child starts a pipeline of its own from
//! the same configuration. And after the guard was dropped, a second `init` cannot install another global
//! subscriber: it starts a new pipeline on the sink of the installed one instead.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::Resource;
use tokio::sync::mpsc;

use super::batch::{normalized, Batches, Control, Worker};
use super::console::ConsoleExporter;
use super::lane::Lane;
use super::queue::Queue;
use super::thread::{in_export_thread, ExportThread, THREAD_NAME};
use super::DynExporter;
use crate::config::Config;
use crate::stats::SharedStats;
use crate::Error;

/// What a caller waits beyond a deadline for the export thread to answer.
const REPLY_GRACE: Duration = Duration::from_millis(200);

/// The sending end of a signal's export queue.
#[derive(Debug)]
pub(crate) struct Sink<B: Batches>(Arc<SinkState<B>>);

impl<B: Batches> Clone for Sink<B> {
    fn clone(&self) -> Self {
        Sink(self.0.clone())
    }
}

#[derive(Debug)]
struct SinkState<B: Batches> {
    queue: Arc<Queue<B::Queued>>,
    /// The pipeline draining the queue now.
    pipeline: Mutex<Weak<Pipeline<B>>>,
}

impl<B: Batches> Sink<B> {
    /// Queues an item. Never blocks the caller: a full queue (or one closed by shutdown) drops the item and
    /// counts it, so that every item is exported, dropped, failed or queued.
    // Inlined into the span layer's close, so the span state is pushed where it is, not copied to a call first.
    #[inline(always)]
    pub(crate) fn send(&self, item: B::Queued) {
        let pushed = self.0.queue.push(item);
        // Freed outside the queue's lock.
        drop(pushed.refused);
        if pushed
            .check_pid
            .is_some_and(|pid| pid != std::process::id())
        {
            if let Some(pipeline) = self.pipeline() {
                pipeline.forked(true);
            }
        }
    }

    fn pipeline(&self) -> Option<Arc<Pipeline<B>>> {
        lock(&self.0.pipeline).upgrade()
    }

    /// True when no pipeline drains this sink any more: it was shut down, and a new one may start on it.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.pipeline()
            .is_none_or(|pipeline| pipeline.is_shut_down())
    }
}

/// One pipeline; see the module documentation.
#[derive(Debug)]
pub(crate) struct Pipeline<B: Batches> {
    sink: Sink<B>,
    stats: Arc<SharedStats>,
    running: Mutex<Running>,
    /// What a forked child needs to start a pipeline of its own.
    config: Config,
    resource: Resource,
    /// How many exporters were given in code: a forked child cannot have them.
    given: usize,
    /// The console exporter shared with the other signals, which a forked child prints to as well.
    console: Option<ConsoleExporter>,
    /// Set when the worker answered a shutdown: it has finished, whether or not its task is gone yet.
    stopped: Arc<AtomicBool>,
}

#[derive(Debug)]
struct Running {
    /// `None` in a forked child that has no pipeline of its own.
    control: Option<mpsc::UnboundedSender<Control>>,
    /// The process the worker runs in.
    pid: u32,
}

impl<B: Batches> Pipeline<B> {
    /// Builds the exporters `config` names (and `given`, those given in code; `console` is the console
    /// exporter shared with the other signals) on a new export thread and starts the worker there, draining
    /// `sink` (whose previous pipeline is shut down) or a new queue.
    pub(crate) fn start(
        config: &Config,
        given: Vec<Box<dyn DynExporter<B::Item>>>,
        console: Option<ConsoleExporter>,
        resource: &Resource,
        stats: Arc<SharedStats>,
        sink: Option<&Sink<B>>,
    ) -> Result<Arc<Self>, Error> {
        let pid = std::process::id();
        let (sink, reopen) = match sink {
            Some(sink) => (sink.clone(), true),
            None => {
                let queue = Queue::new(
                    &normalized(B::settings(config)),
                    stats.of(B::SIGNAL).clone(),
                    pid,
                );
                let sink = Sink(Arc::new(SinkState {
                    queue: Arc::new(queue),
                    pipeline: Mutex::new(Weak::new()),
                }));
                (sink, false)
            }
        };
        let given_count = given.len();
        let (control, _) = launch::<B>(
            config,
            given,
            console.as_ref(),
            resource,
            &stats,
            &sink.0.queue,
            reopen,
        )?;
        let pipeline = Arc::new(Pipeline {
            sink: sink.clone(),
            stats,
            running: Mutex::new(Running {
                control: Some(control),
                pid,
            }),
            config: config.clone(),
            resource: resource.clone(),
            given: given_count,
            console,
            stopped: Arc::new(AtomicBool::new(false)),
        });
        *lock(&sink.0.pipeline) = Arc::downgrade(&pipeline);
        Ok(pipeline)
    }

    /// The sink for the signal's producers.
    pub(crate) fn sink(&self) -> &Sink<B> {
        &self.sink
    }

    /// Exports everything queued now, within `timeout`; an error when something could not be exported.
    pub(crate) fn flush(&self, timeout: Duration) -> OTelSdkResult {
        self.send_flush(timeout).wait()
    }

    /// Asks for a flush within `timeout`; the answer is read with [`Pending::wait`].
    pub(crate) fn send_flush(&self, timeout: Duration) -> Pending {
        self.request(timeout, false, |deadline, reply| Control::Flush {
            deadline,
            reply,
        })
    }

    /// Exports everything queued and shuts the exporters down, within `timeout`. Items lost on the way are
    /// counted, not an error.
    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.send_shutdown(timeout).wait()
    }

    /// Asks for a shutdown within `timeout`; the answer is read with [`Pending::wait`].
    pub(crate) fn send_shutdown(&self, timeout: Duration) -> Pending {
        self.request(timeout, true, |deadline, reply| Control::Shutdown {
            deadline,
            reply,
        })
    }

    /// Gives the exporters a new resource, once the exports under way are done.
    pub(crate) fn set_resource(&self, resource: &Resource) {
        if let Some(sender) = &lock(&self.running).control {
            let _ = sender.send(Control::SetResource(resource.clone()));
        }
    }

    /// Sends a request carrying a deadline; the caller waits for the answer at most until the deadline (plus a
    /// grace). `shutdown`: in a forked child, there is no need for a pipeline of its own just to shut it down.
    fn request(
        &self,
        timeout: Duration,
        shutdown: bool,
        make: impl FnOnce(Instant, std_mpsc::SyncSender<OTelSdkResult>) -> Control,
    ) -> Pending {
        let deadline = Instant::now() + timeout;
        let stopped = shutdown.then(|| self.stopped.clone());
        let pending = |reply| Pending {
            reply,
            deadline,
            timeout,
            stopped,
        };
        if in_export_thread() {
            // The thread would wait for itself.
            return pending(Answer::Now(Err(OTelSdkError::InternalFailure(format!(
                "flush or shutdown called from the {THREAD_NAME} thread"
            )))));
        }
        if lock(&self.running).pid != std::process::id() {
            self.forked(!shutdown);
        }
        let Some(control) = lock(&self.running).control.clone() else {
            // A forked child without a pipeline: its items were dropped and counted, nothing waits.
            return pending(Answer::Now(Ok(())));
        };
        let (reply_tx, reply_rx) = std_mpsc::sync_channel(1);
        pending(match control.send(make(deadline, reply_tx)) {
            Ok(()) => Answer::Later(reply_rx),
            Err(_) => Answer::Now(Err(OTelSdkError::AlreadyShutdown)),
        })
    }

    /// True once the worker has finished (shut down, or never there in a forked child).
    fn is_shut_down(&self) -> bool {
        if self.stopped.load(Ordering::Acquire) {
            return true;
        }
        let running = lock(&self.running);
        let finished = running
            .control
            .as_ref()
            .is_none_or(mpsc::UnboundedSender::is_closed);
        finished && self.sink.0.queue.is_closed()
    }

    /// In a forked child: starts a pipeline of the child's own on the same queue (`start`), or closes the queue.
    /// The child's counters start from zero; the items queued at the fork (the parent's, which the parent
    /// exports, and the child's first ones, made before the fork was noticed) are counted as dropped.
    fn forked(&self, start: bool) {
        let mut running = lock(&self.running);
        let pid = std::process::id();
        if running.pid == pid {
            // Another thread of the child got here first.
            return;
        }
        let parent = std::mem::replace(&mut running.pid, pid);
        self.stats.reset(B::SIGNAL);
        let queue = &self.sink.0.queue;
        if !start {
            running.control = None;
            queue.close_orphaned(pid);
            return;
        }
        // The exporters given in code stayed with the parent's export thread; the configured ones are rebuilt.
        match launch::<B>(
            &self.config,
            Vec::new(),
            self.console.as_ref(),
            &self.resource,
            &self.stats,
            queue,
            true,
        ) {
            Ok((control, discarded)) => {
                running.control = Some(control);
                let given = if self.given == 0 {
                    ""
                } else {
                    "; the exporters given in code stay with the parent"
                };
                eprintln!(
                    "traced: process {pid} is a fork of {parent}: it exports its {what}s through a pipeline of \
                     its own ({discarded} {what}s queued at the fork were dropped){given}",
                    what = B::WHAT
                );
            }
            Err(e) => {
                running.control = None;
                queue.close_orphaned(pid);
                eprintln!(
                    "traced: process {pid} is a fork of {parent} and cannot start a pipeline of its own ({e}): \
                     its {what}s are dropped and counted in stats()",
                    what = B::WHAT
                );
            }
        }
    }
}

/// Starts an export thread with the exporters of `config` (and `given`), opens `queue` for them if `reopen`
/// (returning how many items it discarded), and starts the worker draining it.
fn launch<B: Batches>(
    config: &Config,
    given: Vec<Box<dyn DynExporter<B::Item>>>,
    console: Option<&ConsoleExporter>,
    resource: &Resource,
    stats: &Arc<SharedStats>,
    queue: &Arc<Queue<B::Queued>>,
    reopen: bool,
) -> Result<(mpsc::UnboundedSender<Control>, usize), Error> {
    let batch = normalized(B::settings(config));
    let thread = ExportThread::start()?;
    let mut exporters = thread.run({
        let config = config.clone();
        let console = console.cloned();
        async move { B::exporters(&config, console.as_ref()) }
    })?;
    exporters.extend(given);
    let signal = stats.of(B::SIGNAL);
    let lanes = exporters
        .into_iter()
        .map(|mut exporter| {
            exporter.set_resource(resource);
            let counters = signal.add_exporter(exporter.name());
            Lane::new(exporter, counters, B::WHAT)
        })
        .collect();
    let discarded = if reopen {
        queue.reopen(&batch, signal.clone(), std::process::id())
    } else {
        0
    };
    let (control, requests) = mpsc::unbounded_channel();
    let worker = Worker::new(
        lanes,
        batch,
        B::new(config, stats),
        stats.clone(),
        queue.clone(),
    );
    thread.spawn(worker.run(requests));
    Ok((control, discarded))
}

/// A request sent to the worker, whose answer is still to be read: several signals' shutdowns can be sent at
/// once and waited for together.
pub(crate) struct Pending {
    reply: Answer,
    deadline: Instant,
    timeout: Duration,
    /// For a shutdown: the pipeline's flag, raised once the worker answered.
    stopped: Option<Arc<AtomicBool>>,
}

enum Answer {
    /// Known without asking the worker.
    Now(OTelSdkResult),
    Later(std_mpsc::Receiver<OTelSdkResult>),
}

impl Pending {
    /// The worker's answer, waited for at most until the deadline (plus a grace).
    pub(crate) fn wait(self) -> OTelSdkResult {
        let reply = match self.reply {
            Answer::Now(result) => return result,
            Answer::Later(reply) => reply,
        };
        let left = self.deadline.saturating_duration_since(Instant::now());
        match reply.recv_timeout(left + REPLY_GRACE) {
            Ok(result) => {
                // The worker answers a shutdown once it has finished: a new pipeline may start on the sink now,
                // even though the worker's task may not have dropped its channel yet.
                if let Some(stopped) = &self.stopped {
                    stopped.store(true, Ordering::Release);
                }
                result
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(self.timeout)),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(OTelSdkError::AlreadyShutdown),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain values behind the locks: a panic while holding one cannot leave them inconsistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
