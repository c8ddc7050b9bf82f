//! What every exporter gets, done once per batch on the export thread: no empty keys, every string cut to the
//! value-length limit, secrets redacted.
//!
//! "Every string" is every one that leaves the process: attribute values (span, event, link), the span's and
//! the events' names, the status description. A 5 MB error text in the status description alone made gRPC
//! requests over the collector's 4 MiB limit, and whole batches were lost.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use opentelemetry::trace::Status;
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;
use traced_conventions::layer::{TARGET, THREAD_ID, THREAD_NAME};
use traced_conventions::span::DURATION_MS;

use crate::config::char_boundary;
use crate::export::span::{CallsiteAttributes, ExportSpan, Origin};
use crate::redact::Redactor;

/// The preparation of one pipeline's spans.
#[derive(Debug)]
pub(super) struct Prepare {
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
    pub(super) value_length_limit: Option<usize>,
    /// `None` when redaction is off.
    pub(super) redactor: Option<Redactor>,
    /// By the address of a callsite's attributes: whether this preparation leaves them as they are.
    pub(super) callsites: ByAddress<bool>,
    /// The `'static` names (a `#[traced]` fn's, a route's, an event's) redaction leaves as they are, by address,
    /// with their length: scanned once, not per span.
    clean_names: ByAddress<usize>,
    /// Whether redaction leaves the values of the keys the layer gives as values (the [`Origin`]'s,
    /// `duration_ms`) as they are, once judged.
    layer_keys_kept: Option<bool>,
}

/// A map keyed by the address of a `'static` value.
pub(super) type ByAddress<V> = HashMap<usize, V, BuildHasherDefault<AddressHasher>>;

/// At most this many names kept in [`Prepare::clean_names`]: a program has a bounded number of `'static` names,
/// but nothing stops one from leaking a name per span.
const MAX_CLEAN_NAMES: usize = 4096;

impl Prepare {
    pub(super) fn new(value_length_limit: Option<usize>, redactor: Option<Redactor>) -> Self {
        Prepare {
            value_length_limit,
            redactor,
            callsites: HashMap::default(),
            clean_names: HashMap::default(),
            layer_keys_kept: None,
        }
    }

    /// Prepares a batch in place.
    pub(super) fn batch(&mut self, batch: &mut [ExportSpan]) {
        for span in batch {
            // A callsite's attributes and the origin's stay as they are unless this preparation would change
            // them (a configured word in a `code.*` key or in `target`, a limit shorter than a file path): then
            // the span gets its own copies.
            let callsite_changes = span
                .callsite
                .is_some_and(|(callsite, _)| !self.leaves_alone(callsite));
            let values_change = (span.origin.is_some() || span.duration_ms)
                && !self.leaves_layer_values_alone(span.origin.as_ref());
            if callsite_changes || values_change {
                span.materialize();
            }
            self.span(&mut span.data);
        }
    }

    /// The preparation of the attributes the layer gives as values (an origin's, `duration_ms`) changes
    /// nothing: redaction keeps their keys' values (judged once), and the origin's texts fit the length limit.
    fn leaves_layer_values_alone(&mut self, origin: Option<&Origin>) -> bool {
        let redactor = &mut self.redactor;
        let kept = *self.layer_keys_kept.get_or_insert_with(|| {
            redactor.as_mut().is_none_or(|redactor| {
                [THREAD_ID, THREAD_NAME, TARGET, DURATION_MS]
                    .into_iter()
                    .all(|key| redactor.keeps(&Key::from_static_str(key)))
            })
        });
        kept && self.value_length_limit.is_none_or(|limit| {
            origin.is_none_or(|origin| {
                origin
                    .thread_name
                    .into_iter()
                    .chain([origin.target])
                    .all(|text| char_boundary(text, limit).is_none())
            })
        })
    }

    /// Judged once per callsite: the preparation of its attributes, as a span would get it, changes nothing.
    fn leaves_alone(&mut self, callsite: &'static CallsiteAttributes) -> bool {
        let address = std::ptr::from_ref(callsite) as usize;
        if let Some(verdict) = self.callsites.get(&address) {
            return *verdict;
        }
        let mut probe = SpanData {
            attributes: callsite.attributes().to_vec(),
            ..empty_span()
        };
        self.span(&mut probe);
        let verdict = probe.attributes == callsite.attributes();
        self.callsites.insert(address, verdict);
        verdict
    }

    fn span(&mut self, span: &mut SpanData) {
        drop_empty_keys(span);
        // Cut first, so that the scan for secrets costs at most the limit per string; then cut again what a
        // redaction made longer (`k=v` becoming `k=[REDACTED]`).
        if let Some(limit) = self.value_length_limit {
            cut_span(span, limit);
        }
        if let Some(redactor) = &mut self.redactor {
            redact_span(redactor, &mut self.clean_names, span);
            if let Some(limit) = self.value_length_limit {
                cut_span(span, limit);
            }
        }
    }
}

/// A span with nothing in it, to prepare a list of attributes alone.
fn empty_span() -> SpanData {
    SpanData {
        span_context: opentelemetry::trace::SpanContext::empty_context(),
        parent_span_id: opentelemetry::trace::SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: opentelemetry::trace::SpanKind::Internal,
        name: Cow::Borrowed(""),
        start_time: std::time::SystemTime::UNIX_EPOCH,
        end_time: std::time::SystemTime::UNIX_EPOCH,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: Default::default(),
        links: Default::default(),
        status: Status::Unset,
        instrumentation_scope: Default::default(),
    }
}

/// Hashes an address: multiplied (the addresses of statics sit a few bytes apart), no SipHash rounds.
#[derive(Default)]
pub(super) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_usize(&mut self, address: usize) {
        self.0 = (address as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Attributes with an empty key are invalid (OTel common spec) and some backends reject the whole batch for
/// one: they are dropped and counted in the dropped-attributes counts. (The SDK already enforces the count
/// limits; it checks no key.)
fn drop_empty_keys(span: &mut SpanData) {
    fn retain(attributes: &mut Vec<KeyValue>) -> u32 {
        // Nearly always there is none: a scan, where `retain` alone moves through its bookkeeping per element.
        if !attributes.iter().any(|kv| kv.key.as_str().is_empty()) {
            return 0;
        }
        let before = attributes.len();
        attributes.retain(|kv| !kv.key.as_str().is_empty());
        (before - attributes.len()) as u32
    }
    span.dropped_attributes_count += retain(&mut span.attributes);
    for event in span.events.events.iter_mut() {
        event.dropped_attributes_count += retain(&mut event.attributes);
    }
    for link in span.links.links.iter_mut() {
        link.dropped_attributes_count += retain(&mut link.attributes);
    }
}

/// Secrets by key in every attribute list; secret pairs in the free text of names and the status description
/// (an event's name is its log message).
fn redact_span(redactor: &mut Redactor, clean_names: &mut ByAddress<usize>, span: &mut SpanData) {
    redactor.redact(&mut span.attributes);
    for event in span.events.events.iter_mut() {
        redactor.redact(&mut event.attributes);
        redact_text(redactor, clean_names, &mut event.name);
    }
    for link in span.links.links.iter_mut() {
        redactor.redact(&mut link.attributes);
    }
    redact_text(redactor, clean_names, &mut span.name);
    if let Status::Error { description } = &mut span.status {
        redact_text(redactor, clean_names, description);
    }
}

/// The secrets of `text` redacted; a `'static` text found clean once (a span's or an event's name: the same text
/// in every span) is not scanned again.
fn redact_text(
    redactor: &Redactor,
    clean_names: &mut ByAddress<usize>,
    text: &mut Cow<'static, str>,
) {
    let static_text = match *text {
        Cow::Borrowed(borrowed) => Some(borrowed),
        Cow::Owned(_) => None,
    };
    if let Some(borrowed) = static_text {
        if clean_names.get(&(borrowed.as_ptr() as usize)) == Some(&borrowed.len()) {
            return;
        }
    }
    match redactor.redact_text(text) {
        Some(redacted) => *text = Cow::Owned(redacted),
        None => {
            if let Some(borrowed) = static_text.filter(|_| clean_names.len() < MAX_CLEAN_NAMES) {
                clean_names.insert(borrowed.as_ptr() as usize, borrowed.len());
            }
        }
    }
}

/// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, which the Rust SDK does not apply: every string of the span (alone or
/// in arrays) cut to `limit` characters.
fn cut_span(span: &mut SpanData, limit: usize) {
    cut_attributes(&mut span.attributes, limit);
    for event in span.events.events.iter_mut() {
        cut_attributes(&mut event.attributes, limit);
        cut_cow(&mut event.name, limit);
    }
    for link in span.links.links.iter_mut() {
        cut_attributes(&mut link.attributes, limit);
    }
    cut_cow(&mut span.name, limit);
    if let Status::Error { description } = &mut span.status {
        cut_cow(description, limit);
    }
}

/// Cuts the string values of `attributes` to `limit` characters.
fn cut_attributes(attributes: &mut [KeyValue], limit: usize) {
    for kv in attributes {
        match &mut kv.value {
            Value::String(s) => truncate_string(s, limit),
            Value::Array(Array::String(items)) => {
                items.iter_mut().for_each(|s| truncate_string(s, limit))
            }
            _ => {}
        }
    }
}

fn truncate_string(s: &mut StringValue, limit: usize) {
    if let Some(cut) = char_boundary(s.as_str(), limit) {
        *s = StringValue::from(s.as_str()[..cut].to_owned());
    }
}

fn cut_cow(text: &mut Cow<'static, str>, limit: usize) {
    if let Some(cut) = char_boundary(text, limit) {
        match text {
            Cow::Owned(owned) => owned.truncate(cut),
            Cow::Borrowed(borrowed) => *borrowed = &borrowed[..cut],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::REDACTED;
    use opentelemetry::trace::{Event, SpanContext, SpanKind};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    fn span(name: &str, description: &str, event: &str, attributes: Vec<KeyValue>) -> SpanData {
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            event.to_owned(),
            SystemTime::now(),
            attributes.clone(),
            0,
        ));
        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.to_owned().into(),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes,
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status: Status::error(description.to_owned()),
            instrumentation_scope: Default::default(),
        }
    }

    fn description(span: &SpanData) -> &str {
        match &span.status {
            Status::Error { description } => description,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_keys_are_dropped_and_counted_the_others_kept_in_order() {
        let keys = |attributes: &[KeyValue]| {
            attributes
                .iter()
                .map(|kv| kv.key.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        let with_empty = vec![
            KeyValue::new("a", 1_i64),
            KeyValue::new("", 2_i64),
            KeyValue::new("b", 3_i64),
            KeyValue::new("", 4_i64),
        ];
        let mut batch = [
            ExportSpan::from(span("with", "", "e", with_empty)),
            ExportSpan::from(span("without", "", "e", vec![KeyValue::new("a", 1_i64)])),
        ];
        Prepare::new(None, None).batch(&mut batch);
        let [with, without] = &batch;
        assert_eq!(keys(&with.data.attributes), ["a", "b"]);
        assert_eq!(with.data.dropped_attributes_count, 2);
        let event = &with.data.events.events[0];
        assert_eq!(keys(&event.attributes), ["a", "b"]);
        assert_eq!(event.dropped_attributes_count, 2);
        assert_eq!(keys(&without.data.attributes), ["a"]);
        assert_eq!(without.data.dropped_attributes_count, 0);
    }

    #[test]
    fn every_string_obeys_the_length_limit() {
        let huge = "x".repeat(5 << 20);
        let batch = [span(
            &huge,
            &huge,
            &huge,
            vec![KeyValue::new("exception.message", huge.clone())],
        )];
        let mut prepare = Prepare::new(Some(4096), Some(Redactor::new(&[])));
        let mut batch = batch.map(ExportSpan::from);
        prepare.batch(&mut batch);
        let span = &batch[0].data;
        assert_eq!(span.name.len(), 4096);
        assert_eq!(description(span).len(), 4096);
        assert_eq!(span.events.events[0].name.len(), 4096);
        assert_eq!(span.attributes[0].value.as_str().len(), 4096);
        assert_eq!(
            span.events.events[0].attributes[0].value.as_str().len(),
            4096
        );
    }

    #[test]
    fn secrets_in_free_text_are_redacted_and_still_cut() {
        let batch = [span(
            "checkout",
            "login failed: password=hunter2",
            "retrying with token=t0k3n",
            vec![
                KeyValue::new("exception.message", "bad api_key=k-123 given"),
                KeyValue::new("url.query", "page=2&token=t0k3n"),
                KeyValue::new("db.password", "hunter2"),
            ],
        )];
        let mut prepare = Prepare::new(Some(20), Some(Redactor::new(&[])));
        let mut batch = batch.map(ExportSpan::from);
        prepare.batch(&mut batch);
        let span = &batch[0].data;
        let everything = format!("{span:?}");
        for secret in ["hunter2", "t0k3n", "k-123"] {
            assert!(!everything.contains(secret), "{secret} in {everything}");
        }
        assert_eq!(description(span), "login failed: passwo");
        assert_eq!(span.events.events[0].name, "retrying with token=");
        assert_eq!(span.attributes[1].value.as_str(), "page=2&token=REDACTE");
        // Without the limit, the redacted text whole.
        let mut batch = [ExportSpan::from(span_with_description(
            "token=t0k3n and more",
        ))];
        Prepare::new(None, Some(Redactor::new(&[]))).batch(&mut batch);
        assert_eq!(description(&batch[0].data), "token=[REDACTED] and more");
    }

    /// A `'static` name is scanned for secrets once: found clean, it is not scanned again; one with a secret is
    /// redacted in every span, as is an owned name.
    #[test]
    fn static_names_are_scanned_once_and_secrets_in_them_redacted_every_time() {
        let named = |name: Cow<'static, str>| {
            let mut span = span("", "", "e", Vec::new());
            span.name = name;
            ExportSpan::from(span)
        };
        let mut prepare = Prepare::new(None, Some(Redactor::new(&[])));
        let mut batch = [
            named(Cow::Borrowed("GET /users")),
            named(Cow::Borrowed("GET /users")),
            named(Cow::Borrowed("login token=t0k3n")),
            named(Cow::Borrowed("login token=t0k3n")),
            named(Cow::Owned("owned password=hunter2".to_owned())),
        ];
        prepare.batch(&mut batch);
        assert_eq!(batch[0].data.name, "GET /users");
        assert_eq!(batch[1].data.name, "GET /users");
        assert_eq!(prepare.clean_names.len(), 1);
        for span in &batch[2..4] {
            assert_eq!(span.data.name, "login token=[REDACTED]");
        }
        assert_eq!(batch[4].data.name, "owned password=[REDACTED]");
        // A shorter name at the same address (a prefix, or one cut to the length limit) is scanned on its own.
        static TEXT: &str = "ab token=t0k3n";
        let mut batch = [named(Cow::Borrowed(&TEXT[..2])), named(Cow::Borrowed(TEXT))];
        prepare.batch(&mut batch);
        assert_eq!(batch[0].data.name, "ab");
        assert_eq!(batch[1].data.name, "ab token=[REDACTED]");
    }

    /// A callsite's attributes stay shared when preparing them changes nothing, and become the span's own,
    /// prepared, when it does; each callsite judged once.
    #[test]
    fn callsite_attributes_stay_shared_unless_preparing_changes_them() {
        let callsite = |attributes: Vec<KeyValue>| -> &'static CallsiteAttributes {
            Box::leak(Box::new(CallsiteAttributes::new(attributes.into())))
        };
        let plain = callsite(vec![KeyValue::new("code.file.path", "src/a.rs")]);
        let long = callsite(vec![KeyValue::new("code.file.path", "src/deep/module.rs")]);
        let secret = callsite(vec![KeyValue::new("code.session_token", "abc")]);
        let mut prepare = Prepare::new(Some(10), Some(Redactor::new(&[])));
        let mut batch: Vec<ExportSpan> = [plain, long, secret, plain]
            .into_iter()
            .map(|callsite| ExportSpan {
                data: span("s", "", "e", vec![KeyValue::new("id", 1)]),
                origin: None,
                duration_ms: false,
                callsite: Some((callsite, 1)),
                parent_sampled: false,
                scope: None,
            })
            .collect();
        prepare.batch(&mut batch);
        assert!(batch[0]
            .callsite
            .is_some_and(|(c, _)| std::ptr::eq(c, plain)));
        assert_eq!(batch[0].data.attributes, [KeyValue::new("id", 1)]);
        assert!(batch[1].callsite.is_none());
        assert_eq!(
            batch[1].data.attributes,
            [
                KeyValue::new("id", 1),
                KeyValue::new("code.file.path", "src/deep/m")
            ]
        );
        assert!(batch[2].callsite.is_none());
        assert_eq!(batch[2].data.attributes[1].value.as_str(), REDACTED);
        assert!(batch[3].callsite.is_some());
        assert_eq!(prepare.callsites.len(), 3);
    }

    #[test]
    fn origins_stay_as_values_unless_preparing_changes_them() {
        let origin = |target: &'static str| Origin {
            thread_id: 3,
            thread_name: Some("worker"),
            target,
        };
        let export = |origin: Origin| ExportSpan {
            data: span("s", "", "e", vec![KeyValue::new("id", 1)]),
            origin: Some(origin),
            duration_ms: false,
            callsite: None,
            parent_sampled: false,
            scope: None,
        };
        // Within the limit and no secret key: kept as values.
        let mut prepare = Prepare::new(Some(10), Some(Redactor::new(&[])));
        let mut batch = [
            export(origin("app::db")),
            export(origin("app::database::pool")),
        ];
        prepare.batch(&mut batch);
        assert_eq!(batch[0].origin, Some(origin("app::db")));
        assert_eq!(batch[0].data.attributes, [KeyValue::new("id", 1)]);
        // A target longer than the limit: in the attributes, cut.
        assert_eq!(batch[1].origin, None);
        assert_eq!(
            batch[1].data.attributes,
            [
                KeyValue::new(THREAD_ID, 3),
                KeyValue::new(THREAD_NAME, "worker"),
                KeyValue::new(TARGET, "app::datab"),
                KeyValue::new("id", 1),
            ]
        );
        // A configured word that names one of the keys: every origin is redacted like any attribute.
        let mut prepare = Prepare::new(None, Some(Redactor::new(&["thread".to_owned()])));
        let mut batch = [export(origin("app::db"))];
        prepare.batch(&mut batch);
        assert_eq!(batch[0].origin, None);
        assert_eq!(batch[0].data.attributes[0].value.as_str(), REDACTED);
        assert_eq!(batch[0].data.attributes[1].value.as_str(), REDACTED);
        assert_eq!(
            batch[0].data.attributes[2],
            KeyValue::new(TARGET, "app::db")
        );
        // No preparation at all: kept.
        let mut batch = [export(origin("app::database::pool"))];
        Prepare::new(None, None).batch(&mut batch);
        assert!(batch[0].origin.is_some());
        // The layer's `duration_ms` (no origin): kept as a flag, unless its key is a configured word.
        let timed = || ExportSpan {
            duration_ms: true,
            ..ExportSpan::from(span("s", "", "e", Vec::new()))
        };
        let mut batch = [timed()];
        Prepare::new(Some(10), Some(Redactor::new(&[]))).batch(&mut batch);
        assert!(batch[0].duration_ms && batch[0].data.attributes.is_empty());
        let mut batch = [timed()];
        Prepare::new(None, Some(Redactor::new(&["duration".to_owned()]))).batch(&mut batch);
        assert!(!batch[0].duration_ms);
        assert_eq!(
            batch[0].data.attributes,
            [KeyValue::new(DURATION_MS, REDACTED)]
        );
    }

    fn span_with_description(text: &str) -> SpanData {
        span("s", text, "e", Vec::new())
    }

    #[test]
    fn strings_are_truncated_on_char_boundaries() {
        let mut s = StringValue::from("héllo wörld".to_owned());
        truncate_string(&mut s, 4);
        assert_eq!(s.as_str(), "héll");
        let mut short = StringValue::from("ab");
        truncate_string(&mut short, 4);
        assert_eq!(short.as_str(), "ab");
    }
}
