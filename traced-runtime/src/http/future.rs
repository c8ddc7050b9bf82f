//! The response futures of both layers: each polls the inner future inside the request's span. The client's
//! closes the span with the response head; the server's hands it to the response body
//! ([`ResponseBody`](super::body::ResponseBody)), which closes it once the body is sent.

use std::borrow::Cow;
use std::fmt::Display;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use http::Response;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use traced_conventions::value::error_type;
use tracing::Span;

use super::body::ResponseBody;
use super::{cancelled, record_duration, record_error, record_status};
use crate::metrics::http::Request;
use crate::propagation::HeaderInjector;
use traced_conventions::metrics::PANIC;

pin_project_lite::pin_project! {
    /// The response future of [`ClientTraceService`](super::ClientTraceService): the inner future, polled inside
    /// the request's span.
    ///
    /// When it completes, the span gets the status code (or the error, or the panic) and its duration, and
    /// ends; dropped before, it is marked `cancelled = true` (the caller went away, or a timeout fired).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Option<Span>,
        start: Option<Instant>,
        // The request's duration metric, when a metrics pipeline runs.
        metric: Option<Request>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.take() {
                record_client_end(&span, End::Cancelled, *this.start);
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, span: Span, metric: Option<Request>) -> Self {
        ResponseFuture {
            inner,
            start: start(&span),
            span: Some(span),
            metric,
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
        let Some(span) = this.span.take() else {
            // Polled after completion: the inner future decides what that means.
            return this.inner.poll(cx);
        };
        let output = match poll_inside(this.inner, &span, None, *this.start, this.metric, cx) {
            Poll::Ready(output) => output,
            Poll::Pending => {
                *this.span = Some(span);
                return Poll::Pending;
            }
        };
        if let Some(metric) = this.metric.take() {
            let (status, error) = metric_outcome(&output, 400);
            metric.finish(status, error.as_deref(), &span);
        }
        let end = match &output {
            Ok(response) => End::Status(response.status().as_u16()),
            Err(error) => End::Error(error, error_type(std::any::type_name::<E>())),
        };
        record_client_end(&span, end, *this.start);
        Poll::Ready(output)
    }
}

/// How a client request ended.
pub(super) enum End<'a> {
    /// With a response of this status code.
    Status(u16),
    /// With an error (of the inner service or of the client) and its low-cardinality type.
    Error(&'a dyn Display, &'a str),
    /// Not at all: the future was dropped first (the caller went away, a timeout fired). Not an error.
    Cancelled,
}

/// Closes a client span with how its request ended, then its duration: the one place a client request ends,
/// for [`ClientTraceService`](super::ClientTraceService) and the reqwest middleware alike. A 4xx fails a client
/// span (the HTTP semantic conventions).
pub(super) fn record_client_end(span: &Span, end: End<'_>, start: Option<Instant>) {
    if span.is_disabled() {
        return;
    }
    match end {
        End::Status(status) => {
            record_status(span, status, 400);
            record_duration(span, start);
        }
        End::Error(error, error_type) => {
            record_error(span, error, error_type);
            record_duration(span, start);
        }
        End::Cancelled => cancelled(span, start),
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`TraceService`](super::TraceService): the inner future, polled inside the
    /// request's span.
    ///
    /// When it completes, the span gets the status code (or the error, or the panic); a response goes on with
    /// its body wrapped in a [`ResponseBody`], which ends the span (with its duration) when the body is sent or
    /// dropped, so a streamed body is part of the request's span. Dropped before completing, the span is marked
    /// `cancelled = true` (the client went away, or a timeout fired).
    pub struct ServerResponseFuture<F> {
        #[pin]
        inner: F,
        span: Option<Span>,
        // The caller's context when the span itself is disabled (filtered out), made current on every poll so
        // the spans of the handler still continue the caller's trace.
        parent: Option<Context>,
        // `None` when the span records nothing, or when this crate's layer times it.
        start: Option<Instant>,
        // The request's duration metric, when a metrics pipeline runs.
        metric: Option<Request>,
    }

    impl<F> PinnedDrop for ServerResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.take() {
                cancelled(&span, *this.start);
            }
        }
    }
}

impl<F> ServerResponseFuture<F> {
    pub(super) fn new(
        inner: F,
        span: Span,
        parent: Option<Context>,
        metric: Option<Request>,
        timed_by_layer: bool,
    ) -> Self {
        ServerResponseFuture {
            inner,
            start: if timed_by_layer { None } else { start(&span) },
            span: Some(span),
            parent,
            metric,
        }
    }
}

impl<F, B, E> Future for ServerResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    B::Error: Display,
    E: Display,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let span = this.span.take().unwrap_or_else(Span::none);
        let polled = poll_inside(
            this.inner,
            &span,
            this.parent.as_ref(),
            *this.start,
            this.metric,
            cx,
        );
        let output = match polled {
            Poll::Ready(output) => output,
            Poll::Pending => {
                *this.span = Some(span);
                return Poll::Pending;
            }
        };
        // The metric, as the span, ends with the response body (or now, without a response).
        let mut metric = this.metric.take();
        if let Some(metric) = &mut metric {
            let (status, error) = metric_outcome(&output, 500);
            metric.respond(status, error.as_deref());
        }
        Poll::Ready(match output {
            Ok(mut response) => {
                if !span.is_disabled() {
                    record_status(&span, response.status().as_u16(), 500);
                    inject_response(&span, &mut response);
                }
                let start = *this.start;
                Ok(response.map(|body| ResponseBody::new(body, span, start, metric)))
            }
            Err(error) => {
                if let Some(metric) = metric {
                    metric.end(&span);
                }
                if !span.is_disabled() {
                    record_error(&span, &error, error_type(std::any::type_name::<E>()));
                    record_duration(&span, *this.start);
                }
                Err(error)
            }
        })
    }
}

/// When the request started, unless its span is disabled (then it records nothing: no clock to read).
fn start(span: &Span) -> Option<Instant> {
    (!span.is_disabled()).then(Instant::now)
}

/// Polls `inner` inside `span` (and `parent`, current when the span is disabled). A panic of the handler is a
/// failed request, not a cancelled one: it is recorded on the span (which then ends) and in the metric (as
/// `error.type = panic`), and goes on unwinding.
fn poll_inside<F: Future>(
    inner: Pin<&mut F>,
    span: &Span,
    parent: Option<&Context>,
    start: Option<Instant>,
    metric: &mut Option<Request>,
    cx: &mut TaskContext<'_>,
) -> Poll<F::Output> {
    let polled = {
        let _entered = span.enter();
        let _attached = parent.map(|parent| parent.clone().attach());
        catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
    };
    match polled {
        Ok(poll) => poll,
        Err(panic) => {
            if let Some(metric) = metric.take() {
                metric.finish(None, Some(PANIC), span);
            }
            record_panic(span, &*panic);
            record_duration(span, start);
            resume_unwind(panic)
        }
    }
}

/// What the request's duration metric records of `output`: the response's status code, which is also the
/// `error.type` from `error_from` on (400 for a client, 500 for a server, as the semantic conventions say), or
/// the error's type.
fn metric_outcome<B, E>(
    output: &Result<Response<B>, E>,
    error_from: u16,
) -> (Option<u16>, Option<Cow<'static, str>>) {
    match output {
        Ok(response) => {
            let status = response.status().as_u16();
            let error = (status >= error_from).then(|| Cow::Owned(status.to_string()));
            (Some(status), error)
        }
        Err(_) => (
            None,
            Some(Cow::Borrowed(error_type(std::any::type_name::<E>()))),
        ),
    }
}

/// Writes the server span's trace context into the response, so a caller without a trace of its own (a browser,
/// `curl -v`) learns which trace to look up. Only the span context: the caller's baggage is not echoed back.
fn inject_response<B>(span: &Span, response: &mut Response<B>) {
    let cx = crate::SpanExt::context(span);
    if !cx.span().span_context().is_valid() {
        return;
    }
    // The span's own context when it holds nothing of the caller's (nearly always): no context to make.
    let cx = if crate::propagation::holds_only_its_span(&cx) {
        cx
    } else {
        Context::new().with_remote_span_context(cx.span().span_context().clone())
    };
    crate::propagation::inject(&cx, &mut HeaderInjector(response.headers_mut()));
}

fn record_panic(span: &Span, panic: &(dyn std::any::Any + Send)) {
    let message = if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.as_str()
    } else {
        "Box<dyn Any>"
    };
    record_error(span, &message, PANIC);
}
