//! [`spawn`] and [`spawn_blocking`]: tokio tasks that continue the trace they were spawned from.
//!
//! `tokio::spawn(future)` runs `future` outside the span that spawned it: its spans become the roots of traces of
//! their own, without the baggage of the request. The task carries over three things from where it was spawned:
//!
//! - the current `tracing` span, so the task's spans and log lines sit under it;
//! - the current OpenTelemetry [`Context`], so the task's spans have the right OpenTelemetry parent and baggage,
//!   also when the context was attached without a span (a context extracted from a message, with baggage added);
//! - inside a trace the sampler dropped (where `#[traced]` built no span and only marked its thread), that mark,
//!   so the task's spans are dropped too and what it calls learns that the trace is not sampled.
//!
//! `tracing::Instrument` (re-exported as `traced::Instrument`) does the first only: `.in_current_span()` is enough
//! under a sampled `#[traced]` span, not for an attached context or a dropped trace.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use tokio::task::JoinHandle;
use tracing::Span;

use crate::traces::sampling::{self, Mark, Unsampled};

/// Spawns `future` on the current tokio runtime, continuing the current span, OpenTelemetry context (with its
/// baggage) and sampling decision: the task's spans are children of the span that spawned it, in the same
/// trace, even when the task runs on another worker thread.
///
/// Like `tokio::spawn`, it panics outside a tokio runtime.
///
/// ```
/// use traced::propagation::baggage;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let _tenant = baggage::with("tenant.id", "acme").attach();
/// let seen = traced::spawn(async { baggage::get("tenant.id") }).await.unwrap();
/// assert_eq!(seen.as_deref(), Some("acme"));
/// # }
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(Origin::here().continue_future(future))
}

/// Runs `f` on tokio's blocking thread pool, continuing the current span, OpenTelemetry context (with its
/// baggage) and sampling decision, as [`spawn`] does for a future.
///
/// Like `tokio::task::spawn_blocking`, it panics outside a tokio runtime.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sum = traced::spawn_blocking(|| (1..=10).sum::<u32>()).await.unwrap();
/// assert_eq!(sum, 55);
/// # }
/// ```
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let origin = Origin::here();
    tokio::task::spawn_blocking(move || origin.run(f))
}

/// Where a task was spawned: what it runs inside on every poll.
struct Origin {
    span: Span,
    cx: Context,
    unsampled: Option<Unsampled>,
}

impl Origin {
    fn here() -> Self {
        Origin {
            span: Span::current(),
            cx: Context::current(),
            unsampled: sampling::mark(),
        }
    }

    /// Runs `f` inside the origin: the span entered, then the context attached over the span's own (it may hold
    /// more, such as baggage attached after the span was entered), then the thread marked. Each is undone in
    /// reverse order when `f` returns or unwinds.
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.span.enter();
        let _attached = self.cx.clone().attach();
        let _mark = Mark::set(self.unsampled);
        f()
    }

    fn continue_future<F: Future>(self, inner: F) -> Continued<F> {
        Continued {
            inner,
            origin: self,
        }
    }
}

pin_project_lite::pin_project! {
    /// A future polled inside its [`Origin`].
    struct Continued<F> {
        #[pin]
        inner: F,
        origin: Origin,
    }
}

impl<F: Future> Future for Continued<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        this.origin.run(|| inner.poll(cx))
    }
}
