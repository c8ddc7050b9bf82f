//! The compact stderr line (`TRACED_LOG_FORMAT=compact`, the default), each field printed once.
//!
//! tracing-subscriber's compact format appends the fields of every enclosing span to the line: under three nested
//! `#[traced]` fns, `code.function.name` and `code.file.path` appeared three times on one line. Here a key is
//! printed once: the event's own value, else the innermost span's.
//!
//! ```text
//! 2025-01-01T12:00:00.000000Z ERROR checkout:charge: traced: card declined exception.type="CardDeclined" code.function.name="shop::charge" amount=1940 http.route="/checkout"
//! ```
//!
//! A span's fields are kept as text in its slot of the span subscriber, written once when the span starts (and
//! when a field is recorded on it), each after a separator so that the line can tell keys apart.

use std::fmt::{self, Write};
use std::ops::Range;

use tracing::field::{Field, Visit};
use tracing::{Event, Level};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};

use traced_conventions::value::DEBUG_PANICKED;

use crate::logs::write_caught;
use crate::traces::span_layer::DebugTexts;
use crate::traces::span_subscriber::LineScope;

/// Before each field in the stored text: `key=value`.
const FIELD: char = '\u{1e}';
/// Before the message, which has no key.
const MESSAGE: char = '\u{1f}';

/// Writes visited fields to a text, each after its separator, as `Debug` shows their values (the message as
/// `Display`). What tracing-log adds for a `log` record (`log.*`, already the line's target and location) is left
/// out, and so are the fields before index `skip` (a site's `code.*` ones, written from its statics).
pub(super) struct SeparatedFields<'a> {
    pub(super) text: &'a mut String,
    /// Where each `Debug` value's text is written, for a span's attributes to take (`None` for an event's line).
    pub(super) debug: Option<&'a mut DebugTexts>,
    pub(super) skip: usize,
}

impl SeparatedFields<'_> {
    /// Writes `field=value`, the value as `Debug` shows it; returns where the value is in the text (`None` for
    /// a field left out).
    fn write_debug(&mut self, field: &Field, value: &dyn fmt::Debug) -> Option<Range<usize>> {
        if field.index() < self.skip {
            return None;
        }
        let name = field.name();
        if name == "message" {
            self.text.push(MESSAGE);
        } else if name.starts_with("log.") {
            return None;
        } else {
            self.text.push(FIELD);
            self.text.push_str(name);
            self.text.push('=');
        }
        // The application's `Debug`, caught: a panic here would take the caller down for a log line.
        Some(write_caught(
            self.text,
            format_args!("{value:?}"),
            DEBUG_PANICKED,
        ))
    }
}

impl Visit for SeparatedFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.index() < self.skip {
            return;
        }
        match field.name() {
            "message" => {
                self.text.push(MESSAGE);
                self.text.push_str(value);
            }
            name if name.starts_with("log.") => {}
            name => {
                self.text.push(FIELD);
                self.text.push_str(name);
                self.text.push('=');
                quoted(self.text, value);
            }
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.write_debug(field, &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.write_debug(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.write_debug(field, &value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.write_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if let (Some(range), Some(debug)) = (self.write_debug(field, value), self.debug.as_mut()) {
            debug.note(field, range);
        }
    }
}

/// `value` as `Debug` quotes it: copied as it is when no character needs an escape (nearly every value), which
/// `Debug`'s character by character walk costs several times more.
fn quoted(out: &mut String, value: &str) {
    let plain = value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain {
        out.reserve(value.len() + 2);
        out.push('"');
        out.push_str(value);
        out.push('"');
    } else {
        let _ = write!(out, "{value:?}");
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

/// Writes the line of `event`, inside the spans of `scope`, to `line`; `ansi` colours it.
pub(super) fn line(
    line: &mut String,
    event: &Event<'_>,
    scope: Option<&dyn LineScope>,
    ansi: bool,
) -> fmt::Result {
    let normalized = event.normalized_metadata();
    let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
    let paint = |line: &mut String, code: &str, text: &str| {
        if ansi {
            let _ = write!(line, "\x1b[{code}m{text}\x1b[0m");
        } else {
            line.push_str(text);
        }
    };
    SystemTime.format_time(&mut Writer::new(line))?;
    let (code, name) = match *meta.level() {
        Level::TRACE => ("35", "TRACE"),
        Level::DEBUG => ("34", "DEBUG"),
        Level::INFO => ("32", " INFO"),
        Level::WARN => ("33", " WARN"),
        Level::ERROR => ("31", "ERROR"),
    };
    line.push(' ');
    paint(line, code, name);
    line.push(' ');
    // Innermost first, as the slots are walked; the names are printed from the root.
    let mut spans: Vec<(&'static str, String)> = Vec::new();
    if let Some(scope) = scope {
        scope.spans(&mut |meta, fields| {
            spans.push((meta.name(), fields.to_owned()));
            true
        });
    }
    for (name, _) in spans.iter().rev() {
        paint(line, "1", name);
        line.push(':');
    }
    if !spans.is_empty() {
        line.push(' ');
    }
    paint(line, "2", &format!("{}:", meta.target()));
    line.push(' ');

    let mut own = String::new();
    event.record(&mut SeparatedFields {
        text: &mut own,
        debug: None,
        skip: 0,
    });
    let mut seen: Vec<&str> = Vec::new();
    let mut first = true;
    let mut put = |line: &mut String, text: &str, dim: bool| {
        if !first {
            line.push(' ');
        }
        first = false;
        if dim {
            paint(line, "2", text);
        } else {
            line.push_str(text);
        }
    };
    for (key, piece) in pieces(&own) {
        if let Some(key) = key {
            seen.push(key);
        }
        put(line, piece, false);
    }
    // Innermost span first: its value of a key is the one printed.
    for (_, fields) in &spans {
        for (key, piece) in pieces(fields) {
            let Some(key) = key else { continue };
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            put(line, piece, true);
        }
    }
    line.push('\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_as_debug_quotes_them() {
        for value in [
            "plain",
            "",
            "a \"quoted\" word",
            "back\\slash",
            "tab\there",
            "é",
            "\u{7f}",
        ] {
            let mut out = String::new();
            quoted(&mut out, value);
            assert_eq!(out, format!("{value:?}"), "{value:?}");
        }
    }
}
