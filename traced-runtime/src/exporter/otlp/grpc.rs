//! OTLP/gRPC: one `TraceService/Export` call per attempt over a lazily connected tonic channel.
//!
//! The request is sent as the bytes [`encode`](super::encode) wrote, through a codec that copies them: the
//! generated client would take the message structs, and need a deep copy of them per attempt.

use std::time::Duration;

use bytes::{Buf as _, BufMut as _, Bytes};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::Status;

use super::{unreachable, Attempt};
use crate::config::OtlpConfig;
use crate::exporter::retry;
use crate::Error;

#[derive(Debug)]
pub(super) struct Grpc {
    client: tonic::client::Grpc<Channel>,
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
        let mut client = tonic::client::Grpc::new(endpoint.connect_lazy());
        if gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        Ok(Grpc {
            client,
            endpoint: config.endpoint.clone(),
            metadata: MetadataMap::from_headers(headers),
        })
    }

    /// One attempt: `body` is an encoded `ExportTraceServiceRequest`.
    pub(super) async fn send(&self, body: Bytes, timeout: Duration) -> Result<(), Attempt> {
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        request.set_timeout(timeout);
        request
            .extensions_mut()
            .insert(tonic::GrpcMethod::new(SERVICE, METHOD));
        let mut client = self.client.clone();
        // What the generated client does, with our codec.
        let call = async move {
            client
                .ready()
                .await
                .map_err(|e| Status::unknown(format!("Service was not ready: {e}")))?;
            client
                .unary(request, http::uri::PathAndQuery::from_static(PATH), Encoded)
                .await
        };
        // A slow answer must not outlive the attempt even if the server ignores `grpc-timeout`.
        match tokio::time::timeout(timeout, call).await {
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

const SERVICE: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
const METHOD: &str = "Export";
const PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Sends bytes already encoded; reads the answer's body no further than needed to discard it (a partial
/// success is a success: retrying would duplicate the spans accepted).
#[derive(Clone, Copy, Debug, Default)]
struct Encoded;

impl Codec for Encoded {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = Encoded;
    type Decoder = Encoded;

    fn encoder(&mut self) -> Encoded {
        Encoded
    }

    fn decoder(&mut self) -> Encoded {
        Encoded
    }
}

impl Encoder for Encoded {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Encoded {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}
