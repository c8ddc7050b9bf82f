//! The response future and body both layers return: the call's span stays open until the status is known, from
//! the response headers (a trailers-only response) or from the trailers at the end of the response stream.

use std::fmt::Display;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use http::Response;
use http_body::{Body, Frame, SizeHint};
use opentelemetry::Context;
use traced_conventions::value::error_type;
use tracing::Span;

use super::{record_end, status_in, End, Side, UNKNOWN};
use crate::metrics::http::Request as RpcMetric;

/// A call whose status is not known yet.
#[derive(Debug)]
struct Open {
    span: Span,
    start: Option<Instant>,
    side: Side,
    /// `rpc.server.duration` or `rpc.client.duration`, when metrics are on (whether or not the span is).
    metric: Option<RpcMetric>,
}

impl Open {
    fn new(span: Span, side: Side, metric: Option<RpcMetric>) -> Self {
        // A disabled span records nothing: no clock to read.
        let start = (!span.is_disabled()).then(Instant::now);
        Open {
            span,
            start,
            side,
            metric,
        }
    }

    fn end(self, end: End<'_>) {
        record_end(&self.span, self.side, end, self.start, self.metric);
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`TraceService`](super::TraceService) and
    /// [`ClientTraceService`](super::ClientTraceService): the inner future, polled inside the call's span. Its
    /// response's body is a [`ResponseBody`], which ends the span when the status arrives.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        open: Option<Open>,
        // The caller's context when the span itself is disabled (filtered out), made current on every poll so the
        // spans of the handler still continue the caller's trace.
        parent: Option<Context>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(open) = this.project().open.take() {
                open.end(End::Cancelled);
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(
        inner: F,
        span: Span,
        parent: Option<Context>,
        side: Side,
        metric: Option<RpcMetric>,
    ) -> Self {
        ResponseFuture {
            inner,
            open: Some(Open::new(span, side, metric)),
            parent,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Display,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(open) = this.open.as_ref() else {
            // Polled after completion: the inner future decides what that means.
            return this.inner.poll(cx).map_ok(|r| r.map(ResponseBody::done));
        };
        let polled = {
            let _entered = open.span.enter();
            let _attached = this.parent.as_ref().map(|parent| parent.clone().attach());
            let inner = this.inner;
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        };
        let output = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => output,
            Err(panic) => {
                if let Some(open) = this.open.take() {
                    open.end(End::Error(&"the service panicked", "panic"));
                }
                resume_unwind(panic)
            }
        };
        let Some(open) = this.open.take() else {
            unreachable!("checked above")
        };
        Poll::Ready(match output {
            Ok(response) => Ok(match status_in(response.headers()) {
                // Trailers-only: the status is in the headers, the body carries nothing more.
                Some((code, message)) => {
                    open.end(End::Status(code, message));
                    response.map(ResponseBody::done)
                }
                None => response.map(|body| ResponseBody::open(body, open)),
            }),
            Err(error) => {
                let error_type = error_type(std::any::type_name::<E>());
                open.end(End::Error(&error, error_type));
                Err(error)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// The body of a traced gRPC response: the inner body as it is, with the call's span ended by the trailers
    /// (`grpc-status`), or as cancelled when the body is dropped before them.
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        open: Option<Open>,
    }

    impl<B> PinnedDrop for ResponseBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(open) = this.project().open.take() {
                open.end(End::Cancelled);
            }
        }
    }
}

impl<B> ResponseBody<B> {
    fn open(inner: B, open: Open) -> Self {
        ResponseBody {
            inner,
            open: Some(open),
        }
    }

    fn done(inner: B) -> Self {
        ResponseBody { inner, open: None }
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
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(frame) = &polled {
            let end = match frame {
                Some(Ok(frame)) => frame
                    .trailers_ref()
                    .map(|trailers| match status_in(trailers) {
                        Some((code, message)) => End::Status(code, message),
                        None => End::Status(
                            UNKNOWN,
                            Some("the trailers hold no grpc-status".to_owned()),
                        ),
                    }),
                Some(Err(error)) => Some(End::Error(
                    error,
                    error_type(std::any::type_name::<B::Error>()),
                )),
                None => Some(End::Status(
                    UNKNOWN,
                    Some("the response ended without a grpc-status".to_owned()),
                )),
            };
            // Data frames leave the call open; the trailers, an error or the end of the stream close it.
            if let Some(end) = end {
                if let Some(open) = this.open.take() {
                    open.end(end);
                }
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
