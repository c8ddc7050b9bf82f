//! Test support: runs code under a real OpenTelemetry pipeline (`traced`'s own, or with `TRACED_TEST_LAYER=stock`
//! tracing-opentelemetry's layer over the SDK, both into an in-memory exporter) and returns the spans it
//! exported, with small accessors for assertions.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider, SpanData};
use traced::config::{LogFormat, SamplerConfig};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::Registry;

/// Runs `body` with a subscriber exporting every span (all levels) and returns its result and the exported spans.
pub fn capture<R>(body: impl FnOnce() -> R) -> (R, Spans) {
    capture_with(LevelFilter::TRACE, body)
}

/// Like [`capture`], with a filter (a level, `Targets`, ...) in front of the OpenTelemetry layer.
///
/// The layer's own location attributes are off, as in the `traced` pipeline: `#[traced]` records
/// `code.file.path` and `code.line.number` itself, pointing at the fn rather than at the attribute.
pub fn capture_with<F, R>(filter: F, body: impl FnOnce() -> R) -> (R, Spans)
where
    F: Layer<Registry> + Send + Sync + 'static,
{
    let pipeline = Pipeline::new(filter);
    let result = tracing::dispatcher::with_default(&pipeline.dispatch, body);
    (result, pipeline.finish())
}

/// Runs a future on a multi-thread tokio runtime (two workers, each with the capturing subscriber as its default),
/// spawned so it runs on the workers, and returns its output and the exported spans.
pub fn capture_multi_thread<F>(future: F) -> (F::Output, Spans)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let pipeline = Pipeline::new(LevelFilter::TRACE);
    let dispatch = pipeline.dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .on_thread_start(move || {
            // Lives as long as the worker thread, which ends with the runtime below.
            std::mem::forget(tracing::dispatcher::set_default(&dispatch));
        })
        .build()
        .expect("tokio runtime");
    let result = tracing::dispatcher::with_default(&pipeline.dispatch, || {
        rt.block_on(async { tokio::spawn(future).await.expect("task") })
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    (result, pipeline.finish())
}

/// An in-memory exporter behind `traced`'s own pipeline (`Config::layer`), or, with `TRACED_TEST_LAYER=stock`,
/// behind a tracing-opentelemetry layer over the SDK: `#[traced]` must behave the same under both.
struct Pipeline {
    dispatch: tracing::Dispatch,
    exporter: InMemorySpanExporter,
    finish: Box<Finish>,
}

/// Flushes the pipeline and reads what it exported.
type Finish = dyn FnOnce(&InMemorySpanExporter) -> Vec<SpanData>;

impl Pipeline {
    fn new<F>(filter: F) -> Self
    where
        F: Layer<Registry> + Send + Sync + 'static,
    {
        let exporter = InMemorySpanExporter::default();
        if std::env::var("TRACED_TEST_LAYER").as_deref() == Ok("stock") {
            let provider = SdkTracerProvider::builder()
                .with_sampler(Sampler::AlwaysOn)
                .with_simple_exporter(exporter.clone())
                .build();
            let subscriber = tracing_subscriber::registry().with(filter).with(
                tracing_opentelemetry::layer()
                    .with_location(false)
                    .with_tracer(provider.tracer("test")),
            );
            return Pipeline {
                dispatch: tracing::Dispatch::new(subscriber),
                exporter,
                finish: Box::new(move |exporter| {
                    provider.force_flush().expect("force flush");
                    exporter.get_finished_spans().expect("finished spans")
                }),
            };
        }
        let (layer, guard) = traced::Config::builder()
            .without_env()
            .with_sampler(SamplerConfig::AlwaysOn)
            .with_exporters([])
            .with_span_exporter(exporter.clone())
            .with_log_filter("trace")
            .with_log_format(LogFormat::None)
            .build()
            .expect("test config")
            .layer()
            .expect("traced pipeline");
        let subscriber = tracing_subscriber::registry().with(filter).with(layer);
        Pipeline {
            dispatch: tracing::Dispatch::new(subscriber),
            exporter,
            // Read before the guard drops: its shutdown clears the in-memory exporter.
            finish: Box::new(move |exporter| {
                guard.force_flush().expect("force flush");
                exporter.get_finished_spans().expect("finished spans")
            }),
        }
    }

    fn finish(self) -> Spans {
        drop(self.dispatch);
        Spans((self.finish)(&self.exporter))
    }
}

/// Runs a future to completion on a current-thread tokio runtime (time enabled) under [`capture`].
pub fn capture_async<F: Future>(future: impl FnOnce() -> F) -> (F::Output, Spans) {
    capture(|| runtime().block_on(future()))
}

/// A current-thread tokio runtime with the timer enabled.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime")
}

/// The exported spans, in the order they ended.
#[derive(Debug)]
pub struct Spans(pub Vec<SpanData>);

impl Spans {
    /// The only span with this name; fails if there is none or more than one.
    pub fn one(&self, name: &str) -> &SpanData {
        let found: Vec<&SpanData> = self.0.iter().filter(|s| s.name == name).collect();
        assert_eq!(
            found.len(),
            1,
            "expected exactly one span named {name:?}, exported: {:?}",
            self.names()
        );
        found[0]
    }

    /// Every span with this name.
    pub fn all(&self, name: &str) -> Vec<&SpanData> {
        self.0.iter().filter(|s| s.name == name).collect()
    }

    /// The names of the exported spans.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|s| s.name.as_ref()).collect()
    }

    /// The number of exported spans.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// The value of an attribute, if the span has it; fails if it was recorded more than once.
pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    let mut found = span.attributes.iter().filter(|kv| kv.key.as_str() == key);
    let first = found.next();
    assert!(
        found.next().is_none(),
        "{key} recorded more than once on {}: {:?}",
        span.name,
        span.attributes
    );
    first.map(|kv| &kv.value)
}

/// The value of an attribute; fails with the span's attributes if it is missing.
pub fn get<'a>(span: &'a SpanData, key: &str) -> &'a Value {
    attr(span, key).unwrap_or_else(|| {
        panic!(
            "span {:?} has no attribute {key:?}; attributes: {:?}",
            span.name, span.attributes
        )
    })
}

/// A string attribute.
pub fn string(span: &SpanData, key: &str) -> String {
    match get(span, key) {
        Value::String(s) => s.as_str().to_owned(),
        other => panic!(
            "attribute {key:?} of {:?} is not a string: {other:?}",
            span.name
        ),
    }
}

/// An attribute of an event, by key.
pub fn event_attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// The `exception` events of a span.
pub fn exceptions(span: &SpanData) -> Vec<&opentelemetry::trace::Event> {
    span.events
        .events
        .iter()
        .filter(|e| e.name == "exception")
        .collect()
}

/// The span's wall-clock duration from its start and end timestamps.
pub fn elapsed(span: &SpanData) -> Duration {
    span.end_time
        .duration_since(span.start_time)
        .expect("end after start")
}

/// The trace id of a span.
pub fn trace_id(span: &SpanData) -> TraceId {
    span.span_context.trace_id()
}

/// The span id of a span.
pub fn span_id(span: &SpanData) -> SpanId {
    span.span_context.span_id()
}

/// Whether `child` is a direct child of `parent` (same trace, parent span id).
pub fn is_child_of(child: &SpanData, parent: &SpanData) -> bool {
    child.span_context.trace_id() == parent.span_context.trace_id()
        && child.parent_span_id == parent.span_context.span_id()
}
