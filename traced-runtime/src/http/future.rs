//! The response future both layers return: polls the inner future inside the request's span and closes the span
//! with the outcome.

use std::fmt::Display;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use http::Response;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use tracing::Span;

use super::{record_error, record_status, short_type_name};
use crate::propagation::HeaderInjector;

/// Which end of the request the span stands for.
#[derive(Clone, Copy, Debug)]
pub(super) enum Side {
    Server,
    Client,
}

pin_project_lite::pin_project! {
    /// The response future of [`TraceService`](super::TraceService) and
    /// [`ClientTraceService`](super::ClientTraceService): the inner future, polled inside the request's span.
    ///
    /// When it completes, the span gets the status code (or the error, or the panic) and its duration; dropped
    /// before, it is marked `cancelled = true` (the client went away, or a timeout fired).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Option<Span>,
        // The caller's context when the span itself is disabled (filtered out), made current on every poll so
        // the spans of the handler still continue the caller's trace.
        parent: Option<Context>,
        start: Option<Instant>,
        side: Side,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.take() {
                span.record("cancelled", true);
                record_duration(&span, *this.start);
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, span: Span, parent: Option<Context>, side: Side) -> Self {
        // A disabled span records nothing: no clock to read.
        let start = (!span.is_disabled()).then(Instant::now);
        ResponseFuture {
            inner,
            span: Some(span),
            parent,
            start,
            side,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(span) = this.span.as_ref() else {
            // Polled after completion: the inner future decides what that means.
            return this.inner.poll(cx);
        };
        let polled = {
            let _entered = span.enter();
            let _attached = this.parent.as_ref().map(|parent| parent.clone().attach());
            let inner = this.inner;
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        };
        let mut output = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => output,
            Err(panic) => {
                // A panicking handler is a failed request, not a cancelled one.
                let span = this.span.take().unwrap_or_else(Span::none);
                record_panic(&span, &*panic);
                record_duration(&span, *this.start);
                resume_unwind(panic)
            }
        };
        let span = this.span.take().unwrap_or_else(Span::none);
        if !span.is_disabled() {
            match (&mut output, *this.side) {
                (Ok(response), Side::Server) => {
                    record_status(&span, response.status().as_u16(), 500);
                    inject_response(&span, response);
                }
                (Ok(response), Side::Client) => {
                    record_status(&span, response.status().as_u16(), 400);
                }
                (Err(error), _) => record_error(&span, error, short_type_name::<E>()),
            }
            record_duration(&span, *this.start);
        }
        Poll::Ready(output)
    }
}

/// Writes the server span's trace context into the response, so a caller without a trace of its own (a browser,
/// `curl -v`) learns which trace to look up. Only the span context: the caller's baggage is not echoed back.
fn inject_response<B>(span: &Span, response: &mut Response<B>) {
    let span_context = crate::SpanExt::context(span).span().span_context().clone();
    if span_context.is_valid() {
        let cx = Context::new().with_remote_span_context(span_context);
        crate::propagation::inject(&cx, &mut HeaderInjector(response.headers_mut()));
    }
}

fn record_panic(span: &Span, panic: &(dyn std::any::Any + Send)) {
    let message = if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.as_str()
    } else {
        "Box<dyn Any>"
    };
    record_error(span, &message, "panic");
}

fn record_duration(span: &Span, start: Option<Instant>) {
    if let Some(start) = start {
        span.record("duration_ms", start.elapsed().as_secs_f64() * 1e3);
    }
}
