//! Assertions on the telemetry code produces, in ordinary unit tests (feature `testing`, for dev-dependencies).
//!
//! ```
//! use traced::traced;
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("card declined")]
//! struct Declined;
//!
//! #[traced]
//! fn charge(amount: u64) -> Result<u64, Declined> {
//!     if amount > 100 { Err(Declined) } else { Ok(amount) }
//! }
//!
//! #[traced]
//! fn checkout() -> Result<u64, Declined> {
//!     charge(20)?;
//!     charge(500)
//! }
//!
//! let (result, captured) = traced::testing::capture(checkout);
//! assert!(result.is_err());
//! assert_eq!(captured.spans_named("charge").len(), 2);
//! assert!(captured.span("checkout").is_error());
//! assert_eq!(captured.span("checkout").children().len(), 2);
//! assert!(captured.tree().starts_with("checkout ERROR \"card declined\""));
//! ```
//!
//! Each capture runs the code under a pipeline of its own, scoped to the code (the thread's default subscriber
//! while it runs, never a global: tests in parallel threads of one binary never see each other's spans, and an
//! application's own `init()` in another test is not disturbed). Spans of tasks the code spawns with their
//! context (`tokio::spawn(fut.in_current_span())` from inside one of its spans) reach the same capture on any
//! thread of a multi-thread runtime: a captured span brings its capture along wherever it is entered. Spans of
//! `tracing` instrumentation inside (a `tracing::info_span!` in a library) are captured like `#[traced]` ones.
//!
//! The pipeline is the one `traced::init` builds, exporting to memory: sampling, redaction and limits apply as
//! [`config`] sets them (defaults: every trace sampled, redaction on, the spec's limits), so a test sees what
//! would be exported.

mod captured;
mod metric;
mod tree;

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tracing::instrument::WithSubscriber;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

pub use captured::{Captured, CapturedLog, CapturedSpan};
pub use metric::{CapturedMetric, MetricPoint};

use crate::config::{ConfigBuilder, LogFormat, SamplerConfig};
use crate::export::budget::Budget;
use crate::export::log_record::LogRecord;
use crate::export::{Delivery, DeliveryFuture, DynExporter};
use crate::metrics::function::capture::{CaptureLayer, Recorder};
use crate::Guard;

/// Runs `code` and returns its value and everything it produced, with the default [`config`].
///
/// # Panics
///
/// Only if the test pipeline cannot start (an export thread that cannot be spawned).
pub fn capture<R>(code: impl FnOnce() -> R) -> (R, Captured) {
    config().capture(code)
}

/// Runs the future `code` to completion (inside the caller's runtime) and returns its output and everything it
/// produced, with the default [`config`].
///
/// # Panics
///
/// As [`capture`].
pub async fn capture_async<F: Future>(code: F) -> (F::Output, Captured) {
    config().capture_async(code).await
}

/// The configuration of a capture: [`Config::builder`](crate::Config::builder) without the environment, every
/// trace sampled, redaction on, the spec's limits, nothing printed.
///
/// ```
/// use traced::config::SamplerConfig;
///
/// let ((), captured) = traced::testing::config()
///     .with_sampler(SamplerConfig::AlwaysOff)
///     .capture(|| tracing::info_span!("dropped").in_scope(|| {}));
/// assert!(captured.spans().is_empty());
/// ```
pub fn config() -> TestConfig {
    TestConfig {
        builder: crate::Config::builder()
            .without_env()
            .with_sampler(SamplerConfig::AlwaysOn)
            .with_exporters([])
            .with_logs_exporters([])
            .with_log_filter("trace")
            .with_log_format(LogFormat::None)
            .with_batch_export_timeout(EXPORT_TIMEOUT),
    }
}

/// How long a capture waits for its spans at the end.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// A capture's configuration; see [`config`].
#[derive(Debug)]
#[must_use = "a test configuration does nothing until capture() is called"]
pub struct TestConfig {
    builder: ConfigBuilder,
}

impl TestConfig {
    /// The sampler (default: every trace sampled).
    pub fn with_sampler(self, sampler: SamplerConfig) -> Self {
        self.configure(|builder| builder.with_sampler(sampler))
    }

    /// Redacts the attributes whose keys contain one of `words`, beside the default words.
    pub fn with_redacted_keys<I, S>(self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.configure(|builder| builder.with_redacted_keys(words))
    }

    /// Exports attribute values as they are, secrets included.
    pub fn without_redaction(self) -> Self {
        self.configure(ConfigBuilder::without_redaction)
    }

    /// The maximum length of attribute values.
    pub fn with_attribute_value_length_limit(self, limit: usize) -> Self {
        self.configure(|builder| builder.with_attribute_value_length_limit(limit))
    }

    /// The maximum number of attributes per span.
    pub fn with_span_attribute_count_limit(self, limit: usize) -> Self {
        self.configure(|builder| builder.with_span_attribute_count_limit(limit))
    }

    /// The filter of what is captured, `RUST_LOG` syntax (default `trace`: everything).
    pub fn with_log_filter(self, filter: impl Into<String>) -> Self {
        self.configure(|builder| builder.with_log_filter(filter))
    }

    /// Any other option of the pipeline, on its [`ConfigBuilder`] (the environment is not read).
    pub fn configure(self, f: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Self {
        TestConfig {
            builder: f(self.builder),
        }
    }

    /// Runs `code` under this configuration; see [`capture`].
    ///
    /// # Panics
    ///
    /// When the configuration is invalid (the message names the option), or as [`capture`].
    pub fn capture<R>(self, code: impl FnOnce() -> R) -> (R, Captured) {
        let pipeline = Pipeline::start(self);
        let value = tracing::dispatcher::with_default(&pipeline.dispatch, code);
        (value, pipeline.finish())
    }

    /// Runs the future `code` under this configuration; see [`capture_async`].
    ///
    /// # Panics
    ///
    /// As [`TestConfig::capture`].
    pub async fn capture_async<F: Future>(self, code: F) -> (F::Output, Captured) {
        let pipeline = Pipeline::start(self);
        let value = code.with_subscriber(pipeline.dispatch.clone()).await;
        (value, pipeline.finish())
    }
}

/// One capture's pipeline: `traced`'s own, exporting into memory.
struct Pipeline {
    dispatch: Dispatch,
    guard: Guard,
    spans: Memory,
    logs: MemoryLogs,
    metrics: Arc<Recorder>,
}

impl Pipeline {
    fn start(config: TestConfig) -> Pipeline {
        let spans = Memory::default();
        let config = config
            .builder
            .with_span_exporter(spans.clone())
            .build()
            .unwrap_or_else(|e| panic!("traced::testing: invalid test configuration: {e}"));
        let logs = MemoryLogs::default();
        let (layer, guard) = crate::init::capture_layer(&config, Box::new(logs.clone()))
            .unwrap_or_else(|e| panic!("traced::testing: the capture pipeline did not start: {e}"));
        // The calls made under this subscriber find their recorder through it.
        let (capture, metrics) = CaptureLayer::new();
        Pipeline {
            dispatch: Dispatch::new(tracing_subscriber::registry().with(layer).with(capture)),
            guard,
            spans,
            logs,
            metrics,
        }
    }

    /// Shuts the pipeline down, which exports every span and log record so far, and returns them with the
    /// metrics of the calls.
    fn finish(self) -> Captured {
        drop(self.dispatch);
        // The counts say what was lost, if anything; the spans that arrived are what the test can see.
        let (_, stats) = self.guard.shutdown_with_stats();
        let metrics = self
            .metrics
            .collect()
            .iter()
            .map(metric::CapturedMetric::from_proto)
            .collect();
        Captured::new(self.spans.take(), self.logs.take(), metrics, stats)
    }
}

/// The in-memory exporter of a capture.
#[derive(Clone, Debug, Default)]
struct Memory(Arc<Mutex<Vec<SpanData>>>);

impl Memory {
    fn take(&self) -> Vec<SpanData> {
        std::mem::take(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl SpanExporter for Memory {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
        Ok(())
    }
}

/// The in-memory log record exporter of a capture.
#[derive(Clone, Debug, Default)]
struct MemoryLogs(Arc<Mutex<Vec<LogRecord>>>);

impl MemoryLogs {
    fn take(&self) -> Vec<LogRecord> {
        std::mem::take(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl DynExporter<LogRecord> for MemoryLogs {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn export(&self, batch: Vec<LogRecord>, _budget: Budget) -> DeliveryFuture<'_> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
        Box::pin(std::future::ready(Delivery::all()))
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, _resource: &opentelemetry_sdk::Resource) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::span_layer::{building, named, Statics};

    #[test]
    fn a_callsites_static_attributes_are_copied_not_visited() {
        fn make() -> tracing::Span {
            tracing::info_span!("statics", first = "from the fields", second = 2_i64)
        }
        let ((), captured) = capture(|| {
            let meta = make().metadata().expect("the capture enables the span");
            let statics: &'static Statics =
                Box::leak(Box::new(Statics::new(meta, ["from the statics".into()])));
            drop(building(statics, make));
            // A span of another callsite built meanwhile does not take them.
            drop(building(statics, || {
                tracing::info_span!("other", first = "own")
            }));
        });
        let first = |span: &CapturedSpan<'_>| {
            let values: Vec<String> = span
                .attributes()
                .iter()
                .filter(|kv| kv.key.as_str() == "first")
                .map(|kv| kv.value.as_str().into_owned())
                .collect();
            values
        };
        let spans = captured.spans_named("statics");
        assert_eq!(first(&spans[0]), ["from the fields"]);
        assert_eq!(first(&spans[1]), ["from the statics"]);
        assert_eq!(spans[1].attr("second"), Some(&opentelemetry::Value::I64(2)));
        assert_eq!(first(&captured.span("other")), ["own"]);
    }

    #[test]
    fn a_handed_name_names_the_first_span_built_only() {
        static NAME: &str = "GET /handed";
        let ((), captured) = capture(|| {
            named(NAME, || {
                let outer = tracing::info_span!("request", otel.name = NAME);
                // A span built after the first one does not take it.
                drop(tracing::info_span!("inner"));
                outer
            });
            drop(tracing::info_span!("after"));
        });
        let name = captured.span(NAME).name();
        assert!(
            std::ptr::eq(name, NAME),
            "the handed string itself, not a copy"
        );
        assert_eq!(captured.span("inner").name(), "inner");
        assert_eq!(captured.span("after").name(), "after");
    }
}
