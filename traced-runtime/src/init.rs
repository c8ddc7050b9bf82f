//! Configuration → pipeline → guard: the entry points `init`, `try_init`, `init_from_file`, `layer`.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::config::{Config, ExporterKind, LogFormat, PropagatorKind};
use crate::export::console::ConsoleExporter;
use crate::export::log_record::LogRecord;
use crate::export::DynExporter;
use crate::guard::Guard;
use crate::logs::layer::LogLayer;
use crate::logs::sink::LogSink;
use crate::metrics::MetricsPipeline;
use crate::stats::{self, SharedStats};
use crate::subscriber::lines::Lines;
use crate::subscriber::{env_filter, pretty_layer, NotInternal, SkipInternal};
use crate::traces::processor::BatchProcessor;
use crate::traces::queue::SpanSink;
use crate::traces::sampler;
use crate::traces::sampling::{DecidedIdGenerator, Head, RootSampler, SamplingLayer};
use crate::traces::span_layer::{Core, SpanLayer};
use crate::traces::span_subscriber::{EventCapture, LogLines, SpanSubscriber};
use crate::traces::tail::RecordDropped;
use crate::{resource, Error};

/// The sinks of the span and log layers that [`Config::init`] installed as part of the global subscriber: a later
/// `init`, after those pipelines were shut down, starts new ones on them (a process has one global subscriber
/// for good).
static INSTALLED: Mutex<Sinks> = Mutex::new(Sinks {
    spans: None,
    logs: None,
});

/// The sending ends of one subscriber's layers.
struct Sinks {
    spans: Option<SpanSink>,
    logs: Option<LogSink>,
}

fn installed() -> MutexGuard<'static, Sinks> {
    INSTALLED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads the configuration from the environment and installs the global subscriber, tracer provider and
/// propagator.
///
/// Keep the returned [`Guard`] alive until the end of `main`: dropping it exports the last spans. Called again
/// after that guard was dropped, it starts a new pipeline (see [`Config::init`]).
///
/// # Errors
///
/// An invalid environment variable, an exporter that cannot be built, or
/// [`Error::AlreadyInitialized`] when a global subscriber is already set (other than the one of an earlier
/// `init` whose guard was dropped).
pub fn init() -> Result<Guard, Error> {
    env_config()?.init()
}

/// Like [`init`], but checks first that no global subscriber is set, so a second call costs nothing and builds
/// no pipeline. Never panics.
///
/// # Errors
///
/// [`Error::AlreadyInitialized`] when a global subscriber exists; otherwise as [`init`].
pub fn try_init() -> Result<Guard, Error> {
    if tracing::dispatcher::has_been_set()
        && !installed()
            .spans
            .as_ref()
            .is_some_and(SpanSink::is_shut_down)
    {
        return Err(Error::AlreadyInitialized);
    }
    init()
}

/// Reads the configuration from a YAML file (with `${VAR}` expansion) and installs the pipeline like [`init`].
///
/// # Errors
///
/// The file cannot be read or has an invalid value; otherwise as [`init`].
pub fn init_from_file(path: impl AsRef<Path>) -> Result<Guard, Error> {
    file_config(path.as_ref())?.init()
}

/// Reads the configuration from the key `section` of the application's own YAML file (`tracing:` in
/// `config.yaml`), ignoring its other keys, over the environment, and installs the pipeline like [`init`].
///
/// ```no_run
/// let _guard = traced::init_from_file_section("config.yaml", "tracing")?;
/// # Ok::<(), traced::Error>(())
/// ```
///
/// # Errors
///
/// The file cannot be read, is not YAML, or its section has an invalid value; otherwise as [`init`].
pub fn init_from_file_section(path: impl AsRef<Path>, section: &str) -> Result<Guard, Error> {
    Config::builder()
        .with_yaml_section(path, section)
        .build()?
        .init()
}

/// The OpenTelemetry layer and its guard, configured from the environment, for an application that builds its
/// own subscriber. Sets the global tracer provider and propagator, but not the global subscriber.
///
/// ```no_run
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::util::SubscriberInitExt;
///
/// let (otel, _guard) = traced::layer().unwrap();
/// tracing_subscriber::registry()
///     .with(otel)
///     .with(tracing_subscriber::fmt::layer())
///     .init();
/// ```
///
/// # Errors
///
/// An invalid environment variable or an exporter that cannot be built.
pub fn layer<S>() -> Result<(impl Layer<S>, Guard), Error>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
{
    env_config()?.layer()
}

impl Config {
    /// Installs this configuration: the global subscriber (the `RUST_LOG` filter, the stderr log format and the
    /// OpenTelemetry layer), the global tracer provider and the global propagator.
    ///
    /// With [`Config::disabled`] nothing is installed and the guard does nothing.
    ///
    /// A process has one global subscriber for good. Once the guard of an earlier `init` was dropped (or shut
    /// down), calling `init` again starts a new pipeline behind the subscriber already installed: this
    /// configuration's exporters, batch settings, resource and redaction apply, and spans are exported again;
    /// the log filter, log format, sampler and span limits stay those of the first `init`.
    ///
    /// # Errors
    ///
    /// An invalid log filter, an exporter that cannot be built, or [`Error::AlreadyInitialized`] when a global
    /// subscriber is already set: one of another library, or that of an earlier `init` whose guard is alive.
    pub fn init(self) -> Result<Guard, Error> {
        if self.disabled {
            return Ok(Guard::disabled());
        }
        if tracing::dispatcher::has_been_set() {
            return self.restart_installed();
        }
        let (dispatch, provider, guard, sinks) =
            self.build_subscriber(Lines::stderr(self.log_format))?;
        if tracing::dispatcher::set_global_default(dispatch).is_err() {
            // Lost a race with another initialisation: `guard` shuts the pipeline down on drop.
            return Err(Error::AlreadyInitialized);
        }
        // Records of the `log` crate become events too (and so stderr lines and log records). An application
        // that set a logger of its own keeps it.
        let _ = tracing_log::LogTracer::builder()
            .with_max_level(tracing_log::AsLog::as_log(
                &tracing_core::LevelFilter::current(),
            ))
            .init();
        *installed() = sinks;
        install_globals(&self, provider);
        Ok(guard)
    }

    /// The subscriber [`Config::init`] would install, with its guard, for an application that installs it
    /// itself: for a part of the program (`tracing::dispatcher::with_default`), a test, or as the global default
    /// at a moment of its choosing. Sets the global tracer provider and propagator, as `init` does; not the global
    /// subscriber, nor the bridge from the `log` crate.
    ///
    /// Unlike a subscriber built around [`Config::layer`], whose other layers `traced` cannot know, this one is
    /// filtered at the subscriber, not per layer, which costs less on every span.
    ///
    /// ```
    /// use traced::config::LogFormat;
    ///
    /// let config = traced::Config::builder()
    ///     .without_env()
    ///     .with_exporters([])
    ///     .with_metrics_exporters([])
    ///     .with_logs_exporters([])
    ///     .with_log_format(LogFormat::None)
    ///     .build()
    ///     .unwrap();
    /// let (dispatch, guard) = config.dispatch().unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || {
    ///     let _span = tracing::info_span!("work").entered();
    /// });
    /// guard.shutdown().unwrap();
    /// ```
    ///
    /// With [`Config::disabled`] the dispatch is [`Dispatch::none`] and the guard does nothing.
    ///
    /// # Errors
    ///
    /// An invalid log filter or an exporter that cannot be built.
    pub fn dispatch(self) -> Result<(Dispatch, Guard), Error> {
        if self.disabled {
            return Ok((Dispatch::none(), Guard::disabled()));
        }
        let (dispatch, provider, guard, _) =
            self.build_subscriber(Lines::stderr(self.log_format))?;
        install_globals(&self, provider);
        Ok((dispatch, guard))
    }

    /// [`Config::dispatch`] with its log lines (compact or JSON) written by `lines`.
    #[cfg(test)]
    pub(crate) fn dispatch_with_lines(
        self,
        lines: Box<dyn LogLines>,
    ) -> Result<(Dispatch, Guard), Error> {
        let (dispatch, provider, guard, _) = self.build_subscriber(Some(lines))?;
        install_globals(&self, provider);
        Ok((dispatch, guard))
    }

    /// The subscriber of [`Config::init`] and [`Config::dispatch`]: the log filter, the log format (its lines
    /// written by `lines`, except the pretty one) and the OpenTelemetry layers, with the pipeline behind them.
    fn build_subscriber(
        &self,
        lines: Option<Box<dyn LogLines>>,
    ) -> Result<(Dispatch, SdkTracerProvider, Guard, Sinks), Error> {
        let filter = env_filter(&self.log_filter)?;
        let (provider, guard, core, logs) = start(self, Scope::Process, None, Vec::new())?;
        let sinks = Sinks {
            spans: core.sink(),
            logs: logs.as_ref().map(LogLayer::sink),
        };
        // One filter for both: the log layer finds the spans the span layer keeps. Not `Filtered`, whose work on
        // every callback of every span is the dearer way to the same verdicts: alone, `NotInternal` joins the log
        // filter as the global filter; beside a log format (which keeps seeing what the export leaves out), the
        // span subscriber or the layers apply it themselves. `SpanSubscriber` keeps the spans, no registry, unless
        // the format is tracing-subscriber's pretty one (its fmt layer reads spans through the registry).
        let sampler = RootSampler::of(self);
        let dispatch = if self.log_format == LogFormat::Pretty {
            Dispatch::new(
                tracing_subscriber::registry()
                    .with(filter)
                    .with(pretty_layer())
                    .with(SamplingLayer::new(
                        SkipInternal::beside_log_format(SpanLayer::new(core).and_then(logs)),
                        sampler,
                    )),
            )
        } else {
            let logs = logs.map(|logs| Box::new(logs) as Box<dyn EventCapture>);
            let (head, filter) = if lines.is_some() {
                (Head::beside_log_lines(sampler), filter)
            } else {
                (Head::sole(sampler), filter.with_not_internal())
            };
            Dispatch::new(SpanSubscriber::new(core, head, logs, lines).with(filter))
        };
        Ok((dispatch, provider, guard, sinks))
    }

    /// A new pipeline behind the global subscriber an earlier `init` installed, once its guard is gone. Its log
    /// records are exported only if the first `init` installed a log layer.
    fn restart_installed(self) -> Result<Guard, Error> {
        let installed = installed();
        if !installed.spans.as_ref().is_some_and(SpanSink::is_shut_down) {
            return Err(Error::AlreadyInitialized);
        }
        let (provider, guard, _, _) = start(&self, Scope::Process, Some(&installed), Vec::new())?;
        install_globals(&self, provider);
        Ok(guard)
    }

    /// The OpenTelemetry layer for this configuration and its guard, for an application that builds its own
    /// subscriber (filtered by [`Config::log_filter`], never seeing the pipeline's own spans and events). Sets
    /// the global tracer provider and propagator, not the global subscriber.
    ///
    /// With [`Config::disabled`] the layer does nothing.
    ///
    /// # Errors
    ///
    /// An invalid log filter or an exporter that cannot be built.
    pub fn layer<S>(self) -> Result<(impl Layer<S>, Guard), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
    {
        if self.disabled {
            return Ok((None, Guard::disabled()));
        }
        let filter = env_filter(&self.log_filter)?;
        let (provider, guard, core, logs) = start(&self, Scope::Process, None, Vec::new())?;
        let layer = SamplingLayer::new(
            SpanLayer::new(core).and_then(logs).with_filter(
                tracing_subscriber::filter::FilterExt::and(NotInternal, filter),
            ),
            RootSampler::of(&self),
        );
        install_globals(&self, provider);
        Ok((Some(layer), guard))
    }
}

/// What a pipeline may change beyond itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The application's pipeline: its counters are the ones `traced::stats()` reads.
    Process,
    /// A test capture (`traced::testing`): touches no global.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    Capture,
}

/// A test capture's layer and guard: the layer `Config::layer` builds, but carrying its subscriber into the
/// threads its spans are entered on, and setting no global (tracer provider, propagator, `traced::stats()`).
#[cfg(feature = "testing")]
pub(crate) fn capture_layer<S>(
    config: &Config,
    logs: Box<dyn DynExporter<LogRecord>>,
) -> Result<(impl Layer<S>, Guard), Error>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
{
    let filter = env_filter(&config.log_filter)?;
    let (_provider, guard, core, logs) = start(config, Scope::Capture, None, vec![logs])?;
    let layer = SamplingLayer::new(
        SpanLayer::new(core)
            .carrying_its_dispatch()
            .and_then(logs)
            .with_filter(tracing_subscriber::filter::FilterExt::and(
                NotInternal,
                filter,
            )),
        RootSampler::of(config),
    );
    Ok((layer, guard))
}

/// The tracer provider with our batch processor (for spans made with the OpenTelemetry API), the guard that
/// shuts it down, what the span layer needs to feed the same queue, and the log layer if logs are exported: on
/// the sinks of an installed subscriber whose pipelines start again (`installed`), else on new ones.
fn start(
    config: &Config,
    scope: Scope,
    installed: Option<&Sinks>,
    given_logs: Vec<Box<dyn DynExporter<LogRecord>>>,
) -> Result<(SdkTracerProvider, Guard, Core, Option<LogLayer>), Error> {
    let resource = resource::resource(config);
    let stats = Arc::new(SharedStats::default());
    let limits = sampler::span_limits(&config.limits);
    let head = sampler::sampler(&config.sampler);
    let builder = SdkTracerProvider::builder();
    let mut builder = match config.tail_sampling {
        Some(_) => builder.with_sampler(RecordDropped(head.clone())),
        None => builder.with_sampler(head.clone()),
    }
    // Uses the trace id `#[traced]` drew when it judged a root (see `sampling`).
    .with_id_generator(DecidedIdGenerator::default())
    .with_span_limits(limits)
    .with_resource(resource.clone());
    let mut sink = None;
    let traces = !config.exporters.is_empty() || !config.span_exporters.is_empty();
    let logs = !config.logs.exporters.is_empty() || !given_logs.is_empty();
    // One console exporter for both signals, so records print under their spans.
    let console = config
        .exporters
        .contains(&ExporterKind::Console)
        .then(ConsoleExporter::new);
    // `OTEL_TRACES_EXPORTER=none`: spans are still created (for propagation) but no thread is started.
    // A test capture records no metrics: they are the process's (its global meter provider, its statics).
    let metrics_wanted = scope == Scope::Process && MetricsPipeline::wanted(config);
    if traces {
        let processor = BatchProcessor::start(
            config,
            &config.span_exporters,
            console.clone(),
            &resource,
            stats.clone(),
            installed.and_then(|sinks| sinks.spans.as_ref()),
        )?;
        sink = Some(processor.sink());
        builder = builder.with_span_processor(processor);
    }
    let mut log_layer = None;
    let mut log_pipeline = None;
    // `OTEL_LOGS_EXPORTER=none`: no log layer, no thread. After a restart, records go out only if the installed
    // subscriber has a log layer.
    let restart_without_logs = installed.is_some_and(|sinks| sinks.logs.is_none());
    if logs && !restart_without_logs {
        let (pipeline, layer) = crate::logs::pipeline::start(
            config,
            &resource,
            stats.clone(),
            console,
            installed.and_then(|sinks| sinks.logs.as_ref()),
            given_logs,
        )?;
        log_layer = Some(layer);
        log_pipeline = Some(pipeline);
    }
    let metrics = if metrics_wanted {
        Some(MetricsPipeline::start(config, &resource, stats.clone())?)
    } else {
        None
    };
    if (traces || logs || metrics_wanted) && scope == Scope::Process {
        stats::set_current(&stats);
    }
    let provider = builder.build();
    // The exit waits for the shorter of the shutdown bound and the export timeout of each signal exported (the
    // longer one when both are): an export is never given longer than its timeout anyway.
    let export_timeout = match (traces, logs) {
        (false, true) => config.logs.batch.export_timeout,
        (true, true) => config
            .batch
            .export_timeout
            .max(config.logs.batch.export_timeout),
        _ => config.batch.export_timeout,
    };
    let timeout = config.shutdown_timeout.min(export_timeout);
    let guard = Guard::new(provider.clone(), log_pipeline, metrics, stats, timeout);
    let scope = InstrumentationScope::builder("traced")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let core = Core::new(
        sampler::HeadSampler::new(&config.sampler),
        limits,
        scope,
        sink,
    )
    .with_baggage_attributes(&config.baggage_attributes)
    .recording_dropped(config.tail_sampling.is_some());
    Ok((provider, guard, core, log_layer))
}

fn install_globals(config: &Config, provider: SdkTracerProvider) {
    opentelemetry::global::set_tracer_provider(provider);
    opentelemetry::global::set_text_map_propagator(text_map_propagator(&config.propagators));
}

fn env_config() -> Result<Config, Error> {
    Config::from_env()
}

fn file_config(path: &Path) -> Result<Config, Error> {
    Config::from_yaml_file(path)
}

fn text_map_propagator(kinds: &[PropagatorKind]) -> impl TextMapPropagator + Send + Sync + 'static {
    crate::propagation::Propagator::from_kinds(kinds)
}
