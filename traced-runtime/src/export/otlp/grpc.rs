//! OTLP/gRPC: one unary `Export` call of the signal's collector service per attempt, over a lazily connected
//! tonic channel.
//!
//! The request goes out as the bytes the signal encoded, framed as one gRPC message (its compressed flag and
//! length ahead of it), and the answer is read for its status alone: tonic's generated clients would take the
//! message structs, and need a deep copy of them per attempt (and one client per signal), and its client with a
//! codec of our own copied the encoded bytes into a buffer of its own per attempt (one copy of every byte
//! exported, in memory allocated per request).

use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, TE};
use http::HeaderMap;
use http_body::{Body as _, Frame, SizeHint};
use tonic::codegen::Service as _;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};

use super::retry::{self, Attempt, Retry};
use super::transport::{
    bad_endpoint, bad_header, gzip, no_answer, printable, unreachable, Signal, TOO_LARGE,
};
use crate::config::OtlpConfig;
use crate::Error;

const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
const GRPC_ENCODING: HeaderName = HeaderName::from_static("grpc-encoding");

#[derive(Debug)]
pub(super) struct Grpc {
    channel: Channel,
    signal: Signal,
    /// The endpoint without credentials, for messages.
    endpoint: String,
    /// Every request's headers but its timeout: the configured metadata, the content type, `te`, the encoding.
    headers: HeaderMap,
    gzip: bool,
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
        // gRPC's own headers win over configured ones of the same name, as tonic's clients have it.
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        // The body's encoding is this client's to say: a configured one would misname it.
        headers.remove(GRPC_ENCODING);
        if gzip {
            headers.insert(GRPC_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(Grpc {
            channel: endpoint.connect_lazy(),
            signal,
            endpoint: printable(&config.endpoint),
            headers,
            gzip,
        })
    }

    /// The gRPC message of an encoded request, gzipped when configured: done once for every attempt. Gzipped,
    /// the request is given back, free to reuse; otherwise [`Message::into_buffer`] gives it back once sent.
    pub(super) fn message(&self, request: Vec<u8>) -> Result<(Message, Option<Vec<u8>>), String> {
        let (payload, raw) = if self.gzip {
            (gzip(&request)?, Some(request))
        } else {
            (request, None)
        };
        // The collector, not this client, decides what is too large: the request is bounded before encoding
        // (`TRACED_MAX_EXPORT_BYTES`), and only the frame's length field bounds it here.
        let len = u32::try_from(payload.len())
            .map_err(|_| format!("a request of {} bytes is over gRPC's 4 GiB", payload.len()))?;
        let mut header = [0; FRAME_HEADER];
        header[0] = u8::from(self.gzip);
        header[1..].copy_from_slice(&len.to_be_bytes());
        Ok((
            Message {
                header,
                payload: Bytes::from(payload),
            },
            raw,
        ))
    }

    /// One attempt: `message` is an export request of the signal, shared with the other attempts.
    pub(super) async fn send(&self, message: Message, timeout: Duration) -> Result<(), Attempt> {
        let mut request = http::Request::new(tonic::body::Body::new(Framed::from(message)));
        // The channel sets the scheme and authority of its endpoint.
        *request.uri_mut() = http::Uri::from_static(self.signal.path);
        *request.method_mut() = http::Method::POST;
        *request.headers_mut() = self.headers.clone();
        request
            .headers_mut()
            .insert(GRPC_TIMEOUT, grpc_timeout(timeout));
        let mut channel = self.channel.clone();
        let call = async move {
            // A channel that cannot connect fails here; keeping the error as the source marks it a transport
            // failure, not an answer of the server.
            poll_fn(|cx| channel.poll_ready(cx))
                .await
                .map_err(|e| Status::from_error(e.into()))?;
            let response = channel
                .call(request)
                .await
                .map_err(|e| Status::from_error(e.into()))?;
            status(response).await
        };
        // A slow answer must not outlive the attempt even if the server ignores `grpc-timeout`.
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(())) => Ok(()),
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

/// The outcome of a call: its `grpc-status`, in the headers of a trailers-only answer or in the trailers after
/// the answer's body, which is read no further than needed to discard it (a partial success is a success:
/// retrying would duplicate the items accepted). Without one, the HTTP status says what happened, as gRPC maps
/// it.
async fn status(response: http::Response<tonic::body::Body>) -> Result<(), Status> {
    if let Some(status) = Status::from_header_map(response.headers()) {
        return ok(status);
    }
    let http_status = response.status();
    let mut body = pin!(response.into_body());
    while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        if let Ok(trailers) = frame?.into_trailers() {
            if let Some(status) = Status::from_header_map(&trailers) {
                return ok(status);
            }
        }
    }
    Err(Status::new(
        http_code(http_status),
        format!("no grpc-status in an answer of HTTP status {http_status}"),
    ))
}

fn ok(status: Status) -> Result<(), Status> {
    if status.code() == Code::Ok {
        Ok(())
    } else {
        Err(status)
    }
}

/// gRPC's mapping of an HTTP status that came without a `grpc-status` (from a proxy, say).
fn http_code(status: http::StatusCode) -> Code {
    use http::StatusCode;
    match status {
        StatusCode::BAD_REQUEST => Code::Internal,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::Unimplemented,
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// `grpc-timeout`: at most 8 digits, in milliseconds while they fit (about 27 hours), else in seconds.
fn grpc_timeout(timeout: Duration) -> HeaderValue {
    let millis = timeout.as_millis();
    let text = if millis < 100_000_000 {
        format!("{millis}m")
    } else {
        format!("{}S", timeout.as_secs().min(99_999_999))
    };
    HeaderValue::from_str(&text).expect("digits and a unit")
}

/// gRPC's frame header: the compressed flag and the message's length.
const FRAME_HEADER: usize = 5;

/// One request as a gRPC message: its frame header and its bytes, shared by the attempts.
#[derive(Clone, Debug)]
pub(super) struct Message {
    header: [u8; FRAME_HEADER],
    payload: Bytes,
}

impl Message {
    /// The request's buffer, once no attempt holds it any more.
    pub(super) fn into_buffer(self) -> Option<Vec<u8>> {
        self.payload.try_into_mut().ok().map(Vec::from)
    }
}

/// A request's body: the frame header, then the message's bytes as they are (h2 writes a large chunk from
/// where it lies).
struct Framed {
    header: Option<Bytes>,
    payload: Option<Bytes>,
}

impl From<Message> for Framed {
    fn from(message: Message) -> Self {
        Framed {
            header: Some(Bytes::copy_from_slice(&message.header)),
            payload: Some(message.payload),
        }
    }
}

impl http_body::Body for Framed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.header.take().or_else(|| self.payload.take());
        Poll::Ready(next.map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.header.is_none() && self.payload.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let len = |data: &Option<Bytes>| data.as_ref().map_or(0, Bytes::len) as u64;
        SizeHint::with_exact(len(&self.header) + len(&self.payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_written_in_at_most_eight_digits() {
        assert_eq!(grpc_timeout(Duration::from_secs(10)), "10000m");
        assert_eq!(grpc_timeout(Duration::from_millis(1)), "1m");
        assert_eq!(grpc_timeout(Duration::from_secs(100_000)), "100000S");
        assert_eq!(grpc_timeout(Duration::MAX), "99999999S");
    }

    /// Configured metadata goes out as given, but for the headers gRPC itself sets: the content type and the
    /// body's encoding are this client's to say.
    #[test]
    fn configured_headers_never_misname_the_body() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _inside = runtime.enter();
        for gzip in [false, true] {
            let config = OtlpConfig {
                endpoint: "http://127.0.0.1:4317".into(),
                protocol: crate::config::Protocol::Grpc,
                headers: vec![
                    ("X-Tenant".into(), "acme".into()),
                    ("grpc-encoding".into(), "zstd".into()),
                    ("content-type".into(), "text/plain".into()),
                ],
                timeout: Duration::from_secs(1),
                compression: None,
            };
            let grpc = Grpc::new(&config, gzip, super::super::transport::TRACES).unwrap();
            assert_eq!(grpc.headers["x-tenant"], "acme");
            assert_eq!(grpc.headers[CONTENT_TYPE], "application/grpc");
            assert_eq!(grpc.headers[TE], "trailers");
            assert_eq!(
                grpc.headers.get(GRPC_ENCODING).map(|v| v.to_str().unwrap()),
                gzip.then_some("gzip")
            );
            assert_eq!(
                grpc.headers.get_all(GRPC_ENCODING).iter().count(),
                usize::from(gzip)
            );
        }
    }

    #[test]
    fn http_statuses_without_grpc_status_map_as_grpc_says() {
        use http::StatusCode;
        assert_eq!(
            http_code(StatusCode::SERVICE_UNAVAILABLE),
            Code::Unavailable
        );
        assert_eq!(http_code(StatusCode::TOO_MANY_REQUESTS), Code::Unavailable);
        assert_eq!(http_code(StatusCode::NOT_FOUND), Code::Unimplemented);
        assert_eq!(http_code(StatusCode::OK), Code::Unknown);
    }

    #[test]
    fn the_body_is_the_frame_header_then_the_bytes_themselves() {
        let payload = vec![7u8; 300];
        let at = payload.as_ptr();
        let message = Message {
            header: [0, 0, 0, 1, 44],
            payload: Bytes::from(payload),
        };
        let mut body = Box::pin(Framed::from(message.clone()));
        assert_eq!(body.size_hint().exact(), Some(305));
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut chunks = Vec::new();
        while let Poll::Ready(Some(frame)) = body.as_mut().poll_frame(&mut cx) {
            chunks.push(frame.unwrap().into_data().unwrap());
        }
        assert!(body.is_end_stream());
        assert_eq!(chunks.len(), 2);
        assert_eq!(&chunks[0][..], [0, 0, 0, 1, 44]);
        assert_eq!(
            chunks[1].as_ptr(),
            at,
            "the request's own bytes, not a copy"
        );
        assert!(message.clone().into_buffer().is_none(), "still shared");
        drop((chunks, body));
        let buffer = message.into_buffer().expect("given back once sent");
        assert_eq!(buffer.as_ptr(), at);
    }
}
