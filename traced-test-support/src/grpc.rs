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
use tonic::codec::CompressionEncoding;
use tonic_types::{ErrorDetails, StatusExt};

use crate::fault::{Play, Refusal};
use crate::http::header_pairs;
use crate::store::{Payload, Signal, Store};
use crate::MAX_MESSAGE_BYTES;

/// The three export services over one store, each accepting gzip (collectors such as rotel compress).
pub(crate) fn routes(store: Arc<Store>) -> axum::Router {
    let services = Services(store);
    tonic::service::Routes::new(
        TraceServiceServer::new(services.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
    )
    .add_service(
        MetricsServiceServer::new(services.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
    )
    .add_service(
        LogsServiceServer::new(services)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
    )
    .into_axum_router()
}

#[derive(Clone)]
struct Services(Arc<Store>);

impl Services {
    /// Records the request, plays the fault due, and keeps the body if accepted.
    async fn answer<T>(
        &self,
        signal: Signal,
        request: tonic::Request<T>,
        payload: fn(T) -> Payload,
    ) -> Result<(), tonic::Status> {
        let headers = header_pairs(request.metadata().clone().into_headers().iter());
        let (arrival, play) = self.0.arrive(signal, headers);
        match play {
            Play::Accept(delay) => tokio::time::sleep(delay).await,
            Play::Refuse(refusal) => return Err(status(refusal)),
            Play::Hang => std::future::pending::<()>().await,
        }
        self.0.accept(arrival, payload(request.into_inner()));
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
        self.answer(Signal::Traces, request, Payload::Traces)
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
        self.answer(Signal::Metrics, request, Payload::Metrics)
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
        self.answer(Signal::Logs, request, Payload::Logs).await?;
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}
