//! OTLP/gRPC: one `TraceService/Export` call per attempt over a lazily connected tonic channel.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::{unreachable, Attempt};
use crate::config::OtlpConfig;
use crate::exporter::retry;
use crate::Error;

#[derive(Debug)]
pub(super) struct Grpc {
    client: TraceServiceClient<Channel>,
    endpoint: String,
    metadata: MetadataMap,
}

impl Grpc {
    pub(super) fn new(config: &OtlpConfig, gzip: bool) -> Result<Self, Error> {
        let invalid = |option: &str, value: String, reason: String| Error::InvalidValue {
            option: option.into(),
            value,
            reason,
        };
        let mut headers = http::HeaderMap::new();
        for (key, value) in &config.headers {
            let bad = |reason: String| {
                invalid(
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    format!("{key}={value}"),
                    reason,
                )
            };
            let name = http::HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes())
                .map_err(|e| bad(format!("not a gRPC metadata key: {e}")))?;
            let value = http::HeaderValue::from_str(value)
                .map_err(|e| bad(format!("not a gRPC metadata value: {e}")))?;
            headers.append(name, value);
        }
        let bad_endpoint = |reason: String| {
            invalid(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                config.endpoint.clone(),
                reason,
            )
        };
        let mut endpoint = Endpoint::from_shared(config.endpoint.clone())
            .map_err(|e| bad_endpoint(e.to_string()))?
            // A dead collector must fail an attempt fast, so the backoff (not the connect) spends the budget.
            .connect_timeout(config.timeout.min(Duration::from_secs(5)));
        if config.endpoint.starts_with("https://") {
            // A bare ClientTlsConfig trusts no root at all: take the system's roots.
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_enabled_roots())
                .map_err(|e| bad_endpoint(e.to_string()))?;
        }
        let mut client = TraceServiceClient::new(endpoint.connect_lazy());
        if gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        Ok(Grpc {
            client,
            endpoint: config.endpoint.clone(),
            metadata: MetadataMap::from_headers(headers),
        })
    }

    pub(super) async fn send(
        &self,
        request: ExportTraceServiceRequest,
        timeout: Duration,
    ) -> Result<(), Attempt> {
        let mut request = tonic::Request::new(request);
        *request.metadata_mut() = self.metadata.clone();
        request.set_timeout(timeout);
        // A slow answer must not outlive the attempt even if the server ignores `grpc-timeout`.
        let mut client = self.client.clone();
        match tokio::time::timeout(timeout, client.export(request)).await {
            Ok(Ok(_)) => Ok(()),
            Err(_) => Err(unreachable(
                &self.endpoint,
                format!("no answer within {timeout:?}"),
            )),
            Ok(Err(status)) => {
                let mut retry = retry::grpc_status(&status);
                // Transport failures (connection refused or reset) come as UNKNOWN with a source error.
                if retry == retry::Retry::Never
                    && status.code() == tonic::Code::Unknown
                    && std::error::Error::source(&status).is_some()
                {
                    retry = retry::Retry::Backoff;
                }
                Err(Attempt {
                    message: format!(
                        "{} answered gRPC {:?}: {}",
                        self.endpoint,
                        status.code(),
                        status.message()
                    ),
                    retry,
                })
            }
        }
    }
}
