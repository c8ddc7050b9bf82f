//! Rendering of one trace, or a part of one, as a waterfall: the span tree on the left, one bar per span on a
//! time axis shared by all the spans printed together, key attributes on the right.
//!
//! Widths are counted in `char`s, which is right for the glyphs used here and for most span names; East Asian
//! wide characters in names will shift their own line.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;

use crate::export::log_record::LogRecord;

/// Width of the time axis, in terminal cells.
pub(crate) const BAR_WIDTH: usize = 40;
/// The widest the tree-and-name column gets; longer names are cut so that the bars stay aligned.
const NAME_WIDTH_MAX: usize = 48;
/// Tree levels that get their own indentation; deeper spans are drawn at the deepest one, so a recursion thousands
/// of levels deep costs linear, not quadratic, output.
const INDENT_LEVELS_MAX: usize = 12;
/// Attributes outside the key list shown per span; the rest are counted.
const USER_ATTRIBUTES_MAX: usize = 3;
/// Longest attribute value shown.
const VALUE_CHARS_MAX: usize = 32;
/// Longest error description or exception message shown.
const MESSAGE_CHARS_MAX: usize = 96;

/// Attributes worth a glance, in display order, each under a short label. A label lists the current semantic
/// convention key first and older spellings after it; the first one present is shown.
const KEY_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("method", &["http.request.method", "http.method"]),
    ("route", &["http.route"]),
    ("status", &["http.response.status_code", "http.status_code"]),
    ("rpc", &["rpc.method"]),
    ("db", &["db.system.name", "db.system"]),
    ("messaging", &["messaging.system"]),
    ("error.type", &["error.type"]),
];

/// Attributes that instrumentation adds to every span and that say nothing about this one.
fn is_noise(key: &str) -> bool {
    const PREFIXES: &[&str] = &["code.", "thread.", "otel."];
    const KEYS: &[&str] = &["duration_ms", "busy_ns", "idle_ns", "target", "level"];
    PREFIXES.iter().any(|p| key.starts_with(p)) || KEYS.contains(&key)
}

/// What the printed spans are, said in the header when they are not a whole trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Completeness {
    /// A root span that ended, and everything below it.
    Complete,
    /// Spans that ended after their parent was printed, such as a task that outlived the request.
    Continued,
    /// Spans printed before their root ended: on flush, on shutdown, or because the buffer was full.
    Incomplete,
}

/// Renders `spans` (all of one trace) as a header line, one line per span in tree order, one line per exception
/// event and per log record of the span under it, and a blank line. ANSI colours only when `colour` is set.
pub(crate) fn render(
    spans: &[SpanData],
    records: &[LogRecord],
    service: Option<&str>,
    completeness: Completeness,
    colour: bool,
) -> String {
    let Some(first) = spans.first() else {
        return String::new();
    };
    let axis = Axis::of(spans);
    let mut rows = Vec::with_capacity(spans.len());
    for node in tree_order(spans) {
        let span = &spans[node.index];
        rows.push(span_row(span, node.prefix, &axis));
        let exceptions = span.events.iter().filter(|e| e.name == "exception");
        for event in exceptions {
            let prefix = format!(
                "{}{}",
                node.child_prefix,
                if node.has_children { "│ " } else { "  " }
            );
            let mut details = Vec::new();
            let message = exception_summary(&event.attributes);
            if !message.is_empty() {
                details.push((Style::Red, message));
            }
            rows.push(Row {
                prefix,
                label: "◆ exception".to_owned(),
                error: false,
                is_event: true,
                duration: String::new(),
                bar: Bar::Marker(axis.cell(event.timestamp)),
                details,
            });
        }
        let has_exception = span.events.iter().any(|e| e.name == "exception");
        let prefix = format!(
            "{}{}",
            node.child_prefix,
            if node.has_children { "│ " } else { "  " }
        );
        for record in records
            .iter()
            .filter(|r| r.span_id == span.span_context.span_id())
            // The error line of `#[traced]` says what the exception row above already says.
            .filter(|r| !(has_exception && r.is_error_line()))
        {
            rows.push(Row {
                prefix: prefix.clone(),
                label: format!("▪ {}", record.severity_text()),
                error: false,
                is_event: false,
                duration: String::new(),
                bar: Bar::Record(axis.cell(record.time)),
                details: record_details(record),
            });
        }
    }

    let name_width = rows
        .iter()
        .map(Row::name_width)
        .max()
        .unwrap_or(0)
        .min(NAME_WIDTH_MAX);
    let duration_width = rows
        .iter()
        .map(|r| r.duration.chars().count())
        .max()
        .unwrap_or(0);
    let painter = Painter { colour };
    let mut out = header(first, spans.len(), service, axis.total(), completeness).finish(&painter);
    for row in rows {
        out.push_str(&row.into_line(name_width, duration_width).finish(&painter));
    }
    out.push('\n');
    out
}

fn header(
    first: &SpanData,
    count: usize,
    service: Option<&str>,
    total: Duration,
    completeness: Completeness,
) -> Line {
    let mut text = format!("trace {:032x}", first.span_context.trace_id());
    if let Some(service) = service {
        text.push_str(" · ");
        text.push_str(&clean(service, VALUE_CHARS_MAX));
    }
    text.push_str(&format!(
        " · {} · {count} span{}",
        format_duration(total),
        if count == 1 { "" } else { "s" }
    ));
    let mut line = Line::default();
    line.push(Style::Bold, text);
    let note = match completeness {
        Completeness::Complete => None,
        Completeness::Continued => Some(" · continued: the parent span was printed earlier"),
        Completeness::Incomplete => Some(" · incomplete: the root span has not ended"),
    };
    if let Some(note) = note {
        line.push(Style::Yellow, note.to_owned());
    }
    line
}

/// A span's place in the tree: the glyphs before its name, and the glyphs its children and events continue from.
struct Node {
    index: usize,
    prefix: String,
    child_prefix: String,
    has_children: bool,
}

/// Depth-first order, children by start time. A span whose parent is not among `spans` (the root, or one whose
/// parent is not printed with it) starts a tree of its own; a span whose remote parent is among them (a hop
/// inside this process) is drawn under it.
fn tree_order(spans: &[SpanData]) -> Vec<Node> {
    let by_id: HashMap<SpanId, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_context.span_id(), i))
        .collect();
    let mut children = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        match by_id.get(&span.parent_span_id) {
            Some(&p) if p != i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    let by_start = |a: &usize, b: &usize| {
        spans[*a]
            .start_time
            .cmp(&spans[*b].start_time)
            .then(a.cmp(b))
    };
    roots.sort_by(by_start);
    for list in &mut children {
        list.sort_by(by_start);
    }

    let mut visited = vec![false; spans.len()];
    let mut order = Vec::with_capacity(spans.len());
    walk(&roots, &children, &mut visited, &mut order);
    // Spans in a parent cycle (bad ids) have no root; print them anyway rather than lose them.
    let mut unreached: Vec<usize> = (0..spans.len()).filter(|&i| !visited[i]).collect();
    unreached.sort_by(by_start);
    walk(&unreached, &children, &mut visited, &mut order);
    order
}

/// Iterative, so that a deep recursion in the traced program cannot overflow the stack here.
fn walk(roots: &[usize], children: &[Vec<usize>], visited: &mut [bool], order: &mut Vec<Node>) {
    for &root in roots {
        let mut stack = vec![(root, String::new(), String::new(), 0usize)];
        while let Some((index, prefix, child_prefix, depth)) = stack.pop() {
            if std::mem::replace(&mut visited[index], true) {
                continue;
            }
            let kids: Vec<usize> = children[index]
                .iter()
                .copied()
                .filter(|&k| !visited[k])
                .collect();
            for (n, &kid) in kids.iter().enumerate().rev() {
                let last = n + 1 == kids.len();
                let indent = depth < INDENT_LEVELS_MAX;
                let kid_prefix = format!("{child_prefix}{}", if last { "└─ " } else { "├─ " });
                let kid_child_prefix = if indent {
                    format!("{child_prefix}{}", if last { "   " } else { "│  " })
                } else {
                    child_prefix.clone()
                };
                stack.push((kid, kid_prefix, kid_child_prefix, depth + 1));
            }
            order.push(Node {
                index,
                prefix,
                child_prefix,
                has_children: !kids.is_empty(),
            });
        }
    }
}

/// The time axis: from the earliest start to the latest end of the spans printed together.
struct Axis {
    start: SystemTime,
    end: SystemTime,
}

impl Axis {
    fn of(spans: &[SpanData]) -> Self {
        let start = spans
            .iter()
            .map(|s| s.start_time)
            .min()
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let end = spans
            .iter()
            .map(|s| s.end_time)
            .max()
            .unwrap_or(start)
            .max(start);
        Axis { start, end }
    }

    fn total(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }

    fn offset(&self, at: SystemTime) -> u128 {
        at.duration_since(self.start)
            .unwrap_or_default()
            .as_nanos()
            .min(self.total().as_nanos())
    }

    /// The cells `[start, end)` a span covers: at least one, so that a very short span still shows where it ran.
    fn cells(&self, from: SystemTime, to: SystemTime) -> (usize, usize) {
        let total = self.total().as_nanos();
        if total == 0 {
            return (0, 1);
        }
        let width = BAR_WIDTH as u128;
        let (from, to) = (self.offset(from), self.offset(to).max(self.offset(from)));
        let start = ((from * width / total) as usize).min(BAR_WIDTH - 1);
        let end = (to * width).div_ceil(total) as usize;
        (start, end.clamp(start + 1, BAR_WIDTH))
    }

    fn cell(&self, at: SystemTime) -> usize {
        self.cells(at, at).0
    }
}

enum Bar {
    Span { start: usize, end: usize },
    Marker(usize),
    Record(usize),
}

struct Row {
    prefix: String,
    label: String,
    error: bool,
    is_event: bool,
    duration: String,
    bar: Bar,
    details: Vec<(Style, String)>,
}

fn span_row(span: &SpanData, prefix: String, axis: &Axis) -> Row {
    let (start, end) = axis.cells(span.start_time, span.end_time);
    Row {
        prefix,
        label: clean(&span.name, usize::MAX),
        error: matches!(span.status, Status::Error { .. }),
        is_event: false,
        duration: format_duration(
            span.end_time
                .duration_since(span.start_time)
                .unwrap_or_default(),
        ),
        bar: Bar::Span { start, end },
        details: span_details(span),
    }
}

impl Row {
    const ERROR_MARK: &'static str = " ✗";

    fn name_width(&self) -> usize {
        self.prefix.chars().count() + self.label.chars().count() + self.mark_width()
    }

    fn mark_width(&self) -> usize {
        if self.error {
            Self::ERROR_MARK.chars().count()
        } else {
            0
        }
    }

    fn into_line(self, name_width: usize, duration_width: usize) -> Line {
        let mut line = Line::default();
        let room = name_width
            .saturating_sub(self.prefix.chars().count() + self.mark_width())
            .max(1);
        let label = clean(&self.label, room);
        let used = self.prefix.chars().count() + label.chars().count() + self.mark_width();
        line.push(Style::Dim, self.prefix);
        line.push(
            if self.is_event {
                Style::Red
            } else {
                Style::Bold
            },
            label,
        );
        if self.error {
            line.push(Style::Red, Self::ERROR_MARK.to_owned());
        }
        line.push(
            Style::Plain,
            " ".repeat(name_width.saturating_sub(used) + 2),
        );
        line.push(
            Style::Plain,
            format!("{:>duration_width$}  ", self.duration),
        );
        match self.bar {
            Bar::Span { start, end } => {
                line.push(Style::Dim, "·".repeat(start));
                line.push(
                    if self.error { Style::Red } else { Style::Cyan },
                    "█".repeat(end - start),
                );
                line.push(Style::Dim, "·".repeat(BAR_WIDTH - end));
            }
            Bar::Marker(at) => {
                line.push(Style::Plain, " ".repeat(at));
                line.push(Style::Red, "◆".to_owned());
                line.push(Style::Plain, " ".repeat(BAR_WIDTH - at - 1));
            }
            Bar::Record(at) => {
                line.push(Style::Plain, " ".repeat(at));
                line.push(Style::Yellow, "▪".to_owned());
                line.push(Style::Plain, " ".repeat(BAR_WIDTH - at - 1));
            }
        }
        for (n, (style, text)) in self.details.into_iter().enumerate() {
            line.push(Style::Plain, if n == 0 { "  " } else { " " }.to_owned());
            line.push(style, text);
        }
        line
    }
}

/// A record's body and a few of its attributes (not the location and target every record has).
fn record_details(record: &LogRecord) -> Vec<(Style, String)> {
    let style = match record.level {
        tracing::Level::ERROR => Style::Red,
        tracing::Level::WARN => Style::Yellow,
        _ => Style::Plain,
    };
    let mut details = Vec::new();
    if let Some(body) = &record.body {
        details.push((style, clean(body, MESSAGE_CHARS_MAX)));
    }
    let mut user = record
        .attributes
        .iter()
        .filter(|kv| !is_noise(kv.key.as_str()) && !kv.key.as_str().starts_with("log."));
    for kv in user.by_ref().take(USER_ATTRIBUTES_MAX) {
        details.push((
            Style::Dim,
            format!(
                "{}={}",
                clean(kv.key.as_str(), VALUE_CHARS_MAX),
                value_text(&kv.value)
            ),
        ));
    }
    let more = user.count();
    if more > 0 {
        details.push((Style::Dim, format!("+{more}")));
    }
    details
}

/// A record printed on a line of its own: outside any trace, after its span was printed, or when no span is
/// printed at all.
pub(crate) fn record_line(record: &LogRecord, colour: bool) -> String {
    let mut line = Line::default();
    line.push(Style::Yellow, format!("▪ {}", record.severity_text()));
    let target = record.attribute("log.target").map(|t| t.as_str());
    if let Some(target) = target {
        line.push(Style::Dim, format!(" {}:", clean(&target, VALUE_CHARS_MAX)));
    }
    for (style, text) in record_details(record) {
        line.push(Style::Plain, " ".to_owned());
        line.push(style, text);
    }
    if record.trace_id != opentelemetry::trace::TraceId::INVALID {
        line.push(
            Style::Dim,
            format!(
                " trace {:032x} span {:016x}",
                record.trace_id, record.span_id
            ),
        );
    }
    line.finish(&Painter { colour })
}

/// Kind, error description, key attributes, a few user attributes, then counts of what was left out.
fn span_details(span: &SpanData) -> Vec<(Style, String)> {
    let mut details = Vec::new();
    let kind = match span.span_kind {
        SpanKind::Client => Some("client"),
        SpanKind::Server => Some("server"),
        SpanKind::Producer => Some("producer"),
        SpanKind::Consumer => Some("consumer"),
        SpanKind::Internal => None,
    };
    if let Some(kind) = kind {
        details.push((Style::Yellow, kind.to_owned()));
    }
    if let Status::Error { description } = &span.status {
        if !description.is_empty() {
            details.push((Style::Red, clean(description, MESSAGE_CHARS_MAX)));
        }
    }
    let find = |key: &str| span.attributes.iter().find(|kv| kv.key.as_str() == key);
    for (label, keys) in KEY_ATTRIBUTES {
        if let Some(kv) = keys.iter().find_map(|key| find(key)) {
            let style = if *label == "error.type" {
                Style::Red
            } else {
                Style::Plain
            };
            details.push((style, format!("{label}={}", value_text(&kv.value))));
        }
    }
    let is_key = |key: &str| KEY_ATTRIBUTES.iter().any(|(_, keys)| keys.contains(&key));
    let mut user = span
        .attributes
        .iter()
        .filter(|kv| !is_key(kv.key.as_str()) && !is_noise(kv.key.as_str()));
    for kv in user.by_ref().take(USER_ATTRIBUTES_MAX) {
        details.push((
            Style::Plain,
            format!(
                "{}={}",
                clean(kv.key.as_str(), VALUE_CHARS_MAX),
                value_text(&kv.value)
            ),
        ));
    }
    let more = user.count();
    if more > 0 {
        details.push((
            Style::Dim,
            format!("+{more} attr{}", if more == 1 { "" } else { "s" }),
        ));
    }
    let events = span.events.iter().filter(|e| e.name != "exception").count();
    if events > 0 {
        details.push((
            Style::Dim,
            format!("+{events} event{}", if events == 1 { "" } else { "s" }),
        ));
    }
    details
}

/// `Type: message` from the semantic-convention attributes of an `exception` event.
fn exception_summary(attributes: &[opentelemetry::KeyValue]) -> String {
    let get = |key: &str| {
        attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str())
    };
    let text = match (get("exception.type"), get("exception.message")) {
        (Some(kind), Some(message)) => format!("{kind}: {message}"),
        (Some(only), None) | (None, Some(only)) => only.into_owned(),
        (None, None) => String::new(),
    };
    clean(&text, MESSAGE_CHARS_MAX)
}

/// A value on one line, cut to [`VALUE_CHARS_MAX`], quoted when it has spaces so that `k=v` pairs stay readable.
fn value_text(value: &Value) -> String {
    let text = clean(&value.as_str(), VALUE_CHARS_MAX);
    if matches!(value, Value::String(_)) && (text.is_empty() || text.contains(' ')) {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// Replaces control characters with spaces, so that a newline or an escape sequence in a name or an attribute
/// cannot break the layout or drive the terminal, and cuts to `max` characters with an ellipsis.
fn clean(text: &str, max: usize) -> String {
    let mut chars = text.chars().map(|c| if c.is_control() { ' ' } else { c });
    let mut out: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        out.pop();
        out.push('…');
    }
    out
}

/// Three significant digits in the largest unit that keeps the number at least 1: `850ns`, `12.3µs`, `1.20ms`,
/// `340ms`, `2.50s`; minutes and hours past a minute.
pub(crate) fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    // The thresholds sit where rounding to three digits would print 1000 of the smaller unit.
    if nanos < 1_000 {
        format!("{nanos}ns")
    } else if nanos < 999_500 {
        format!("{}µs", three_digits(nanos as f64 / 1e3))
    } else if nanos < 999_500_000 {
        format!("{}ms", three_digits(nanos as f64 / 1e6))
    } else if nanos < 59_950_000_000 {
        format!("{}s", three_digits(nanos as f64 / 1e9))
    } else {
        let seconds = (nanos + 500_000_000) / 1_000_000_000;
        if seconds < 3_600 {
            format!("{}m{:02}s", seconds / 60, seconds % 60)
        } else {
            let minutes = (seconds + 30) / 60;
            format!("{}h{:02}m", minutes / 60, minutes % 60)
        }
    }
}

fn three_digits(value: f64) -> String {
    if value < 9.995 {
        format!("{value:.2}")
    } else if value < 99.95 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Bold,
    Dim,
    Red,
    Cyan,
    Yellow,
}

impl Style {
    fn sgr(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Bold => "\x1b[1m",
            Style::Dim => "\x1b[2m",
            Style::Red => "\x1b[31m",
            Style::Cyan => "\x1b[36m",
            Style::Yellow => "\x1b[33m",
        }
    }
}

struct Painter {
    colour: bool,
}

/// A line as styled pieces, so that widths are computed on the text alone and colour is added at the very end.
#[derive(Default)]
struct Line {
    pieces: Vec<(Style, String)>,
}

impl Line {
    fn push(&mut self, style: Style, text: String) {
        if !text.is_empty() {
            self.pieces.push((style, text));
        }
    }

    /// The line with its trailing spaces removed and a newline added.
    fn finish(mut self, painter: &Painter) -> String {
        while let Some((_, text)) = self.pieces.last_mut() {
            let kept = text.trim_end_matches(' ').len();
            text.truncate(kept);
            if !text.is_empty() {
                break;
            }
            self.pieces.pop();
        }
        let mut out = String::new();
        for (style, text) in self.pieces {
            if painter.colour && style != Style::Plain {
                out.push_str(style.sgr());
                out.push_str(&text);
                out.push_str("\x1b[0m");
            } else {
                out.push_str(&text);
            }
        }
        out.push('\n');
        out
    }
}
