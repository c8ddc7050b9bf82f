//! The compact stderr line (`TRACED_LOG_FORMAT=compact`, the default), each field printed once.
//!
//! tracing-subscriber's compact format appends the fields of every enclosing span to the line: under three nested
//! `#[traced]` fns, `code.function.name` and `code.file.path` appeared three times on one line. Here a key is
//! printed once: the event's own value, else the innermost span's.
//!
//! ```text
//! 2025-01-01T12:00:00.000000Z ERROR checkout:charge: traced: card declined exception.type="CardDeclined" code.function.name="shop::charge" amount=1940 http.route="/checkout"
//! ```

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Before each field in the stored text: `key=value`.
const FIELD: char = '\u{1e}';
/// Before the message, which has no key.
const MESSAGE: char = '\u{1f}';

/// The event format; see the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CompactFormat;

/// The field format: each field after a separator, so that the line can tell keys apart (spans' fields are
/// stored in this form by the fmt layer, and split again here).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SeparatedFields;

impl<'writer> FormatFields<'writer> for SeparatedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Separated {
            writer,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        self.format_fields(current.as_writer(), fields)
    }
}

struct Separated<'w> {
    writer: Writer<'w>,
    result: fmt::Result,
}

impl Visit for Separated<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        self.result = if name == "message" {
            write!(self.writer, "{MESSAGE}{value:?}")
        } else if name.starts_with("log.") {
            // What tracing-log adds for a `log` record: already the line's target and location.
            Ok(())
        } else {
            write!(self.writer, "{FIELD}{name}={value:?}")
        };
    }
}

/// The pieces of stored fields: the message (no key) and `(key, key=value)` pairs.
fn pieces(text: &str) -> impl Iterator<Item = (Option<&str>, &str)> {
    text.split([FIELD, MESSAGE])
        .zip(separators(text))
        .filter(|(piece, _)| !piece.is_empty())
        .map(|(piece, separator)| match separator {
            Some(FIELD) => (piece.split('=').next(), piece),
            _ => (None, piece),
        })
}

/// The separator before each piece `split` yields (`None` before the first).
fn separators(text: &str) -> impl Iterator<Item = Option<char>> + '_ {
    std::iter::once(None).chain(
        text.chars()
            .filter(|c| *c == FIELD || *c == MESSAGE)
            .map(Some),
    )
}

impl<S> FormatEvent<S, SeparatedFields> for CompactFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, SeparatedFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let ansi = writer.has_ansi_escapes();
        let paint = |code: &str, text: &str| {
            if ansi {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_owned()
            }
        };
        SystemTime.format_time(&mut writer)?;
        let (code, name) = match *meta.level() {
            Level::TRACE => ("35", "TRACE"),
            Level::DEBUG => ("34", "DEBUG"),
            Level::INFO => ("32", " INFO"),
            Level::WARN => ("33", " WARN"),
            Level::ERROR => ("31", "ERROR"),
        };
        write!(writer, " {} ", paint(code, name))?;
        let scope: Vec<_> = ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
            .collect();
        for span in &scope {
            write!(writer, "{}:", paint("1", span.name()))?;
        }
        if !scope.is_empty() {
            writer.write_char(' ')?;
        }
        write!(writer, "{} ", paint("2", &format!("{}:", meta.target())))?;

        let mut own = String::new();
        SeparatedFields.format_fields(Writer::new(&mut own), event)?;
        let mut seen: Vec<String> = Vec::new();
        let mut first = true;
        let mut put = |writer: &mut Writer<'_>, text: &str, dim: bool| -> fmt::Result {
            if !first {
                writer.write_char(' ')?;
            }
            first = false;
            if dim {
                write!(writer, "{}", paint("2", text))
            } else {
                writer.write_str(text)
            }
        };
        for (key, piece) in pieces(&own) {
            if let Some(key) = key {
                seen.push(key.to_owned());
            }
            put(&mut writer, piece, false)?;
        }
        // Innermost span first: its value of a key is the one printed.
        for span in scope.iter().rev() {
            let extensions = span.extensions();
            let Some(fields) = extensions.get::<FormattedFields<SeparatedFields>>() else {
                continue;
            };
            for (key, piece) in pieces(&fields.fields) {
                let Some(key) = key else { continue };
                if seen.iter().any(|k| k == key) {
                    continue;
                }
                seen.push(key.to_owned());
                put(&mut writer, piece, true)?;
            }
        }
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_key_is_printed_once_with_the_innermost_value() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .fmt_fields(SeparatedFields)
                .event_format(CompactFormat),
        );
        tracing::subscriber::with_default(subscriber, || {
            let outer =
                tracing::info_span!("outer", code.function.name = "app::outer", route = "/x");
            let _outer = outer.enter();
            let inner = tracing::info_span!("inner", code.function.name = "app::inner", n = 1);
            let _inner = inner.enter();
            inner.record("n", 2);
            tracing::warn!(n = 3, note = "a=b c", "it {} broke", "really");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line = text.lines().next().unwrap();
        let rest = line.split_once(" WARN ").unwrap().1;
        assert_eq!(
            rest,
            "outer:inner: traced_runtime::subscriber::compact::tests: it really broke n=3 \
             note=\"a=b c\" code.function.name=\"app::inner\" route=\"/x\""
        );
    }
}
