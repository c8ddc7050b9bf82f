//! [`ClientTraceLayer`]: one `client` span per gRPC call, its context in the call's metadata.

use std::fmt::Display;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::body::{ResponseBody, ResponseFuture};
use super::{rpc_metric, rpc_span, Side};
use crate::propagation::HeaderInjector;

/// A tower [`Layer`] that traces a gRPC client: one span of kind `client` per call, whose trace context (and the
/// current baggage) is written into the call's metadata with the global propagator, so the server's span becomes
/// its child. See the [module documentation](super) for its name, attributes and status.
///
/// With tonic: `tower::ServiceBuilder::new().layer(ClientTraceLayer::new()).service(channel)`, then the
/// generated client's `new(..)` (or `tonic::client::Grpc::new(..)`) over it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientTraceLayer {
    _private: (),
}

impl ClientTraceLayer {
    /// The layer.
    pub fn new() -> Self {
        ClientTraceLayer::default()
    }
}

impl<S> Layer<S> for ClientTraceLayer {
    type Service = ClientTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientTraceService { inner }
    }
}

/// The service [`ClientTraceLayer`] wraps around a gRPC channel.
#[derive(Clone, Debug)]
pub struct ClientTraceService<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for ClientTraceService<S>
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

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let span = rpc_span(Side::Client, request.uri());
        let metric = rpc_metric(Side::Client, request.uri());
        // Even when the client span is not recorded, the current context still goes on, so the trace is not cut.
        let cx = crate::http::context_of(&span);
        crate::propagation::inject(&cx, &mut HeaderInjector(request.headers_mut()));
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ResponseFuture::new(future, span, None, Side::Client, metric)
    }
}
