//! OTLP/gRPC: one unary `Export` call of the signal's collector service per attempt, over a lazily connected
//! tonic channel.
//!
//! The request is sent as the bytes the signal encoded, through a codec that copies them into tonic's buffer,
//! allocated at their size: the generated clients would take the message structs, and need a deep copy of them
//! per attempt (and one client per signal).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf as _, BufMut as _};
use tonic::codec::{
    BufferSettings, Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder,
};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::Status;

use super::retry::{self, Attempt, Retry};
use super::transport::{
    bad_endpoint, bad_header, no_answer, printable, unreachable, Signal, TOO_LARGE,
};
use crate::config::OtlpConfig;
use crate::Error;

#[derive(Debug)]
pub(super) struct Grpc {
    client: tonic::client::Grpc<Channel>,
    signal: Signal,
    /// The endpoint without credentials, for messages.
    endpoint: String,
    metadata: MetadataMap,
}

impl Grpc {
    pub(super) fn new(config: &OtlpConfig, gzip: bool, signal: Signal) -> Result<Self, Error> {
        let mut headers = http::HeaderMap::new();
        for (key, value) in &config.headers {
            let name = http::HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes())
                .map_err(|e| bad_header(key, format!("not a gRPC metadata key: {e}")))?;
            let value = http::HeaderValue::from_str(value)
                .map_err(|e| bad_header(key, format!("not a gRPC metadata value: {e}")))?;
            headers.append(name, value);
        }
        let mut endpoint = Endpoint::from_shared(config.endpoint.clone())
            .map_err(|e| bad_endpoint(&config.endpoint, e))?
            // A dead collector must fail an attempt fast, so the backoff (not the connect) spends the budget.
            .connect_timeout(config.timeout.min(Duration::from_secs(5)));
        if config.endpoint.starts_with("https://") {
            // A bare ClientTlsConfig trusts no root at all: take the system's roots.
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_enabled_roots())
                .map_err(|e| bad_endpoint(&config.endpoint, e))?;
        }
        let mut client = tonic::client::Grpc::new(endpoint.connect_lazy())
            // The collector, not this client, decides what is too large: the request is bounded before encoding
            // (`TRACED_MAX_EXPORT_BYTES`).
            .max_encoding_message_size(usize::MAX);
        if gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        Ok(Grpc {
            client,
            signal,
            endpoint: printable(&config.endpoint),
            metadata: MetadataMap::from_headers(headers),
        })
    }

    /// One attempt: `body` is an encoded export request of the signal, shared with the other attempts.
    pub(super) async fn send(&self, body: Arc<Vec<u8>>, timeout: Duration) -> Result<(), Attempt> {
        let codec = Encoded { len: body.len() };
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        request.set_timeout(timeout);
        request.extensions_mut().insert(tonic::GrpcMethod::new(
            self.signal.service,
            self.signal.method,
        ));
        let mut client = self.client.clone();
        let path = http::uri::PathAndQuery::from_static(self.signal.path);
        // What the generated clients do, with our codec.
        let call = async move {
            // A channel that cannot connect fails here; keeping the error as the source marks it a transport
            // failure, not an answer of the server.
            client
                .ready()
                .await
                .map_err(|e| Status::from_error(e.into()))?;
            client.unary(request, path, codec).await
        };
        // A slow answer must not outlive the attempt even if the server ignores `grpc-timeout`.
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(_)) => Ok(()),
            Err(_) => Err(no_answer(&self.endpoint, timeout)),
            Ok(Err(status)) => Err(self.failed(&status)),
        }
    }

    /// Classifies a failed call.
    fn failed(&self, status: &Status) -> Attempt {
        // Transport failures (connection refused or reset) come as UNKNOWN or UNAVAILABLE with a source error:
        // nobody is there, or the connection broke.
        if matches!(
            status.code(),
            tonic::Code::Unknown | tonic::Code::Unavailable
        ) && std::error::Error::source(status).is_some()
        {
            return unreachable(&self.endpoint, status.message());
        }
        let retry = retry::grpc_status(status);
        let hint = if retry == Retry::Never
            && matches!(
                status.code(),
                tonic::Code::OutOfRange | tonic::Code::ResourceExhausted
            ) {
            format!(" ({TOO_LARGE})")
        } else {
            String::new()
        };
        Attempt {
            message: format!(
                "{} answered gRPC {:?}: {}{hint}",
                self.endpoint,
                status.code(),
                status.message()
            ),
            retry,
        }
    }
}

/// Sends bytes already encoded, `len` of them; reads the answer's body no further than needed to discard it (a
/// partial success is a success: retrying would duplicate the items accepted).
#[derive(Clone, Copy, Debug)]
struct Encoded {
    len: usize,
}

/// tonic's frame header: the compressed flag and the message's length.
const FRAME_HEADER: usize = 5;
/// tonic's default: the encoded bytes go to the connection once there are this many.
const YIELD_THRESHOLD: usize = 32 * 1024;

impl Codec for Encoded {
    type Encode = Arc<Vec<u8>>;
    type Decode = ();
    type Encoder = Encoded;
    type Decoder = Encoded;

    fn encoder(&mut self) -> Encoded {
        *self
    }

    fn decoder(&mut self) -> Encoded {
        *self
    }
}

impl Encoder for Encoded {
    type Item = Arc<Vec<u8>>;
    type Error = Status;

    fn encode(&mut self, item: Arc<Vec<u8>>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }

    /// tonic's buffer at the request's size from the start: grown from its default 8 KiB, it was reallocated
    /// and copied (into fresh pages) six times for a request of a few hundred KiB.
    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::new(FRAME_HEADER + self.len, YIELD_THRESHOLD)
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
