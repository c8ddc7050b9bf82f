//! The normalized text rendering of a capture: stable across runs, for snapshots.

use std::fmt::Write as _;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, KeyValue, Value};

use super::captured::{Captured, CapturedSpan};

/// Attributes that change from run to run, or with the layout of the source: left out.
fn volatile(key: &str) -> bool {
    matches!(
        key,
        "duration_ms" | "code.line.number" | "code.column.number"
    ) || key.starts_with("thread.")
}

impl Captured {
    /// The spans as a normalized text tree, stable across runs, for snapshot tests: names, kinds, error statuses,
    /// attributes sorted by key, events; no ids, no times, and none of the attributes that change from run to run
    /// or with the source layout (`duration_ms`, `code.line.number`, `code.column.number`, `thread.*`).
    ///
    /// ```text
    /// process_event [consumer] ERROR "action audit failed"
    /// ├─ load_checkpoint
    /// └─ execute_actions ERROR
    /// ```
    pub fn tree(&self) -> String {
        let mut out = String::new();
        for root in self.roots() {
            span(&mut out, root, "", "");
        }
        out
    }
}

/// One span and its subtree: `head` before the span's own line, `body` before the lines under it.
fn span(out: &mut String, span: CapturedSpan<'_>, head: &str, body: &str) {
    out.push_str(head);
    out.push_str(span.name());
    match span.kind() {
        SpanKind::Internal => {}
        kind => {
            let _ = write!(out, " [{}]", kind_name(kind));
        }
    }
    match span.status() {
        Status::Error { description } if description.is_empty() => out.push_str(" ERROR"),
        Status::Error { description } => {
            let _ = write!(out, " ERROR {description:?}");
        }
        Status::Ok => out.push_str(" OK"),
        Status::Unset => {}
    }
    out.push('\n');
    let children = span.children();
    let detail = if children.is_empty() {
        format!("{body}   ")
    } else {
        format!("{body}│  ")
    };
    for line in attributes(span.attributes()) {
        let _ = writeln!(out, "{detail}· {line}");
    }
    for event in span.events() {
        let _ = write!(out, "{detail}◆ {}", event.name);
        for line in attributes(&event.attributes) {
            let _ = write!(out, " {line}");
        }
        out.push('\n');
    }
    let last = children.len().saturating_sub(1);
    for (i, child) in children.into_iter().enumerate() {
        if i == last {
            self::span(out, child, &format!("{body}└─ "), &format!("{body}   "));
        } else {
            self::span(out, child, &format!("{body}├─ "), &format!("{body}│  "));
        }
    }
}

/// `key = value` for every stable attribute, sorted by key.
fn attributes(attributes: &[KeyValue]) -> Vec<String> {
    let mut lines: Vec<String> = attributes
        .iter()
        .filter(|kv| !volatile(kv.key.as_str()))
        .map(|kv| format!("{}={}", kv.key.as_str(), value(&kv.value)))
        .collect();
    lines.sort();
    lines
}

fn value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{:?}", s.as_str()),
        Value::Array(Array::String(items)) => {
            let items: Vec<String> = items.iter().map(|s| format!("{:?}", s.as_str())).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}
