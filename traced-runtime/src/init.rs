//! Configuration → pipeline → guard: the entry points `init`, `try_init`, `init_from_file`, `layer`.

use std::path::Path;
use std::sync::Arc;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::config::{Config, PropagatorKind};
use crate::guard::Guard;
use crate::processor::{BatchProcessor, SharedStats};
use crate::sampling::{DecidedIdGenerator, RootSampler, SamplingLayer};
use crate::span_layer::{Core, SpanLayer};
use crate::subscriber::{env_filter, fmt_layer, NotInternal};
use crate::{resource, sampler, Error};

/// Reads the configuration from the environment and installs the global subscriber, tracer provider and
/// propagator.
///
/// Keep the returned [`Guard`] alive until the end of `main`: dropping it exports the last spans.
///
/// # Errors
///
/// An invalid environment variable, an exporter that cannot be built, or
/// [`Error::AlreadyInitialized`] when a global subscriber is already set.
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
    if tracing::dispatcher::has_been_set() {
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

/// The OpenTelemetry layer and its guard, configured from the environment, for an application that builds its
/// own subscriber. Sets the global tracer provider and propagator, but not the global subscriber.
///
/// ```no_run
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::util::SubscriberInitExt;
///
/// let (otel, _guard) = traced_runtime::layer().unwrap();
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
    /// # Errors
    ///
    /// An invalid log filter, an exporter that cannot be built, or [`Error::AlreadyInitialized`] when a global
    /// subscriber is already set.
    pub fn init(self) -> Result<Guard, Error> {
        if self.disabled {
            return Ok(Guard::disabled());
        }
        if tracing::dispatcher::has_been_set() {
            return Err(Error::AlreadyInitialized);
        }
        let filter = env_filter(&self.log_filter)?;
        let (provider, guard, core) = start(&self)?;
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(fmt_layer(self.log_format))
            .with(SamplingLayer::new(
                SpanLayer::new(core).with_filter(NotInternal),
                RootSampler::new(&self.sampler),
            ));
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            // Lost a race with another initialisation: `guard` shuts the pipeline down on drop.
            return Err(Error::AlreadyInitialized);
        }
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
        let (provider, guard, core) = start(&self)?;
        let layer = SamplingLayer::new(
            SpanLayer::new(core).with_filter(tracing_subscriber::filter::FilterExt::and(
                NotInternal,
                filter,
            )),
            RootSampler::new(&self.sampler),
        );
        install_globals(&self, provider);
        Ok((Some(layer), guard))
    }
}

/// The tracer provider with our batch processor (for spans made with the OpenTelemetry API), the guard that
/// shuts it down, and what the span layer needs to feed the same queue.
fn start(config: &Config) -> Result<(SdkTracerProvider, Guard, Core), Error> {
    let resource = resource::resource(config);
    let stats = Arc::new(SharedStats::default());
    let limits = sampler::span_limits(&config.limits);
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(sampler::sampler(&config.sampler))
        // Uses the trace id `#[traced]` drew when it judged a root (see `sampling`).
        .with_id_generator(DecidedIdGenerator::default())
        .with_span_limits(limits)
        .with_resource(resource.clone());
    let mut sink = None;
    // `OTEL_TRACES_EXPORTER=none`: spans are still created (for propagation) but no thread is started.
    if !config.exporters.is_empty() || !config.span_exporters.is_empty() {
        let processor = BatchProcessor::start(config, &resource, stats.clone())?;
        sink = Some(processor.sink());
        builder = builder.with_span_processor(processor);
    }
    let provider = builder.build();
    let guard = Guard::new(provider.clone(), stats, config.batch.export_timeout);
    let scope = InstrumentationScope::builder("traced")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let core = Core::new(sampler::sampler(&config.sampler), limits, scope, sink);
    Ok((provider, guard, core))
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
