//! Test support: runs code under a real OpenTelemetry pipeline (`traced`'s own as `Config::layer` in a registry,
//! with `TRACED_TEST_LAYER=dispatch` the whole subscriber `Config::dispatch` builds (no log format: the span
//! subscriber without a registry), with `TRACED_TEST_LAYER=dispatch-compact` that subscriber printing the compact
//! log format (the default layout of `init`), or with `TRACED_TEST_LAYER=stock` tracing-opentelemetry's layer over the SDK,
//! all into an in-memory exporter) and returns the spans it exported; the accessors for assertions are those of
//! `traced_test_support::span`.
#![allow(dead_code)]

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider, SpanData};
use traced::config::{ConfigBuilder, LogFormat, SamplerConfig};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::Registry;

use traced_test_support::span::Spans;

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
    F: Layer<Registry> + Display + Send + Sync + 'static,
{
    let pipeline = Pipeline::new(filter);
    let result = tracing::dispatcher::with_default(&pipeline.dispatch, body);
    (result, pipeline.finish())
}

/// Runs `body` under `traced`'s own pipeline (whatever `TRACED_TEST_LAYER` says), with the options `configure`
/// adds, and returns its result and the exported spans: for what only that pipeline does (its options, its
/// propagator).
pub fn capture_traced<R>(
    configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    body: impl FnOnce() -> R,
) -> (R, Spans) {
    let pipeline = Pipeline::traced(
        LevelFilter::TRACE,
        InMemorySpanExporter::default(),
        configure,
    );
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
        F: Layer<Registry> + Display + Send + Sync + 'static,
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
        Pipeline::traced(filter, exporter, |builder| builder)
    }

    /// `traced`'s own pipeline into `exporter`, with the options `configure` adds; it installs the global
    /// propagator too, as `init` does.
    fn traced<F>(
        filter: F,
        exporter: InMemorySpanExporter,
        configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    ) -> Self
    where
        F: Layer<Registry> + Display + Send + Sync + 'static,
    {
        let layout = std::env::var("TRACED_TEST_LAYER");
        let whole = matches!(layout.as_deref(), Ok("dispatch" | "dispatch-compact"));
        // The default layout of `init`: the compact log format, printed by the span subscriber.
        let log_format = if layout.as_deref() == Ok("dispatch-compact") {
            LogFormat::Compact
        } else {
            LogFormat::None
        };
        let builder = traced::Config::builder()
            .without_env()
            .with_sampler(SamplerConfig::AlwaysOn)
            .with_exporters([])
            .with_logs_exporters([])
            .with_span_exporter(exporter.clone())
            // The filter as the pipeline's own log filter (a level and `Targets` print as directives).
            .with_log_filter(if whole {
                filter.to_string()
            } else {
                "trace".to_owned()
            })
            .with_log_format(log_format);
        let config = configure(builder).build().expect("test config");
        let (dispatch, guard) = if whole {
            config.dispatch().expect("traced pipeline")
        } else {
            let (layer, guard) = config.layer().expect("traced pipeline");
            let subscriber = tracing_subscriber::registry().with(filter).with(layer);
            (tracing::Dispatch::new(subscriber), guard)
        };
        Pipeline {
            dispatch,
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
