//! The OTLP/gRPC services (traces, metrics, logs) of a receiver, as tonic routes.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::bytes::Buf;
use prost::Message;
use tonic::body::Body;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, BoxFuture, Context, Poll, Service};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic_types::{ErrorDetails, StatusExt};

use crate::fault::{Play, Refusal};
use crate::http::header_pairs;
use crate::store::{Payload, Signal, Store};
use crate::MAX_MESSAGE_BYTES;

/// The three export services over one store, each accepting gzip (collectors such as rotel compress).
pub(crate) fn routes(store: Arc<Store>) -> axum::Router {
    let services = Services(store);
    let routes = tonic::service::Routes::new(
        TraceServiceServer::new(services.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
    )
    .add_service(
        MetricsServiceServer::new(services.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
    );
    // A receiver that only counts spans skips decoding log records: prost would spend more on each than
    // the exporter a bench measures, on the same cores.
    let routes = if services.0.counts_only() {
        routes.add_service(UnreadLogs(services))
    } else {
        routes.add_service(
            LogsServiceServer::new(services)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
    };
    routes.into_axum_router()
}

#[derive(Clone)]
struct Services(Arc<Store>);

impl Services {
    /// Records the request, plays the fault due, and keeps the body if accepted.
    async fn answer<T>(
        &self,
        signal: Signal,
        request: tonic::Request<T>,
        payload: fn(T) -> Option<Payload>,
    ) -> Result<(), tonic::Status> {
        let headers = header_pairs(request.metadata().clone().into_headers().iter());
        let (arrival, play) = self.0.arrive(signal, headers);
        match play {
            Play::Accept(delay) => tokio::time::sleep(delay).await,
            Play::Refuse(refusal) => return Err(status(refusal)),
            Play::Hang => std::future::pending::<()>().await,
        }
        if let Some(payload) = payload(request.into_inner()) {
            self.0.accept(arrival, payload);
        }
        Ok(())
    }
}

/// The refusal as a gRPC status, with a `RetryInfo` detail when it carries a delay.
fn status(refusal: Refusal) -> tonic::Status {
    match refusal.retry_after {
        Some(delay) => tonic::Status::with_error_details(
            refusal.code,
            "injected",
            ErrorDetails::with_retry_info(Some(delay)),
        ),
        None => tonic::Status::new(refusal.code, "injected"),
    }
}

#[tonic::async_trait]
impl TraceService for Services {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.answer(Signal::Traces, request, |r| Some(Payload::Traces(r)))
            .await?;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Services {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.answer(Signal::Metrics, request, |r| Some(Payload::Metrics(r)))
            .await?;
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Services {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.answer(Signal::Logs, request, |r| Some(Payload::Logs(r)))
            .await?;
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

/// The logs service of a receiver that only counts: requests are answered (faults played) but never decoded.
#[derive(Clone)]
struct UnreadLogs(Services);

impl NamedService for UnreadLogs {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
}

impl Service<http::Request<Body>> for UnreadLogs {
    type Response = http::Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let services = self.0.clone();
        Box::pin(async move {
            let mut grpc = Grpc::new(Unread)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_MESSAGE_BYTES);
            Ok(grpc.unary(services, request).await)
        })
    }
}

impl UnaryService<()> for Services {
    type Response = ExportLogsServiceResponse;
    type Future = BoxFuture<tonic::Response<Self::Response>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<()>) -> Self::Future {
        let services = self.clone();
        Box::pin(async move {
            services.answer(Signal::Logs, request, |()| None).await?;
            Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
        })
    }
}

/// A codec that skips the request's bytes and writes the (empty) logs response.
#[derive(Clone, Copy)]
struct Unread;

impl Codec for Unread {
    type Encode = ExportLogsServiceResponse;
    type Decode = ();
    type Encoder = Unread;
    type Decoder = Unread;

    fn encoder(&mut self) -> Unread {
        Unread
    }

    fn decoder(&mut self) -> Unread {
        Unread
    }
}

impl Encoder for Unread {
    type Item = ExportLogsServiceResponse;
    type Error = tonic::Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        item.encode(dst)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl Decoder for Unread {
    type Item = ();
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Self::Error> {
        let skipped = src.remaining();
        src.advance(skipped);
        Ok(Some(()))
    }
}
