//! A log record as a receiver got it, with its resource and scope, decoded from the OTLP request it came in.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};

/// One log record as it arrived. Attributes keep their OTLP types.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedLog {
    /// Its body, if it was a string.
    pub body: Option<String>,
    /// Its severity number (TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17).
    pub severity_number: i32,
    /// Its severity text.
    pub severity_text: String,
    /// Its time and observed time, in ns since the epoch.
    pub time_unix_nano: u64,
    /// See [`ReceivedLog::time_unix_nano`].
    pub observed_time_unix_nano: u64,
    /// Its attributes, as sent.
    pub attributes: Vec<KeyValue>,
    /// Its trace id, 16 bytes, or empty.
    pub trace_id: Vec<u8>,
    /// Its span id, 8 bytes, or empty.
    pub span_id: Vec<u8>,
    /// Its trace flags.
    pub flags: u32,
    /// The attributes of its resource.
    pub resource: Vec<KeyValue>,
    /// Its instrumentation scope.
    pub scope: Option<InstrumentationScope>,
}

impl ReceivedLog {
    /// The records of a logs request, in the order they were sent.
    pub fn all_in(request: &ExportLogsServiceRequest) -> impl Iterator<Item = ReceivedLog> + '_ {
        request.resource_logs.iter().flat_map(|resource_logs| {
            let resource = resource_logs
                .resource
                .as_ref()
                .map(|r| r.attributes.clone())
                .unwrap_or_default();
            resource_logs.scope_logs.iter().flat_map(move |scope_logs| {
                let resource = resource.clone();
                scope_logs
                    .log_records
                    .iter()
                    .map(move |record| ReceivedLog {
                        body: match record.body.as_ref().and_then(|b| b.value.as_ref()) {
                            Some(Value::StringValue(s)) => Some(s.clone()),
                            _ => None,
                        },
                        severity_number: record.severity_number,
                        severity_text: record.severity_text.clone(),
                        time_unix_nano: record.time_unix_nano,
                        observed_time_unix_nano: record.observed_time_unix_nano,
                        attributes: record.attributes.clone(),
                        trace_id: record.trace_id.clone(),
                        span_id: record.span_id.clone(),
                        flags: record.flags,
                        resource: resource.clone(),
                        scope: scope_logs.scope.clone(),
                    })
            })
        })
    }

    /// The value of attribute `key`.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
    }

    /// The value of attribute `key` if it is a string.
    pub fn attr(&self, key: &str) -> Option<&str> {
        match self.attribute(key)? {
            Value::StringValue(s) => Some(s),
            _ => None,
        }
    }

    /// The value of resource attribute `key` if it is a string.
    pub fn resource_attr(&self, key: &str) -> Option<&str> {
        match self
            .resource
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())?
        {
            Value::StringValue(s) => Some(s),
            _ => None,
        }
    }

    /// The name of its scope.
    pub fn scope_name(&self) -> &str {
        self.scope.as_ref().map_or("", |s| s.name.as_str())
    }
}
