//! The log lines the span subscriber prints: the compact and the JSON format, each event one line on stderr (the
//! pretty format is tracing-subscriber's own, over the registry).
//!
//! Under the registry, the fmt layer wrote every span's fields as text into a `String` of its own in the span's
//! extensions, allocated and formatted for each span whether a line ever shows it: with the compact format, about
//! 4,300 instructions a span (S4 under callgrind: 13,398 a iteration, against 4,775 without a log format; see
//! docs/performance.md, Phase 12). Here the text goes into the span's slot, whose room is kept from span to span,
//! and a value that needs no escape is copied as it is.

use std::cell::RefCell;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

use tracing::field::Visit;
use tracing::Event;
use tracing_subscriber::fmt::MakeWriter;

use super::{compact, json};
use crate::config::LogFormat;
use crate::traces::span_layer::DebugTexts;
use crate::traces::span_subscriber::{LineScope, LogLines};

/// A thread's line buffer longer than this is freed after its line rather than kept.
const LINE_KEPT: usize = 4096;

thread_local! {
    /// The line being written on this thread: one write to the writer per line, so lines never interleave.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Lines of one format, written by `writer`.
pub(crate) struct Lines<W> {
    format: LogFormat,
    ansi: bool,
    writer: W,
}

impl Lines<fn() -> std::io::Stderr> {
    /// The lines of `format` on stderr, coloured on a terminal, as the span subscriber takes them; `None` for the
    /// formats it does not print (pretty, none).
    pub(crate) fn stderr(format: LogFormat) -> Option<Box<dyn LogLines>> {
        let ansi = format == LogFormat::Compact && std::io::stderr().is_terminal();
        let lines = Lines::new(format, ansi, std::io::stderr as fn() -> std::io::Stderr)?;
        Some(Box::new(lines))
    }
}

impl<W> Lines<W> {
    /// The lines of `format` (compact or JSON; `None` for the others), written by `writer`.
    pub(crate) fn new(format: LogFormat, ansi: bool, writer: W) -> Option<Self> {
        matches!(format, LogFormat::Compact | LogFormat::Json).then_some(Lines {
            format,
            ansi,
            writer,
        })
    }
}

impl<W> Lines<W>
where
    W: for<'w> MakeWriter<'w>,
{
    fn write(&self, line: &mut String, event: &Event<'_>, scope: Option<&dyn LineScope>) {
        line.clear();
        // The event's values are the application's code: a panic in them loses the line, not the caller.
        let written = catch_unwind(AssertUnwindSafe(|| match self.format {
            LogFormat::Json => json::line(line, event, scope),
            _ => compact::line(line, event, scope, self.ansi),
        }))
        .unwrap_or(Err(fmt::Error));
        if written.is_ok() {
            let _ = self
                .writer
                .make_writer_for(event.metadata())
                .write_all(line.as_bytes());
        }
        if line.capacity() > LINE_KEPT {
            *line = String::new();
        }
    }
}

impl<W> LogLines for Lines<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync,
{
    fn keeps_fields(&self) -> bool {
        // The JSON line names the event's span, not its fields.
        self.format == LogFormat::Compact
    }

    fn add_fields(
        &self,
        text: &mut String,
        debug: Option<&mut DebugTexts>,
        skip: usize,
        record: &dyn Fn(&mut dyn Visit),
    ) {
        record(&mut compact::SeparatedFields { text, debug, skip });
    }

    fn print(&self, event: &Event<'_>, scope: Option<&dyn LineScope>) {
        let _ = LINE.try_with(|line| match line.try_borrow_mut() {
            Ok(mut line) => self.write(&mut line, event, scope),
            // An event made while this thread writes a line (by a value's `Debug`).
            Err(_) => self.write(&mut String::new(), event, scope),
        });
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};

    use super::*;
    use crate::config::Config;
    use crate::test_writer::SharedWriter;

    /// What `body` prints in `format` under the whole subscriber `Config::dispatch` builds.
    fn lines_of(format: LogFormat, body: impl FnOnce()) -> String {
        run(format, body).0
    }

    /// What `body` prints in `format` and the spans it exports, under the whole subscriber.
    fn run(format: LogFormat, body: impl FnOnce()) -> (String, Vec<SpanData>) {
        let shared = SharedWriter::default();
        let writer = shared.clone();
        let lines = Lines::new(format, false, move || writer.clone()).expect("a line format");
        let exporter = InMemorySpanExporter::default();
        let config = Config::builder()
            .without_env()
            .with_exporters([])
            .with_logs_exporters([])
            .with_span_exporter(exporter.clone())
            .with_log_format(format)
            .build()
            .unwrap();
        let (dispatch, guard) = config.dispatch_with_lines(Box::new(lines)).unwrap();
        tracing::dispatcher::with_default(&dispatch, body);
        drop(dispatch);
        guard.force_flush().unwrap();
        (shared.take(), exporter.get_finished_spans().unwrap())
    }

    /// The lines, each without its timestamp and level.
    fn bodies(text: &str) -> Vec<&str> {
        text.lines()
            .map(|line| {
                let (_time, rest) = line.split_once(' ').unwrap_or_default();
                let (_level, rest) = rest.trim_start().split_once(' ').unwrap_or_default();
                rest
            })
            .collect()
    }

    #[test]
    fn the_pipelines_own_targets_are_printed_not_exported() {
        let (text, spans) = run(LogFormat::Compact, || {
            let app = tracing::info_span!("app");
            let _app = app.enter();
            let stream = tracing::info_span!(target: "h2", "stream", id = 3);
            let _stream = stream.enter();
            tracing::info!(target: "h2::codec", "frame");
            tracing::info!(target: "app", "served");
        });
        assert_eq!(
            bodies(&text),
            [
                "app:stream: h2::codec: frame id=3",
                "app:stream: app: served id=3"
            ]
        );
        assert_eq!(spans.len(), 1, "{spans:#?}");
        assert_eq!(spans[0].name, "app");
        let events: Vec<_> = spans[0].events.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(events, ["served"]);
    }

    #[test]
    fn a_slots_next_span_starts_without_the_last_ones_fields() {
        let text = lines_of(LogFormat::Compact, || {
            for n in 0..3 {
                let span = if n == 0 {
                    tracing::info_span!("first", secret = "kept?")
                } else {
                    tracing::info_span!("next")
                };
                span.in_scope(|| tracing::info!("in"));
            }
        });
        assert_eq!(
            bodies(&text),
            [
                "first: traced_runtime::subscriber::lines::tests: in secret=\"kept?\"",
                "next: traced_runtime::subscriber::lines::tests: in",
                "next: traced_runtime::subscriber::lines::tests: in",
            ]
        );
    }

    struct Hostile;

    impl std::fmt::Debug for Hostile {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("hostile Debug")
        }
    }

    /// Logs from inside its `Debug`, on the span being recorded.
    struct Chatty;

    impl std::fmt::Debug for Chatty {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            tracing::info!("from debug");
            f.write_str("chatty")
        }
    }

    #[test]
    fn values_that_panic_or_log_in_debug_cost_no_line_and_no_caller() {
        let text = lines_of(LogFormat::Compact, || {
            let span = tracing::info_span!("work", bad = ?Hostile, late = tracing::field::Empty);
            let _entered = span.enter();
            span.record("late", tracing::field::debug(&Chatty));
            tracing::info!(worse = ?Hostile, "after");
        });
        let bodies = bodies(&text);
        assert_eq!(
            bodies,
            [
                // Made while the span's slot was locked: printed without its spans. Once: the span's attribute
                // takes the text's `Debug` value.
                "traced_runtime::subscriber::lines::tests: from debug",
                "work: traced_runtime::subscriber::lines::tests: after worse=<Debug panicked> \
                 bad=<Debug panicked> late=chatty",
            ]
        );
    }

    /// Counts the runs of its `Debug`.
    struct Counted<'a>(&'a std::sync::atomic::AtomicUsize, &'static str);

    impl std::fmt::Debug for Counted<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            write!(f, "Counted({:?})", self.1)
        }
    }

    #[test]
    fn a_values_debug_runs_once_for_the_line_and_the_span() {
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let (text, spans) = run(LogFormat::Compact, || {
            let span = tracing::info_span!(
                "work",
                n = 1,
                order = ?Counted(&runs, "first"),
                late = tracing::field::Empty
            );
            let _entered = span.enter();
            span.record("late", tracing::field::debug(Counted(&runs, "second")));
            tracing::info!("done");
        });
        assert_eq!(runs.load(std::sync::atomic::Ordering::Relaxed), 2);
        assert_eq!(
            bodies(&text),
            ["work: traced_runtime::subscriber::lines::tests: done n=1 \
              order=Counted(\"first\") late=Counted(\"second\")"]
        );
        assert_eq!(spans.len(), 1, "{spans:#?}");
        let value = |key: &str| {
            spans[0]
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(value("n").as_deref(), Some("1"));
        assert_eq!(value("order").as_deref(), Some("Counted(\"first\")"));
        assert_eq!(value("late").as_deref(), Some("Counted(\"second\")"));
    }

    #[test]
    fn every_key_is_printed_once_with_the_innermost_value() {
        let text = lines_of(LogFormat::Compact, || {
            let outer =
                tracing::info_span!("outer", code.function.name = "app::outer", route = "/x");
            let _outer = outer.enter();
            let inner = tracing::info_span!("inner", code.function.name = "app::inner", n = 1);
            let _inner = inner.enter();
            inner.record("n", 2);
            tracing::warn!(n = 3, note = "a=b c", "it {} broke", "really");
        });
        let line = text.lines().next().unwrap();
        let rest = line.split_once(" WARN ").unwrap().1;
        assert_eq!(
            rest,
            "outer:inner: traced_runtime::subscriber::lines::tests: it really broke n=3 \
             note=\"a=b c\" code.function.name=\"app::inner\" route=\"/x\""
        );
    }

    #[test]
    fn a_line_carries_its_spans_ids() {
        let text = lines_of(LogFormat::Json, || {
            let span = tracing::info_span!("checkout", route = "/x");
            let _entered = span.enter();
            tracing::info!(amount = 3, "paid");
        });
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["message"], "paid");
        assert_eq!(line["fields"]["amount"], 3);
        assert_eq!(line["span"], "checkout");
        assert_eq!(line["trace_id"].as_str().map(str::len), Some(32), "{line}");
        assert_eq!(line["span_id"].as_str().map(str::len), Some(16), "{line}");
    }
}
