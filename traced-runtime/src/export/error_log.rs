//! Export errors in the log, at most one line per interval: a dead collector must not flood the log with one line
//! per batch. The next line says how many were suppressed.

use std::time::{Duration, Instant};

use super::thread::LOG_TARGET;

/// At most one export error line per interval; the others are counted and reported with the next line.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The rate-limited error log of one signal's exports.
#[derive(Debug)]
pub(crate) struct ErrorLog {
    /// What failed to export, for the message: `span`, `metric`, `log record`.
    what: &'static str,
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl ErrorLog {
    /// The log for the exports of `what` (`"span"` gives `span export failed: ...`).
    pub(crate) fn new(what: &'static str) -> Self {
        ErrorLog {
            what,
            interval: ERROR_LOG_INTERVAL,
            last: None,
            suppressed: 0,
        }
    }

    /// Logs `message`, unless a line was logged less than an interval ago.
    pub(crate) fn report(&mut self, message: &str) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            self.suppressed += 1;
            return;
        }
        let what = self.what;
        if self.suppressed > 0 {
            tracing::warn!(
                target: LOG_TARGET,
                suppressed = self.suppressed,
                "{what} export failed: {message} ({} more failures since the last report)",
                self.suppressed
            );
        } else {
            tracing::warn!(target: LOG_TARGET, "{what} export failed: {message}");
        }
        self.last = Some(now);
        self.suppressed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_writer::SharedWriter;

    #[test]
    fn error_log_is_rate_limited_and_reports_the_suppressed_count() {
        let lines = SharedWriter::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let mut log = ErrorLog {
                interval: Duration::from_millis(100),
                ..ErrorLog::new("span")
            };
            log.report("a");
            log.report("b");
            log.report("c");
            std::thread::sleep(Duration::from_millis(120));
            log.report("d");
            log.report("e");
            assert_eq!(log.suppressed, 1);
        });
        let text = lines.take();
        let printed: Vec<&str> = text.lines().collect();
        assert_eq!(printed.len(), 2, "{text}");
        assert!(printed[0].contains("span export failed: a"), "{text}");
        assert!(
            printed[1].contains("span export failed: d (2 more failures since the last report)"),
            "{text}"
        );
    }
}
