//! The failures a [`Receiver`](crate::Receiver) plays on demand, and how each reads on either wire.

use std::time::Duration;

/// What the receiver does instead of accepting a request (or a connection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP: answer this status, with `Retry-After` (whole seconds) when a delay is given. gRPC: the code the
    /// status stands for ([`code_for_status`]), with a `RetryInfo` detail when a delay is given.
    Status(u16, Option<Duration>),
    /// gRPC: answer this code, with a `RetryInfo` detail when a delay is given. HTTP: the status it stands for
    /// ([`status_for_code`]), with `Retry-After`.
    Code(tonic::Code, Option<Duration>),
    /// Read the request and never answer.
    Hang,
    /// Answer after this long (and accept).
    Slow(Duration),
    /// Accept connections and never read from them; a request on a connection opened before hangs.
    BlackHole,
}

/// The HTTP statuses and gRPC codes that stand for each other, as the OTLP exporters read them.
const STATUS_CODES: [(u16, tonic::Code); 5] = [
    (429, tonic::Code::ResourceExhausted),
    (503, tonic::Code::Unavailable),
    (400, tonic::Code::InvalidArgument),
    (401, tonic::Code::Unauthenticated),
    (403, tonic::Code::PermissionDenied),
];

/// The gRPC code standing for an HTTP status; `INTERNAL` for any status not in the table.
pub fn code_for_status(status: u16) -> tonic::Code {
    STATUS_CODES
        .iter()
        .find(|(s, _)| *s == status)
        .map_or(tonic::Code::Internal, |(_, code)| *code)
}

/// The HTTP status standing for a gRPC code; 500 for any code not in the table.
pub fn status_for_code(code: tonic::Code) -> u16 {
    STATUS_CODES
        .iter()
        .find(|(_, c)| *c == code)
        .map_or(500, |(status, _)| *status)
}

/// A refused request, as both wires answer it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) code: tonic::Code,
    pub(crate) retry_after: Option<Duration>,
}

/// What a fault does to one request, once its delay (if any) has passed.
pub(crate) enum Play {
    /// Accept it after this long.
    Accept(Duration),
    /// Refuse it.
    Refuse(Refusal),
    /// Never answer.
    Hang,
}

impl Fault {
    pub(crate) fn play(&self) -> Play {
        match *self {
            Fault::Status(status, retry_after) => Play::Refuse(Refusal {
                status,
                code: code_for_status(status),
                retry_after,
            }),
            Fault::Code(code, retry_after) => Play::Refuse(Refusal {
                status: status_for_code(code),
                code,
                retry_after,
            }),
            Fault::Hang | Fault::BlackHole => Play::Hang,
            Fault::Slow(delay) => Play::Accept(delay),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes_map_both_ways() {
        for (status, code) in STATUS_CODES {
            assert_eq!(code_for_status(status), code);
            assert_eq!(status_for_code(code), status);
        }
        assert_eq!(code_for_status(418), tonic::Code::Internal);
        assert_eq!(status_for_code(tonic::Code::DataLoss), 500);
    }
}
