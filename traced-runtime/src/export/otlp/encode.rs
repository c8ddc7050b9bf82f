//! Spans and log records straight to the protobuf bytes of an OTLP `ExportTraceServiceRequest` and
//! `ExportLogsServiceRequest`.
//!
//! opentelemetry-proto first converts every span or record into its message structs (a `String` per attribute
//! key and value, a `Vec` per id) and prost then encodes those: on the export thread that conversion, and freeing
//! it, cost more than the encoding itself (for log records, after a copy of the whole batch: about 15,000
//! instructions a record of the logs bench, five times what the calling thread spends on the event). Writing the
//! wire format from the spans and records as they are allocates only the output. The rare parts (resource,
//! scope) still go through opentelemetry-proto; the unit tests check the result decodes to what its conversion
//! gives.
//!
//! Wire format: <https://protobuf.dev/programming-guides/encoding/>; field numbers from
//! `opentelemetry/proto/{collector/trace,collector/logs,trace,logs,common}/v1/*.proto`. Like prost, scalar fields at their default
//! value are left out; messages and `oneof` members that the conversion sets are always written.

use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use prost::Message as _;
use traced_conventions::layer::{TARGET, THREAD_ID, THREAD_NAME};
use traced_conventions::span::DURATION_MS;

use crate::export::log_record::LogRecord;
use crate::export::span::{duration_ms, unix_nanos, ExportSpan, Origin};

const VARINT: u32 = 0;
const I64: u32 = 1;
const LEN: u32 = 2;
const I32: u32 = 5;

// `SpanFlags` of trace.proto: the W3C flags in the low byte, and whether the parent's remoteness is known/true.
const FLAGS_HAS_IS_REMOTE: u32 = 0x100;
const FLAGS_IS_REMOTE: u32 = 0x200;

/// The resource part of every request, encoded once per resource.
#[derive(Debug, Default)]
pub(super) struct EncodedResource {
    /// The `Resource` message.
    resource: Vec<u8>,
    schema_url: String,
}

impl From<&ResourceAttributesWithSchema> for EncodedResource {
    fn from(resource: &ResourceAttributesWithSchema) -> Self {
        EncodedResource {
            resource: ProtoResource {
                attributes: resource.attributes.0.clone(),
                dropped_attributes_count: 0,
                entity_refs: Vec::new(),
            }
            .encode_to_vec(),
            schema_url: resource.schema_url.clone().unwrap_or_default(),
        }
    }
}

/// The request for `spans`: one `ResourceSpans` with a `ScopeSpans` per instrumentation scope, in the order
/// the scopes first appear.
///
/// One pass over the spans, writing as it goes: a message whose length is only known once written (a span, an
/// event, a link, the scope and resource groups) gets room for the length bytes it most likely needs, and is
/// moved in the rare case it needs another number of them ([`nested`]). The previous encoder computed every
/// span's length first and, per attribute, the lengths of its `KeyValue` and `AnyValue` three times: under
/// callgrind, 4,359 instructions per span of the service bench, against 3,235 now.
pub(super) fn write_request(out: &mut Vec<u8>, spans: &[ExportSpan], resource: &EncodedResource) {
    let scopes = Scopes::of(spans);
    out.reserve(estimated_len(spans, resource));
    nested(out, 1, 3, |out| {
        bytes(out, 1, &resource.resource);
        for (index, scope) in scopes.distinct.iter().enumerate() {
            nested(out, 2, 3, |out| {
                bytes(out, 1, &ProtoScope::from((*scope, None)).encode_to_vec());
                for span in scopes.spans(spans, index) {
                    nested(out, 2, 2, |out| write_span(out, span));
                }
                string(out, 3, scope.schema_url().unwrap_or_default());
            });
        }
        string(out, 3, &resource.schema_url);
    });
}

/// The request for `records`: one `ResourceLogs` with a `ScopeLogs` per scope (the target's crate), in the
/// order the scopes first appear, as [`super::logs::request`] builds it for JSON.
pub(super) fn write_logs_request(
    out: &mut Vec<u8>,
    records: &[LogRecord],
    resource: &EncodedResource,
) {
    let mut distinct: Vec<&str> = Vec::new();
    // The index in `distinct` of each record's scope; empty while there is only one scope (nearly always).
    let mut of_record: Vec<u32> = Vec::new();
    for (at, record) in records.iter().enumerate() {
        let scope = record.scope.as_ref();
        let index = match distinct.iter().position(|known| *known == scope) {
            Some(index) => index,
            None => {
                distinct.push(scope);
                distinct.len() - 1
            }
        };
        if index != 0 && of_record.is_empty() {
            of_record.resize(at, 0);
        }
        if !of_record.is_empty() {
            of_record.push(index as u32);
        }
    }
    out.reserve(resource.resource.len() + records.len() * 256);
    nested(out, 1, 3, |out| {
        bytes(out, 1, &resource.resource);
        for (index, scope) in distinct.iter().enumerate() {
            nested(out, 2, 3, |out| {
                // InstrumentationScope { name: 1 }: the conversion sets only the name.
                nested(out, 1, 1, |out| string(out, 1, scope));
                let mine = records
                    .iter()
                    .enumerate()
                    .filter(|(at, _)| of_record.get(*at).is_none_or(|&of| of as usize == index));
                for (_, record) in mine {
                    nested(out, 2, 2, |out| write_log_record(out, record));
                }
            });
        }
        string(out, 3, &resource.schema_url);
    });
}

/// One `LogRecord` (logs.proto), in field-number order, as prost writes it.
fn write_log_record(out: &mut Vec<u8>, record: &LogRecord) {
    let time = nanos(record.time);
    fixed64(out, 1, time);
    varint_field(out, 2, record.severity_number() as u64);
    string(out, 3, record.severity_text());
    if let Some(body) = &record.body {
        // AnyValue { string_value: 1 }: the `oneof` member is written even when empty.
        message_header(out, 5, message_len(1, body.len()));
        bytes(out, 1, body.as_bytes());
    }
    attributes(out, 6, &record.attributes);
    varint_field(out, 7, u64::from(record.dropped_attributes));
    fixed32(out, 8, u32::from(record.flags.to_u8()));
    if record.trace_id != TraceId::INVALID {
        bytes(out, 9, &record.trace_id.to_bytes());
    }
    if record.span_id != SpanId::INVALID {
        bytes(out, 10, &record.span_id.to_bytes());
    }
    // The record's time is also when it was observed: a `tracing` event has no time of its own.
    fixed64(out, 11, time);
}

/// The instrumentation scopes of a batch, in the order they first appear, and the scope of each span.
struct Scopes<'a> {
    distinct: Vec<&'a InstrumentationScope>,
    /// The index in `distinct` of each span's scope; empty when there is only one scope (nearly always).
    of_span: Vec<u32>,
}

impl<'a> Scopes<'a> {
    fn of(spans: &'a [ExportSpan]) -> Self {
        let mut scopes = Scopes {
            distinct: Vec::new(),
            of_span: Vec::new(),
        };
        let Some(first) = spans.first() else {
            return scopes;
        };
        let first = first.scope();
        scopes.distinct.push(first);
        let Some(other) = spans
            .iter()
            .position(|span| !same_scope(span.scope(), first))
        else {
            return scopes;
        };
        scopes.of_span = vec![0; other];
        let mut last = 0;
        for span in &spans[other..] {
            let scope = span.scope();
            // Spans of one batch come in runs of one scope: compare with the previous one first.
            if !same_scope(scopes.distinct[last], scope) {
                last = match scopes.distinct.iter().position(|s| same_scope(s, scope)) {
                    Some(index) => index,
                    None => {
                        scopes.distinct.push(scope);
                        scopes.distinct.len() - 1
                    }
                };
            }
            scopes.of_span.push(last as u32);
        }
        scopes
    }

    /// The spans of scope `index`, in their order in the batch.
    fn spans<'s>(
        &'s self,
        spans: &'a [ExportSpan],
        index: usize,
    ) -> impl Iterator<Item = &'a ExportSpan> + 's {
        let all = self.of_span.is_empty();
        spans
            .iter()
            .enumerate()
            .filter(move |(at, _)| all || self.of_span[*at] as usize == index)
            .map(|(_, span)| span)
    }
}

/// `a == b`, answered without comparing text when both are clones of one scope with `'static` texts and no
/// attributes, as every span of the layer's is (`InstrumentationScope`'s `==` compares the texts and collects
/// and sorts the attributes, per span).
fn same_scope(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    fn same_text(a: Option<&str>, b: Option<&str>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        }
    }
    let shared = std::ptr::eq(a.name(), b.name())
        && same_text(a.version(), b.version())
        && same_text(a.schema_url(), b.schema_url())
        && a.attributes().next().is_none()
        && b.attributes().next().is_none();
    shared || a == b
}

/// A first capacity for the request, close to its length for the usual spans (a few short attributes), so the
/// buffer seldom grows: a growth copies the request so far.
fn estimated_len(spans: &[ExportSpan], resource: &EncodedResource) -> usize {
    let per_span: usize = spans
        .iter()
        .map(|span| {
            let callsite = span.callsite.map_or(0, |(c, _)| c.attributes().len());
            let origin = span.origin.map_or(0, |origin| origin.len());
            let layer = origin + usize::from(span.duration_ms);
            96 + span.data.name.len() + 48 * (span.data.attributes.len() + callsite + layer)
        })
        .sum();
    64 + resource.resource.len() + resource.schema_url.len() + per_span
}

fn kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn nanos(time: SystemTime) -> u64 {
    unix_nanos(time)
}

fn flags(context: &SpanContext, remote: bool) -> u32 {
    u32::from(context.trace_flags().to_u8())
        | FLAGS_HAS_IS_REMOTE
        | if remote { FLAGS_IS_REMOTE } else { 0 }
}

/// The status: code (`STATUS_CODE_OK` = 1, `ERROR` = 2) and the error's description.
fn status(status: &Status) -> (u64, &str) {
    match status {
        Status::Unset => (0, ""),
        Status::Ok => (1, ""),
        Status::Error { description } => (2, description),
    }
}

fn write_span(out: &mut Vec<u8>, span: &ExportSpan) {
    let (before, callsite, after) = span.split_attributes();
    let origin = span.origin;
    let duration = span.duration_ms;
    let span = &span.data;
    let context = &span.span_context;
    bytes(out, 1, &context.trace_id().to_bytes());
    bytes(out, 2, &context.span_id().to_bytes());
    string(out, 3, &context.trace_state().header());
    if span.parent_span_id != SpanId::INVALID {
        bytes(out, 4, &span.parent_span_id.to_bytes());
    }
    string(out, 5, &span.name);
    varint_field(out, 6, kind(&span.span_kind));
    let (start, end) = (nanos(span.start_time), nanos(span.end_time));
    fixed64(out, 7, start);
    fixed64(out, 8, end);
    if let Some(origin) = &origin {
        origin_attributes(out, origin);
    }
    attributes(out, 9, before);
    if let Some(callsite) = callsite {
        // The same bytes for every span of the callsite: encoded once.
        out.extend_from_slice(callsite.encoded(|attributes_of_callsite| {
            let mut encoded = Vec::new();
            attributes(&mut encoded, 9, attributes_of_callsite);
            encoded
        }));
    }
    attributes(out, 9, after);
    if duration {
        out.extend_from_slice(&DURATION_HEADER);
        out.extend_from_slice(&duration_ms(start, end).to_bits().to_le_bytes());
    }
    varint_field(out, 10, u64::from(span.dropped_attributes_count));
    for event in span.events.iter() {
        nested(out, 11, 1, |out| {
            fixed64(out, 1, nanos(event.timestamp));
            string(out, 2, &event.name);
            attributes(out, 3, &event.attributes);
            varint_field(out, 4, u64::from(event.dropped_attributes_count));
        });
    }
    varint_field(out, 12, u64::from(span.events.dropped_count));
    for link in span.links.iter() {
        nested(out, 13, 1, |out| {
            bytes(out, 1, &link.span_context.trace_id().to_bytes());
            bytes(out, 2, &link.span_context.span_id().to_bytes());
            string(out, 3, &link.span_context.trace_state().header());
            attributes(out, 4, &link.attributes);
            varint_field(out, 5, u64::from(link.dropped_attributes_count));
            fixed32(
                out,
                6,
                flags(&link.span_context, link.span_context.is_remote()),
            );
        });
    }
    varint_field(out, 14, u64::from(span.links.dropped_count));
    let (code, message) = status(&span.status);
    message_header(out, 15, string_len(2, message) + varint_field_len(3, code));
    string(out, 2, message);
    varint_field(out, 3, code);
    fixed32(out, 16, flags(context, span.parent_span_is_remote));
}

/// The `duration_ms` attribute (`Span.attributes`: `KeyValue { key, value: AnyValue { double_value } }`) up to the
/// double's 8 bytes: the same bytes for every span, written at once (through [`attributes`], a `KeyValue` made and
/// encoded per span cost about 135 instructions).
const DURATION_HEADER: [u8; 7 + DURATION_MS.len()] = {
    let key = DURATION_MS.as_bytes();
    let len = 2 + key.len() + 2 + 9;
    assert!(len < 0x80, "every length fits one byte");
    let mut header = [0; 7 + DURATION_MS.len()];
    header[0] = (9 << 3 | LEN) as u8;
    header[1] = len as u8;
    header[2] = (1 << 3 | LEN) as u8;
    header[3] = key.len() as u8;
    let mut at = 0;
    while at < key.len() {
        header[4 + at] = key[at];
        at += 1;
    }
    header[4 + key.len()] = (2 << 3 | LEN) as u8;
    header[5 + key.len()] = 9;
    header[6 + key.len()] = (4 << 3 | I64) as u8;
    header
};

fn attributes(out: &mut Vec<u8>, field: u32, attributes: &[KeyValue]) {
    for kv in attributes {
        let key = kv.key.as_str();
        if short_attribute(out, field, key, &kv.value) {
            continue;
        }
        let value_len = any_value_len(&kv.value);
        message_header(out, field, string_len(1, key) + message_len(2, value_len));
        string(out, 1, key);
        // The conversion always sets the value, even to an empty `AnyValue`.
        message_header(out, 2, value_len);
        any_value(out, &kv.value);
    }
}

/// How many origins' encodings the encoding thread keeps: a batch's spans come from a few threads and callsites.
const ORIGINS_KEPT: usize = 16;

/// An origin's encoded attributes, by what tells origins apart: the thread's id and the addresses of its name and
/// target (each a `&'static str`: one address, one text).
struct EncodedOrigin {
    key: OriginKey,
    bytes: Vec<u8>,
}

type OriginKey = (i64, Option<(*const u8, usize)>, (*const u8, usize));

thread_local! {
    /// The origins this thread encoded last, the oldest replaced first.
    static ORIGINS: RefCell<(Vec<EncodedOrigin>, usize)> = const { RefCell::new((Vec::new(), 0)) };
}

/// The origin's attributes: the bytes encoded for the same thread, name and target before, else encoded now (and
/// kept).
/// About 300 instructions a span encoded attribute by attribute, one copy of about 50 bytes from the cache.
fn origin_attributes(out: &mut Vec<u8>, origin: &Origin) {
    let key: OriginKey = (
        origin.thread_id,
        origin.thread_name.map(|name| (name.as_ptr(), name.len())),
        (origin.target.as_ptr(), origin.target.len()),
    );
    let cached = ORIGINS.try_with(|origins| {
        let (origins, next) = &mut *origins.borrow_mut();
        if let Some(known) = origins.iter().find(|known| known.key == key) {
            out.extend_from_slice(&known.bytes);
            return;
        }
        let start = out.len();
        encode_origin(out, origin);
        let encoded = EncodedOrigin {
            key,
            bytes: out[start..].to_vec(),
        };
        if origins.len() < ORIGINS_KEPT {
            origins.push(encoded);
        } else {
            origins[*next] = encoded;
            *next = (*next + 1) % ORIGINS_KEPT;
        }
    });
    if cached.is_err() {
        encode_origin(out, origin);
    }
}

/// The origin's attributes, from a list on the stack, through the one [`attributes`] loop, where the short
/// attribute's path is inlined. Static keys and texts and an integer own nothing: the list is not dropped (its
/// drop checked every key and value for something to free, 60 instructions a span).
fn encode_origin(out: &mut Vec<u8>, origin: &Origin) {
    let id = KeyValue::new(THREAD_ID, origin.thread_id);
    let target = KeyValue::new(TARGET, origin.target);
    match origin.thread_name {
        Some(name) => {
            let list = ManuallyDrop::new([id, KeyValue::new(THREAD_NAME, name), target]);
            attributes(out, 9, &*list);
        }
        None => attributes(out, 9, &*ManuallyDrop::new([id, target])),
    }
}

/// A `KeyValue` with a scalar value (nearly every attribute) short enough that every length in it takes one byte:
/// its headers as fixed bytes around the key, no length computed twice. False, and nothing written, otherwise (or
/// for an empty key, which the general path leaves out).
fn short_attribute(out: &mut Vec<u8>, field: u32, key: &str, value: &Value) -> bool {
    if !matches!(
        value,
        Value::String(_) | Value::I64(_) | Value::F64(_) | Value::Bool(_)
    ) {
        return false;
    }
    let value_len = any_value_len(value);
    // KeyValue { key: 1 (LEN), value: 2 (AnyValue) }: two bytes of header each.
    let len = 2 + key.len() + 2 + value_len;
    let tag = field << 3 | LEN;
    if key.is_empty() || len >= 0x80 || tag >= 0x80 {
        return false;
    }
    out.reserve(2 + len);
    out.extend_from_slice(&[tag as u8, len as u8, 1 << 3 | LEN as u8, key.len() as u8]);
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&[2 << 3 | LEN as u8, value_len as u8]);
    any_value(out, value);
    true
}

/// An `AnyValue`: the `oneof` member is written even at its default value (`false`, `0`, `""`).
#[inline(always)]
fn any_value_len(value: &Value) -> usize {
    match value {
        Value::Bool(_) => 2,
        Value::I64(i) => 1 + varint_len(*i as u64),
        Value::F64(_) => 1 + 8,
        Value::String(s) => message_len(1, s.as_str().len()),
        Value::Array(array) => message_len(5, array_len(array)),
        _ => 0,
    }
}

// Inlined into both attribute paths: the call cost as much as a scalar's bytes.
#[inline(always)]
fn any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => {
            key(out, 2, VARINT);
            out.push(u8::from(*b));
        }
        Value::I64(i) => {
            key(out, 3, VARINT);
            varint(out, *i as u64);
        }
        Value::F64(f) => {
            key(out, 4, I64);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::String(s) => {
            message_header(out, 1, s.as_str().len());
            out.extend_from_slice(s.as_str().as_bytes());
        }
        Value::Array(array) => {
            message_header(out, 5, array_len(array));
            match array {
                Array::Bool(items) => items.iter().for_each(|b| array_item(out, &Value::Bool(*b))),
                Array::I64(items) => items.iter().for_each(|i| array_item(out, &Value::I64(*i))),
                Array::F64(items) => items.iter().for_each(|f| array_item(out, &Value::F64(*f))),
                Array::String(items) => items.iter().for_each(|s| string_item(out, s)),
                _ => {}
            }
        }
        _ => {}
    }
}

/// An `ArrayValue`: its `values`, field 1, one `AnyValue` each.
fn array_len(array: &Array) -> usize {
    match array {
        Array::Bool(items) => items.len() * message_len(1, 2),
        Array::I64(items) => items
            .iter()
            .map(|i| message_len(1, 1 + varint_len(*i as u64)))
            .sum(),
        Array::F64(items) => items.len() * message_len(1, 9),
        Array::String(items) => items
            .iter()
            .map(|s| message_len(1, message_len(1, s.as_str().len())))
            .sum(),
        _ => 0,
    }
}

fn array_item(out: &mut Vec<u8>, value: &Value) {
    message_header(out, 1, any_value_len(value));
    any_value(out, value);
}

fn string_item(out: &mut Vec<u8>, s: &StringValue) {
    message_header(out, 1, message_len(1, s.as_str().len()));
    message_header(out, 1, s.as_str().len());
    out.extend_from_slice(s.as_str().as_bytes());
}

// Primitives. Every field number here is below 16, so its key is one byte, but for `flags` (16).

fn varint_len(value: u64) -> usize {
    // 7 bits a byte; zero takes one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u32) {
    let key = field << 3 | wire;
    if key < 0x80 {
        out.push(key as u8);
    } else {
        varint(out, u64::from(key));
    }
}

fn message_len(field: u32, len: usize) -> usize {
    varint_len(u64::from(field << 3)) + varint_len(len as u64) + len
}

// Inlined: called once or twice per attribute, where a call costs as much as the header.
#[inline(always)]
fn message_header(out: &mut Vec<u8>, field: u32, len: usize) {
    let tag = field << 3 | LEN;
    if tag < 0x80 && len < 0x80 {
        // Nearly every header: a one-byte key and a one-byte length, written at once.
        out.extend_from_slice(&[tag as u8, len as u8]);
    } else {
        long_message_header(out, field, len);
    }
}

#[cold]
fn long_message_header(out: &mut Vec<u8>, field: u32, len: usize) {
    key(out, field, LEN);
    varint(out, len as u64);
}

/// A length-delimited field whose length is known once `body` has written it: the key, `reserved` bytes for the
/// length, the body, then the length, the body moved when its length takes more or fewer bytes than reserved
/// (a memmove of one message, cheaper than the length pass over its content it replaces).
fn nested(out: &mut Vec<u8>, field: u32, reserved: usize, body: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let at = out.len();
    out.extend_from_slice(&[0; 4][..reserved]);
    body(out);
    let len = out.len() - at - reserved;
    let needed = varint_len(len as u64);
    if needed > reserved {
        out.resize(out.len() + needed - reserved, 0);
        out.copy_within(at + reserved..at + reserved + len, at + needed);
    } else if needed < reserved {
        out.copy_within(at + reserved.., at + needed);
        out.truncate(at + needed + len);
    }
    let mut value = len as u64;
    for byte in &mut out[at..at + needed] {
        // Every byte but the last has the continuation bit.
        *byte = (value as u8 & 0x7f) | 0x80;
        value >>= 7;
    }
    out[at + needed - 1] &= 0x7f;
}

fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    message_header(out, field, data.len());
    out.extend_from_slice(data);
}

fn string_len(field: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        message_len(field, s.len())
    }
}

fn string(out: &mut Vec<u8>, field: u32, s: &str) {
    if !s.is_empty() {
        bytes(out, field, s.as_bytes());
    }
}

fn varint_field_len(field: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        varint_len(u64::from(field << 3)) + varint_len(value)
    }
}

fn varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        key(out, field, VARINT);
        varint(out, value);
    }
}

fn fixed64(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        key(out, field, I64);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn fixed32(out: &mut Vec<u8>, field: u32, value: u32) {
    if value != 0 {
        key(out, field, I32);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::{Duration, UNIX_EPOCH};

    use opentelemetry::trace::{Event, Link, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
    use opentelemetry_sdk::Resource;

    use super::*;

    fn request(spans: &[SpanData], resource: &EncodedResource) -> Vec<u8> {
        let spans: Vec<ExportSpan> = spans.iter().cloned().map(ExportSpan::from).collect();
        let mut out = Vec::new();
        write_request(&mut out, &spans, resource);
        out
    }

    fn context(trace: u128, span: u64, flags: u8, remote: bool, state: &str) -> SpanContext {
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            TraceFlags::new(flags),
            remote,
            TraceState::from_key_value(
                state
                    .split(',')
                    .filter(|kv| !kv.is_empty())
                    .filter_map(|kv| kv.split_once('=')),
            )
            .unwrap(),
        )
    }

    fn span(n: u64, scope: &InstrumentationScope) -> SpanData {
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            "exception",
            UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_123),
            vec![
                KeyValue::new("exception.type", "io::Error"),
                KeyValue::new("exception.message", ""),
            ],
            2,
        ));
        events.dropped_count = 1;
        let mut links = SpanLinks::default();
        links.links.push(Link::new(
            context(7, 9, 1, true, "vendor=a"),
            vec![KeyValue::new("link.kind", "follows")],
            0,
        ));
        SpanData {
            span_context: context(u128::MAX - u128::from(n), n + 1, 1, false, ""),
            parent_span_id: if n % 2 == 0 {
                SpanId::INVALID
            } else {
                SpanId::from(n)
            },
            parent_span_is_remote: n % 3 == 0,
            span_kind: [
                SpanKind::Internal,
                SpanKind::Server,
                SpanKind::Client,
                SpanKind::Producer,
                SpanKind::Consumer,
            ][n as usize % 5]
                .clone(),
            name: Cow::Owned(format!("span-{n}")),
            start_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_000 + n),
            end_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_500_000 + n),
            attributes: vec![
                KeyValue::new("code.function.name", "crate::module::work"),
                KeyValue::new("code.line.number", 42_i64),
                KeyValue::new("negative", -1_i64),
                KeyValue::new("zero", 0_i64),
                KeyValue::new("duration_ms", 0.25),
                KeyValue::new("no", false),
                KeyValue::new("yes", true),
                KeyValue::new("empty", ""),
                KeyValue::new("unicode", "héllo ✓"),
                KeyValue::new(
                    "list.str",
                    Value::Array(Array::String(vec!["a".into(), "".into()])),
                ),
                KeyValue::new("list.int", Value::Array(Array::I64(vec![0, -5, 300]))),
                KeyValue::new("list.f64", Value::Array(Array::F64(vec![1.5, 0.0]))),
                KeyValue::new("list.bool", Value::Array(Array::Bool(vec![true, false]))),
                KeyValue::new("list.empty", Value::Array(Array::I64(vec![]))),
                KeyValue::new("long", "x".repeat(300)),
                // The longest attribute whose lengths all take one byte, and one byte longer.
                KeyValue::new("edge", "y".repeat(117)),
                KeyValue::new("edge2", "y".repeat(117)),
                KeyValue::new("", "no key"),
                KeyValue::new("", 1_i64),
                KeyValue::new("big", i64::MAX),
                KeyValue::new("k".repeat(100), f64::MIN),
                KeyValue::new("k".repeat(120), true),
            ],
            dropped_attributes_count: (n % 2) as u32,
            events: if n % 2 == 0 {
                events
            } else {
                SpanEvents::default()
            },
            links: if n % 2 == 1 {
                links
            } else {
                SpanLinks::default()
            },
            status: match n % 3 {
                0 => Status::Unset,
                1 => Status::Ok,
                _ => Status::error("card declined"),
            },
            instrumentation_scope: scope.clone(),
        }
    }

    fn decoded(
        spans: &[SpanData],
        resource: &ResourceAttributesWithSchema,
    ) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest::decode(&request(spans, &EncodedResource::from(resource))[..])
            .unwrap()
    }

    fn expected(
        spans: Vec<SpanData>,
        resource: &ResourceAttributesWithSchema,
    ) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans, resource),
        }
    }

    #[test]
    fn decodes_to_what_the_opentelemetry_proto_conversion_gives() {
        let resource = ResourceAttributesWithSchema::from(
            &Resource::builder()
                .with_service_name("checkout")
                .with_attribute(KeyValue::new("deployment.environment.name", "test"))
                .build(),
        );
        let first = InstrumentationScope::builder("traced")
            .with_version("0.1.0")
            .build();
        let second = InstrumentationScope::builder("other")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([KeyValue::new("scope.attr", 1_i64)])
            .build();
        let spans: Vec<SpanData> = (0..12)
            .map(|n| span(n, if n % 4 == 3 { &second } else { &first }))
            .collect();
        assert_eq!(
            decoded(&spans, &resource),
            expected(spans.clone(), &resource)
        );
        // Byte for byte, too: same field order, same defaults left out.
        let one = vec![span(2, &first)];
        assert_eq!(
            request(&one, &EncodedResource::from(&resource)),
            expected(one, &resource).encode_to_vec()
        );
        // The layer's spans keep their scope by reference (and an empty one in `data`): the same bytes, grouped
        // by the scope they refer to.
        let first: &'static InstrumentationScope = Box::leak(Box::new(first));
        let second: &'static InstrumentationScope = Box::leak(Box::new(second));
        let by_reference: Vec<ExportSpan> = spans
            .iter()
            .map(|span| {
                let scope = if span.instrumentation_scope == *first {
                    first
                } else {
                    second
                };
                let mut data = span.clone();
                data.instrumentation_scope = InstrumentationScope::default();
                ExportSpan {
                    scope: Some(scope),
                    ..ExportSpan::from(data)
                }
            })
            .collect();
        let encoded = EncodedResource::from(&resource);
        let mut out = Vec::new();
        write_request(&mut out, &by_reference, &encoded);
        assert_eq!(out, request(&spans, &encoded));
    }

    /// Origins encoded from the cache give the bytes of their attributes encoded one by one, past the cache's
    /// room too (each origin comes back after more than `ORIGINS_KEPT` others).
    #[test]
    fn origins_from_the_cache_encode_as_their_attributes_would() {
        let scope = InstrumentationScope::builder("traced").build();
        let resource = EncodedResource::default();
        let targets: Vec<&'static str> = (0..ORIGINS_KEPT + 4)
            .map(|n| &*Box::leak(format!("app::module{n}").into_boxed_str()))
            .collect();
        for round in 0..3 {
            for (n, target) in targets.iter().enumerate() {
                let origin = Origin {
                    thread_id: n as i64 % 3,
                    thread_name: (n % 2 == 0).then_some("worker"),
                    target,
                };
                let mut export = ExportSpan::from(span(n as u64, &scope));
                export.origin = Some(origin);
                let mut whole = span(n as u64, &scope);
                whole.attributes.splice(0..0, origin.attributes());
                let mut out = Vec::new();
                write_request(&mut out, &[export], &resource);
                assert_eq!(
                    out,
                    request(&[whole], &resource),
                    "round {round}, {origin:?}"
                );
            }
        }
    }

    /// A callsite's attributes, encoded once and copied, give the bytes the span gives with its own copies in
    /// their place, wherever that place is.
    #[test]
    fn callsite_attributes_encode_as_the_spans_own_would() {
        use crate::export::span::CallsiteAttributes;
        static CALLSITE: std::sync::OnceLock<CallsiteAttributes> = std::sync::OnceLock::new();
        let scope = InstrumentationScope::builder("traced").build();
        let resource = EncodedResource::default();
        for at in [0, 1, 3, 15] {
            let whole = span(4, &scope);
            let mut own = whole.clone();
            let callsite = own
                .attributes
                .drain(at..(at + 2).min(15))
                .collect::<Vec<_>>();
            let callsite: &'static CallsiteAttributes =
                Box::leak(Box::new(CallsiteAttributes::new(callsite.into())));
            let export = ExportSpan {
                data: own,
                origin: None,
                duration_ms: false,
                callsite: Some((callsite, at)),
                parent_sampled: false,
                scope: None,
            };
            let mut out = Vec::new();
            write_request(&mut out, &[export.clone(), export.clone()], &resource);
            assert_eq!(
                out,
                request(&[whole.clone(), whole.clone()], &resource),
                "at {at}"
            );
            // With an origin too (named thread or not), its attributes first.
            for thread_name in [Some("tokio-runtime-worker"), None] {
                let origin = Origin {
                    thread_id: 12,
                    thread_name,
                    target: "app::orders",
                };
                let mut with_origin = export.clone();
                with_origin.origin = Some(origin);
                with_origin.duration_ms = true;
                let mut whole = whole.clone();
                whole.attributes.splice(0..0, origin.attributes());
                let duration = duration_ms(nanos(whole.start_time), nanos(whole.end_time));
                assert!(duration > 0.0);
                whole.attributes.push(KeyValue::new(DURATION_MS, duration));
                let mut out = Vec::new();
                write_request(&mut out, &[with_origin], &resource);
                assert_eq!(out, request(&[whole], &resource), "at {at}, {origin:?}");
            }
        }
        // One callsite's bytes are made once and shared.
        let callsite = CALLSITE.get_or_init(|| {
            CallsiteAttributes::new(Box::new([KeyValue::new("code.line.number", 7_i64)]))
        });
        let export = ExportSpan {
            data: span(1, &scope),
            origin: None,
            duration_ms: false,
            callsite: Some((callsite, 0)),
            parent_sampled: false,
            scope: None,
        };
        let mut out = Vec::new();
        write_request(&mut out, &[export], &resource);
        let encoded = callsite.encoded(|_| unreachable!("encoded once"));
        assert!(out.windows(encoded.len()).any(|w| w == encoded));
    }

    #[test]
    fn messages_longer_or_shorter_than_their_reserved_length_bytes() {
        let resource = ResourceAttributesWithSchema::default();
        let scope = InstrumentationScope::builder("traced").build();
        // A span under 128 bytes (one length byte of the two reserved), one over 16,383 (three), an event and a
        // link over 127 (two of the one reserved), and a request over 2 MiB (four of the three reserved).
        let mut tiny = span(0, &scope);
        tiny.attributes.clear();
        tiny.events = SpanEvents::default();
        tiny.name = Cow::Borrowed("t");
        let mut large = span(1, &scope);
        large
            .attributes
            .push(KeyValue::new("large", "z".repeat(20_000)));
        let mut long_event = span(2, &scope);
        long_event.events.events[0]
            .attributes
            .push(KeyValue::new("event.long", "e".repeat(200)));
        let mut long_link = span(3, &scope);
        long_link.links.links[0]
            .attributes
            .push(KeyValue::new("link.long", "l".repeat(200)));
        let mut huge = span(5, &scope);
        huge.attributes
            .push(KeyValue::new("huge", "h".repeat(2_200_000)));
        for spans in [
            vec![tiny.clone()],
            vec![large.clone()],
            vec![long_event, long_link],
            vec![tiny, huge, large],
        ] {
            assert_eq!(
                request(&spans, &EncodedResource::from(&resource)),
                expected(spans, &resource).encode_to_vec()
            );
        }
    }

    #[test]
    fn an_empty_batch_and_an_empty_resource() {
        let resource = ResourceAttributesWithSchema::default();
        assert_eq!(decoded(&[], &resource), expected(Vec::new(), &resource));
    }

    #[test]
    fn scopes_are_the_same_by_their_texts_shared_or_not() {
        let shared = InstrumentationScope::builder("traced")
            .with_version("0.1.0")
            .build();
        assert!(same_scope(&shared, &shared.clone()));
        let owned = InstrumentationScope::builder(String::from("traced"))
            .with_version(String::from("0.1.0"))
            .build();
        assert!(same_scope(&shared, &owned));
        let other_version = InstrumentationScope::builder("traced")
            .with_version("0.2.0")
            .build();
        assert!(!same_scope(&shared, &other_version));
        let unversioned = InstrumentationScope::builder("traced").build();
        assert!(!same_scope(&shared, &unversioned));
        let with_attributes = InstrumentationScope::builder("traced")
            .with_version("0.1.0")
            .with_attributes([KeyValue::new("scope.attr", 1_i64)])
            .build();
        assert!(!same_scope(&shared, &with_attributes));
        assert!(same_scope(&with_attributes, &with_attributes.clone()));
    }

    #[test]
    fn varint_lengths() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            varint(&mut out, value);
            assert_eq!(out.len(), varint_len(value), "{value}");
        }
    }
}
