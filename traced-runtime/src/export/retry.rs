//! Retries of one export: exponential backoff with full jitter, server hints (HTTP `Retry-After`, gRPC
//! `RetryInfo`) honoured, all within the time budget of the batch.
//!
//! The transports classify each failed attempt ([`Attempt`]); this loop decides whether and when to try again.
//! It never sleeps past the deadline: a hint longer than what is left ends the export at once, so the batch
//! is counted as failed instead of holding the exporter's slots (and, behind them, its share of the queue).
//! Once the pipeline shuts down, an endpoint that refuses connections is not tried again: nobody is there, and
//! the program is waiting to exit.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use super::budget::Budget;

/// The first backoff ceiling.
const BASE: Duration = Duration::from_millis(100);
/// The largest backoff ceiling.
const CAP: Duration = Duration::from_secs(5);

/// How a failed attempt may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Permanent (bad request, authentication, payload too large): retrying would fail the same way.
    Never,
    /// Transient (503, UNAVAILABLE, no answer in time): retry after a backoff.
    Backoff,
    /// Nobody there (connection refused, no route, name unknown): retry after a backoff, but not at shutdown.
    Unreachable,
    /// The server said when: retry after this long (not before).
    After(Duration),
}

/// A failed attempt: what to say, and whether to try again.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub(crate) message: String,
    pub(crate) retry: Retry,
}

/// Runs `attempt` until it succeeds, fails permanently, the next try could not start before the budget's
/// deadline, or the pipeline shuts down while the endpoint is unreachable. Each retry is counted in the budget's
/// counters.
pub(crate) async fn with_backoff<F, Fut>(budget: &Budget, mut attempt: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Attempt>>,
{
    let mut closing = budget.closing.clone();
    let mut ceiling = BASE;
    let mut tries = 0u32;
    loop {
        let failure = match attempt().await {
            Ok(()) => return Ok(()),
            Err(failure) => failure,
        };
        tries += 1;
        let unreachable = failure.retry == Retry::Unreachable;
        if unreachable && closing.is_closed() {
            return Err(gave_up(&failure.message, tries, AT_SHUTDOWN));
        }
        let wait = match failure.retry {
            Retry::Never => return Err(failure.message),
            Retry::Backoff | Retry::Unreachable => full_jitter(ceiling),
            // The hint is a floor: never earlier than the server asked, and never a hot loop on a hint of 0.
            Retry::After(hint) => hint.max(full_jitter(ceiling)),
        };
        ceiling = (ceiling * 2).min(CAP);
        let left = budget.deadline.saturating_duration_since(Instant::now());
        if wait >= left {
            return Err(gave_up(&failure.message, tries, OUT_OF_TIME));
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = closing.wait(), if unreachable => {
                return Err(gave_up(&failure.message, tries, AT_SHUTDOWN));
            }
        }
        budget.counters.retried();
    }
}

const AT_SHUTDOWN: &str = "nobody there at shutdown";
const OUT_OF_TIME: &str = "the next one could not start within the export timeout";

/// The message of an export that stopped retrying.
fn gave_up(message: &str, tries: u32, why: &str) -> String {
    let plural = if tries == 1 { "" } else { "s" };
    format!("{message} (gave up after {tries} attempt{plural}: {why})")
}

/// A uniformly random wait in `0..=ceiling` ("full jitter"): clients that failed together do not retry together.
fn full_jitter(ceiling: Duration) -> Duration {
    let millis = ceiling.as_millis() as u64;
    Duration::from_millis(random() % (millis + 1))
}

/// A random `u64` from the standard library's per-hasher random keys: no dependency for a backoff.
fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    hasher.finish()
}

/// The OTLP/HTTP rule: 429, 502, 503 and 504 are transient, honouring `Retry-After` (seconds or an HTTP date);
/// every other status (413 Payload Too Large among them) is permanent.
#[cfg(any(feature = "otlp-http", test))]
pub(crate) fn http_status(status: u16, retry_after: Option<&str>) -> Retry {
    match status {
        429 | 502 | 503 | 504 => retry_after
            .and_then(parse_retry_after)
            .map_or(Retry::Backoff, Retry::After),
        _ => Retry::Never,
    }
}

/// `Retry-After: <seconds>` or `Retry-After: <IMF-fixdate>`.
#[cfg(any(feature = "otlp-http", test))]
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate(value)?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP/1.1 servers must send.
#[cfg(any(feature = "otlp-http", test))]
fn httpdate(value: &str) -> Option<std::time::SystemTime> {
    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? as u64 + 1;
    let day: u64 = day.parse().ok()?;
    let year: u64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day) || year < 1970 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), valid for every year after 1970.
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    let seconds = days * 86_400 + h * 3_600 + m * 60 + s;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// The OTLP/gRPC rule: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are
/// transient; RESOURCE_EXHAUSTED only when the server sent a `RetryInfo`; a `RetryInfo` delay is honoured. A
/// message too large for the server is permanent whatever its code (tonic servers answer OUT_OF_RANGE, grpc-go
/// RESOURCE_EXHAUSTED): the same bytes would be refused again.
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_status(status: &tonic::Status) -> Retry {
    use tonic::Code;
    use tonic_types::StatusExt;

    let hint = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    if hint.is_none() && too_large(status) {
        return Retry::Never;
    }
    match (status.code(), hint) {
        (
            Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss
            | Code::ResourceExhausted,
            Some(delay),
        ) => Retry::After(delay),
        (
            Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss,
            None,
        ) => Retry::Backoff,
        _ => Retry::Never,
    }
}

/// Whether `status` refuses a message for its size: OUT_OF_RANGE or RESOURCE_EXHAUSTED with the wording of tonic
/// ("decoded message length too large") or grpc-go ("received message larger than max").
#[cfg(feature = "otlp-grpc")]
fn too_large(status: &tonic::Status) -> bool {
    use tonic::Code;

    if !matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted) {
        return false;
    }
    let message = status.message().to_ascii_lowercase();
    ["too large", "larger than max", "message length"]
        .iter()
        .any(|words| message.contains(words))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::export::budget::Closing;
    use crate::stats::{SharedStats, Signal};

    fn budget(deadline: Duration, closing: &Closing, stats: &SharedStats) -> Budget {
        Budget {
            deadline: Instant::now() + deadline,
            closing: closing.listen(),
            counters: stats.of(Signal::Spans).add_exporter("otlp"),
        }
    }

    fn retries(stats: &SharedStats) -> u64 {
        stats.snapshot().retries
    }

    #[test]
    fn http_statuses_are_classified_by_the_otlp_rule() {
        assert_eq!(http_status(503, None), Retry::Backoff);
        assert_eq!(
            http_status(429, Some("2")),
            Retry::After(Duration::from_secs(2))
        );
        assert_eq!(
            http_status(503, Some("Thu, 01 Jan 1970 00:00:00 GMT")),
            Retry::After(Duration::ZERO)
        );
        assert_eq!(http_status(503, Some("soon")), Retry::Backoff);
        for permanent in [400, 401, 403, 404, 413, 500] {
            assert_eq!(
                http_status(permanent, Some("1")),
                Retry::Never,
                "{permanent}"
            );
        }
    }

    #[cfg(feature = "otlp-grpc")]
    #[test]
    fn grpc_codes_are_classified_by_the_otlp_rule() {
        use tonic::{Code, Status};
        use tonic_types::{ErrorDetails, StatusExt};

        let hinted = |code| {
            Status::with_error_details(
                code,
                "x",
                ErrorDetails::with_retry_info(Some(Duration::from_millis(250))),
            )
        };
        assert_eq!(grpc_status(&Status::unavailable("x")), Retry::Backoff);
        assert_eq!(
            grpc_status(&hinted(Code::Unavailable)),
            Retry::After(Duration::from_millis(250))
        );
        // RESOURCE_EXHAUSTED is retried only when the server says when.
        assert_eq!(grpc_status(&Status::resource_exhausted("x")), Retry::Never);
        // A message too large for the server is never retried.
        assert_eq!(grpc_status(&Status::out_of_range("x")), Retry::Backoff);
        for too_large in [
            Status::out_of_range(
                "Error, decoded message length too large: found 5242880 bytes, the limit is: 4194304 bytes",
            ),
            Status::resource_exhausted(
                "grpc: received message larger than max (5242880 vs. 4194304)",
            ),
        ] {
            assert_eq!(grpc_status(&too_large), Retry::Never, "{too_large:?}");
        }
        assert_eq!(
            grpc_status(&hinted(Code::ResourceExhausted)),
            Retry::After(Duration::from_millis(250))
        );
        for code in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::NotFound,
            Code::Unimplemented,
        ] {
            assert_eq!(grpc_status(&hinted(code)), Retry::Never, "{code:?}");
        }
    }

    #[test]
    fn http_dates_are_parsed() {
        let at = httpdate("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            784_111_777
        );
        assert!(httpdate("Sun, 06 Nov 1994 08:49 GMT").is_none());
        assert!(httpdate("").is_none());
    }

    #[test]
    fn jitter_stays_under_the_ceiling() {
        for _ in 0..1_000 {
            assert!(full_jitter(Duration::from_millis(100)) <= Duration::from_millis(100));
        }
        assert_eq!(full_jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn gives_up_when_the_hint_exceeds_the_deadline() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let (closing, stats) = (Closing::new(), SharedStats::default());
        let start = Instant::now();
        let result = runtime.block_on(with_backoff(
            &budget(Duration::from_millis(300), &closing, &stats),
            || async {
                Err(Attempt {
                    message: "503".into(),
                    retry: Retry::After(Duration::from_secs(60)),
                })
            },
        ));
        assert!(result.unwrap_err().contains("gave up after 1 attempt"));
        assert!(start.elapsed() < Duration::from_millis(300));
        assert_eq!(retries(&stats), 0);
    }

    #[test]
    fn retries_transient_failures_until_success() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let (closing, stats) = (Closing::new(), SharedStats::default());
        let mut left = 3;
        let result = runtime.block_on(with_backoff(
            &budget(Duration::from_secs(10), &closing, &stats),
            || {
                left -= 1;
                let fail = left > 0;
                async move {
                    if fail {
                        Err(Attempt {
                            message: "refused".into(),
                            retry: Retry::Backoff,
                        })
                    } else {
                        Ok(())
                    }
                }
            },
        ));
        assert_eq!(result, Ok(()));
        assert_eq!(retries(&stats), 2);
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let (closing, stats) = (Closing::new(), SharedStats::default());
        let result = runtime.block_on(with_backoff(
            &budget(Duration::from_secs(10), &closing, &stats),
            || async {
                Err(Attempt {
                    message: "HTTP 400".into(),
                    retry: Retry::Never,
                })
            },
        ));
        assert_eq!(result, Err("HTTP 400".to_owned()));
        assert_eq!(retries(&stats), 0);
    }

    #[test]
    fn shutdown_stops_retrying_an_unreachable_endpoint() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let (closing, stats) = (Closing::new(), SharedStats::default());
        let closing = Arc::new(closing);
        let budget = budget(Duration::from_secs(30), &closing, &stats);
        let start = Instant::now();
        let result = runtime.block_on(async {
            let raise = closing.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                raise.close();
            });
            with_backoff(&budget, || async {
                Err(Attempt {
                    message: "connection refused".into(),
                    retry: Retry::Unreachable,
                })
            })
            .await
        });
        let took = start.elapsed();
        assert!(
            result.unwrap_err().contains("nobody there at shutdown"),
            "{took:?}"
        );
        // Retried with backoff until the shutdown, then given up at once (not after the 30 s budget).
        assert!(took < Duration::from_secs(3), "{took:?}");
        // At shutdown a refused connection is not retried at all.
        let result = runtime.block_on(with_backoff(&budget, || async {
            Err(Attempt {
                message: "connection refused".into(),
                retry: Retry::Unreachable,
            })
        }));
        assert!(result.unwrap_err().contains("gave up after 1 attempt"));
    }
}
