//! The `traced-export` thread: a tokio current-thread runtime of its own, on which every signal's export work
//! runs and every exporter is built.
//!
//! The SDK's batch processor exports with `futures_executor::block_on` on a thread without a tokio reactor, which
//! hangs tonic on a current-thread runtime. Exporting on a runtime of our own means gRPC behaves the same whatever
//! runtime (if any) the application uses, and the application's threads only ever wait on std channels with a
//! timeout, never on a runtime.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::Error;

/// The name of the export thread.
pub(crate) const THREAD_NAME: &str = "traced-export";
/// The `tracing` target of the pipeline's own log lines; never exported.
pub(crate) const LOG_TARGET: &str = "traced_export";

thread_local! {
    static IN_EXPORT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// True on the `traced-export` thread: whatever the transports log or trace there must not become telemetry.
pub(crate) fn in_export_thread() -> bool {
    IN_EXPORT_THREAD.with(Cell::get)
}

/// Targets whose spans and events are the pipeline's own: exporting them would feed the export back into itself.
/// Each entry matches the crate itself and its modules.
const INTERNAL_TARGETS: &[&str] = &[
    "tonic",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "tower",
    "rustls",
    "tokio_rustls",
    LOG_TARGET,
];

/// True for the targets of the OpenTelemetry crates, the transports and our export thread.
pub(crate) fn is_internal(target: &str) -> bool {
    // `opentelemetry`, `opentelemetry_sdk`, `opentelemetry-otlp`, ...
    target.starts_with("opentelemetry")
        || INTERNAL_TARGETS.iter().any(|crate_name| {
            target
                .strip_prefix(crate_name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A handle to the export thread. The thread runs the tasks given to it and ends once every handle is dropped
/// and every task has finished (a signal's worker finishes when its processor shuts down or is dropped).
#[derive(Clone, Debug)]
pub(crate) struct ExportThread {
    tasks: mpsc::UnboundedSender<Task>,
}

impl ExportThread {
    /// Starts the thread and its runtime.
    pub(crate) fn start() -> Result<ExportThread, Error> {
        let (tasks, mut incoming) = mpsc::unbounded_channel::<Task>();
        let (ready_tx, ready_rx) = std_mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                IN_EXPORT_THREAD.with(|f| f.set(true));
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                runtime.block_on(async move {
                    let mut running = JoinSet::new();
                    loop {
                        tokio::select! {
                            task = incoming.recv() => match task {
                                Some(task) => {
                                    running.spawn(task);
                                }
                                None => break,
                            },
                            Some(_) = running.join_next(), if !running.is_empty() => {}
                        }
                    }
                    while running.join_next().await.is_some() {}
                });
                // Blocking tasks of the transports (DNS lookups) must not hold the thread forever.
                runtime.shutdown_timeout(Duration::from_millis(100));
            })
            .map_err(|e| thread_error(format!("cannot spawn the {THREAD_NAME} thread: {e}")))?;
        ready_rx
            .recv()
            .unwrap_or_else(|_| Err(format!("the {THREAD_NAME} thread stopped at start")))
            .map_err(|e| thread_error(format!("cannot start the export runtime: {e}")))?;
        Ok(ExportThread { tasks })
    }

    /// Runs `task` on the export thread.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        // The thread only stops once every handle is gone: with `self` alive the send cannot fail.
        let _ = self.tasks.send(Box::pin(task));
    }

    /// Runs `work` on the export thread (inside its runtime, as tonic needs to build a channel) and waits for
    /// its result.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        let (reply_tx, reply_rx) = std_mpsc::sync_channel(1);
        self.spawn(async move {
            let _ = reply_tx.send(work.await);
        });
        reply_rx.recv().unwrap_or_else(|_| {
            Err(thread_error(format!(
                "the {THREAD_NAME} thread stopped while building the exporters"
            )))
        })
    }
}

fn thread_error(reason: String) -> Error {
    Error::Exporter {
        exporter: "runtime",
        reason,
    }
}
