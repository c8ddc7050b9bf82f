//! [`TraceLayer`]: one `server` span per gRPC call.

use std::fmt::Display;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::body::{ResponseBody, ResponseFuture};
use super::{rpc_metric, rpc_span, Side};

/// A tower [`Layer`] that traces a gRPC server: one span of kind `server` per call, continuing the trace of the
/// caller's metadata (read with the global propagator before the span is first entered). See the
/// [module documentation](super) for its name, attributes and status.
///
/// With tonic: `tonic::transport::Server::builder().layer(TraceLayer::new())`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceLayer {
    _private: (),
}

impl TraceLayer {
    /// The layer.
    pub fn new() -> Self {
        TraceLayer::default()
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService { inner }
    }
}

/// The service [`TraceLayer`] wraps around a gRPC server.
#[derive(Clone, Debug)]
pub struct TraceService<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for TraceService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Error: Display,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let span = rpc_span(Side::Server, request.uri());
        let metric = rpc_metric(Side::Server, request.uri());
        let parent = crate::http::extract_parent(&request);
        // The span is filtered out: the caller's trace must still reach the handler's own spans, through the
        // current context.
        let parent = if span.is_disabled() {
            Some(parent)
        } else {
            crate::SpanExt::set_parent(&span, parent);
            None
        };
        let future = {
            let _entered = span.enter();
            let _attached = parent.as_ref().map(|parent| parent.clone().attach());
            self.inner.call(request)
        };
        ResponseFuture::new(future, span, parent, Side::Server, metric)
    }
}
