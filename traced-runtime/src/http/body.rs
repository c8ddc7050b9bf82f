//! [`ResponseBody`]: the body of a traced server response, which ends the request's span once it is sent.

use std::fmt::Display;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use traced_conventions::value::error_type;
use tracing::Span;

use super::{cancelled, record_duration, record_error};
use crate::metrics::http::Request;

pin_project_lite::pin_project! {
    /// The response body of [`TraceService`](super::TraceService): the handler's body, sent inside the request's
    /// span, which it ends when the last frame is out (with the duration of the whole request, body included),
    /// when the body fails (recorded as an error), or when it is dropped before the end (`cancelled = true`: the
    /// client went away mid-stream). The status recorded from the response head stays. The request's duration
    /// metric ends with the span.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        span: Option<Span>,
        start: Option<Instant>,
        metric: Option<Request>,
    }

    impl<B> PinnedDrop for ResponseBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.take() {
                cancelled(&span, *this.start);
                if let Some(metric) = this.metric.take() {
                    metric.end(&span);
                }
            }
        }
    }
}

/// The body is sent (or failed): the span's duration and the request's metric end.
fn end(span: Span, start: Option<Instant>, metric: Option<Request>) {
    record_duration(&span, start);
    if let Some(metric) = metric {
        metric.end(&span);
    }
}

impl<B: Body> ResponseBody<B> {
    pub(super) fn new(
        inner: B,
        span: Span,
        start: Option<Instant>,
        metric: Option<Request>,
    ) -> Self {
        let mut body = ResponseBody {
            inner,
            span: Some(span),
            start,
            metric,
        };
        // An empty body is never polled: the request is over with its head.
        if body.inner.is_end_stream() {
            if let Some(span) = body.span.take() {
                end(span, start, body.metric.take());
            }
        }
        body
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Error: Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let polled = match this.span.as_ref() {
            Some(span) => {
                let _entered = span.enter();
                this.inner.as_mut().poll_frame(cx)
            }
            None => return this.inner.poll_frame(cx),
        };
        let done = match &polled {
            Poll::Pending => false,
            Poll::Ready(None) => true,
            Poll::Ready(Some(Err(error))) => {
                let error_type = error_type(std::any::type_name::<B::Error>());
                if let Some(span) = this.span.as_ref() {
                    record_error(span, error, error_type);
                }
                if let Some(metric) = this.metric.as_mut() {
                    metric.fail(error_type);
                }
                true
            }
            // The server may stop here without asking for the end.
            Poll::Ready(Some(Ok(_))) => this.inner.is_end_stream(),
        };
        if done {
            if let Some(span) = this.span.take() {
                end(span, *this.start, this.metric.take());
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
