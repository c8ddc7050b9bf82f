//! What every logs exporter gets, done once per batch on the export thread: no empty keys, the attribute count
//! limit, secrets redacted (in the body's free text too), values and the body cut to the length limit.

use opentelemetry::{Array, StringValue, Value};

use crate::export::log_record::LogRecord;
use crate::redact::Redactor;

/// The preparation of one pipeline's log records.
#[derive(Debug)]
pub(super) struct Prepare {
    /// `OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT`.
    pub(super) attribute_count: usize,
    /// `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
    pub(super) value_length_limit: Option<usize>,
    /// `None` when redaction is off.
    pub(super) redactor: Option<Redactor>,
}

impl Prepare {
    /// Prepares a batch in place.
    pub(super) fn batch(&mut self, batch: &mut [LogRecord]) {
        for record in batch.iter_mut() {
            let before = record.attributes.len();
            record.attributes.retain(|kv| !kv.key.as_str().is_empty());
            // The location and the target come first, so the limit keeps them and drops the last fields.
            record.attributes.truncate(self.attribute_count);
            record.dropped_attributes +=
                u32::try_from(before - record.attributes.len()).unwrap_or(u32::MAX);
            if let Some(redactor) = &mut self.redactor {
                redactor.redact(&mut record.attributes);
                // A message says `password=...` as often as a span event does.
                if let Some(redacted) = record.body.as_deref().and_then(|b| redactor.redact_text(b))
                {
                    record.body = Some(redacted);
                }
            }
            if let Some(limit) = self.value_length_limit {
                for kv in record.attributes.iter_mut() {
                    truncate(&mut kv.value, limit);
                }
                // Every exported string obeys the limit (issue 19.1): a 5 MB message is no exception.
                if let Some(body) = &mut record.body {
                    if let Some(end) = crate::config::char_boundary(body, limit) {
                        body.truncate(end);
                    }
                }
            }
        }
    }
}

/// Strings (alone or in arrays) cut to `limit` characters.
fn truncate(value: &mut Value, limit: usize) {
    let cut = |s: &mut StringValue| {
        if let Some((index, _)) = s.as_str().char_indices().nth(limit) {
            *s = StringValue::from(s.as_str()[..index].to_owned());
        }
    };
    match value {
        Value::String(s) => cut(s),
        Value::Array(Array::String(items)) => items.iter_mut().for_each(cut),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::SystemTime;

    use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
    use opentelemetry::KeyValue;

    use super::*;

    #[test]
    fn limits_and_redaction_apply_to_records() {
        let mut record = LogRecord {
            time: SystemTime::now(),
            level: tracing::Level::INFO,
            body: Some("login with password=hunter2".into()),
            attributes: vec![
                KeyValue::new("code.file.path", "src/main.rs"),
                KeyValue::new("", "no key"),
                KeyValue::new("user.password", "hunter2"),
                KeyValue::new("note", "héllo wörld"),
                KeyValue::new("dropped", 1_i64),
            ],
            dropped_attributes: 0,
            trace_id: TraceId::INVALID,
            span_id: SpanId::INVALID,
            flags: TraceFlags::default(),
            scope: Cow::Borrowed("app"),
        };
        let mut prepare = Prepare {
            attribute_count: 3,
            value_length_limit: Some(4),
            redactor: Some(Redactor::new(&[])),
        };
        prepare.batch(std::slice::from_mut(&mut record));
        let keys: Vec<&str> = record.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["code.file.path", "user.password", "note"]);
        assert_eq!(record.dropped_attributes, 2);
        // Redacted, then cut like any value.
        assert_eq!(record.attributes[1].value.as_str(), "[RED");
        assert_eq!(record.attributes[2].value.as_str(), "héll");
        // The body: its secret redacted, then cut.
        assert_eq!(record.body.as_deref(), Some("logi"));
        let mut record = LogRecord {
            body: Some("login with password=hunter2".into()),
            ..record
        };
        prepare.value_length_limit = None;
        prepare.batch(std::slice::from_mut(&mut record));
        assert_eq!(
            record.body.as_deref(),
            Some("login with password=[REDACTED]")
        );
    }
}
