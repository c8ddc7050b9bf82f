//! [`ReqwestMiddleware`]: the client span of [`ClientTraceLayer`](super::ClientTraceLayer) for a
//! `reqwest_middleware` client (feature `reqwest`).

use std::time::Instant;

use http::{Extensions, Uri};
use reqwest_middleware::{Middleware, Next};
use tracing::Instrument;

use super::client::{client_span, inject_span};
use super::future::{record_client_end, End};
use traced_conventions::value::error_type;

/// A `reqwest-middleware` middleware that traces every request of a reqwest client: the same `client` span as
/// [`ClientTraceLayer`](super::ClientTraceLayer) (named `{method}`, with `http.request.method`, `url.full`
/// without credentials, `server.address`, `server.port`, `http.response.status_code`, `duration_ms`; ERROR for
/// a 4xx or 5xx response or a failed request; `cancelled = true` when the call is dropped before it completes),
/// whose trace context and the current baggage go into the request's headers with the global propagator.
///
/// ```
/// use reqwest_middleware::ClientBuilder;
/// use traced::http::ReqwestMiddleware;
///
/// # async fn call() -> Result<(), reqwest_middleware::Error> {
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(ReqwestMiddleware::new())
///     .build();
/// let response = client.post("http://127.0.0.1:3000/webhook").body("{}").send().await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ReqwestMiddleware {
    _private: (),
}

impl ReqwestMiddleware {
    /// The middleware.
    pub fn new() -> Self {
        ReqwestMiddleware::default()
    }
}

#[async_trait::async_trait]
impl Middleware for ReqwestMiddleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        // A reqwest URL is always absolute, hence a valid URI; should one not be, the span still names the method.
        let uri = Uri::try_from(request.url().as_str()).unwrap_or_default();
        let span = client_span(request.method(), &uri);
        inject_span(&span, request.headers_mut());
        let mut in_flight = InFlight {
            span: span.clone(),
            start: (!span.is_disabled()).then(Instant::now),
            ended: false,
        };
        let result = next.run(request, extensions).instrument(span).await;
        let end = match &result {
            Ok(response) => End::Status(response.status().as_u16()),
            Err(reqwest_middleware::Error::Reqwest(error)) => {
                End::Error(error, error_type(std::any::type_name::<reqwest::Error>()))
            }
            Err(error) => End::Error(
                error,
                error_type(std::any::type_name::<reqwest_middleware::Error>()),
            ),
        };
        in_flight.end(end);
        result
    }
}

/// A request on its way: ends its span once, or as cancelled when the middleware's future is dropped first.
struct InFlight {
    span: tracing::Span,
    start: Option<Instant>,
    ended: bool,
}

impl InFlight {
    fn end(&mut self, end: End<'_>) {
        self.ended = true;
        record_client_end(&self.span, end, self.start);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.ended {
            record_client_end(&self.span, End::Cancelled, self.start);
        }
    }
}
