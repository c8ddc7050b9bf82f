//! The `tracing` side: filters, the stderr log format, and the OpenTelemetry layer.

use std::io::IsTerminal;

use traced_conventions::span::CODE_FIELDS;
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

mod compact;
mod json;
pub(crate) mod lines;

use crate::export::thread::{in_export_thread, is_internal};
use crate::traces::sampling::in_unsampled_trace;
use crate::Error;

/// The per-layer filter of the OpenTelemetry layer: nothing from the pipeline itself, nothing from the export
/// thread (whatever a transport instruments there), no span of a trace the sampler dropped (see `sampling`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NotInternal;

impl<S> Filter<S> for NotInternal {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        let dropped_trace = meta.is_span() && in_unsampled_trace();
        // The target's prefixes last: they are the dearest check.
        !dropped_trace && !in_export_thread() && !is_internal(meta.target())
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_internal(meta.target()) {
            Interest::never()
        } else {
            // The thread check is dynamic: ask `enabled` each time.
            Interest::sometimes()
        }
    }
}

/// True for the callsite of a `#[traced]` fn or a `span!` block: its fields start with the `code.*` ones.
fn is_site(meta: &Metadata<'_>) -> bool {
    let fields = meta.fields();
    meta.is_span()
        && fields.len() >= CODE_FIELDS.len()
        && fields
            .iter()
            .zip(CODE_FIELDS)
            .all(|(field, name)| field.name() == name)
}

/// [`NotInternal`] applied by the OpenTelemetry layers' own callbacks instead of as their per-layer filter. What
/// it saves is `Filtered`'s work on every callback of every span: a span lookup and a filter-state check on each
/// enter, exit, record and close, about 600 instructions a span. The spans it leaves out get no state (the layers
/// ignore spans without one), its events are not passed on. Under a subscriber of the application's own
/// (`Config::layer`), whose other layers are unknown, the layer stays per-layer filtered; with no log format, the
/// span subscriber makes these checks itself (see [`LogFilter::with_not_internal`]).
pub(crate) struct SkipInternal<L> {
    layer: L,
}

impl<L> SkipInternal<L> {
    /// Beside a log format, which is interested in every span and event the log filter lets through: an
    /// interest of this layer's would add nothing, so every check is made here.
    pub(crate) fn beside_log_format(layer: L) -> Self {
        SkipInternal { layer }
    }
}

impl<S: Subscriber, L: Layer<S>> Layer<S> for SkipInternal<L> {
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.layer.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.layer.on_layer(subscriber);
    }

    /// Every callsite: which ones are enabled is for the log filter and the log format to say.
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if Filter::<S>::enabled(&NotInternal, attrs.metadata(), &ctx) {
            self.layer.on_new_span(attrs, id, ctx);
        }
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.layer.on_record(span, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.layer.on_follows_from(span, follows, ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if Filter::<S>::enabled(&NotInternal, event.metadata(), &ctx) {
            self.layer.on_event(event, ctx);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.layer.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.layer.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.layer.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.layer.on_id_change(old, new, ctx);
    }

    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<Self>() {
            Some(std::ptr::from_ref(self).cast())
        } else {
            // SAFETY: forwarded to the inner layer, whose answer is for its own type.
            unsafe { self.layer.downcast_raw(id) }
        }
    }
}

/// The OpenTelemetry crates' own log lines (`Global tracer provider is set` at INFO on every start, with
/// `opentelemetry`'s default features) are kept to warnings unless `RUST_LOG` names them.
const SDK_DIRECTIVE: &str = "opentelemetry=warn";

/// `RUST_LOG` as the pipeline's filter, the SDK's chatter at WARN unless a directive names `opentelemetry` (one
/// that names a longer target, `opentelemetry_sdk=debug`, is more specific and wins over ours anyway).
pub(crate) fn env_filter(directives: &str) -> Result<LogFilter, Error> {
    let filter = EnvFilter::builder()
        .parse(directives)
        .map_err(|e| Error::invalid("RUST_LOG", directives, e.to_string()))?;
    let names_the_sdk = directives
        .split(',')
        .filter_map(|directive| directive.split_once('='))
        .any(|(target, _)| target.trim() == "opentelemetry");
    let filter = if names_the_sdk {
        filter
    } else {
        // A constant directive: it parses.
        filter.add_directive(SDK_DIRECTIVE.parse().expect("a valid directive"))
    };
    Ok(LogFilter {
        filter,
        // Span and field directives, `target[span{field=value}]=level`, are the only ones in brackets.
        per_span: directives.contains('['),
        not_internal: false,
    })
}

/// An [`EnvFilter`] that is told about spans only when it has span or field directives. Without them it keeps no
/// state per span, yet as a layer (or a per-layer filter) it still takes a shared `RwLock` and looks the span up
/// on every enter, exit, record and close of every span, to find out: an atomic write on a cache line all threads
/// share, several times per span. The verdicts are the `EnvFilter`'s either way.
#[derive(Debug)]
pub(crate) struct LogFilter {
    filter: EnvFilter,
    /// The directives filter by span or field: the `EnvFilter` follows spans.
    per_span: bool,
    /// [`NotInternal`] too (see [`LogFilter::with_not_internal`]).
    not_internal: bool,
}

impl LogFilter {
    /// This filter and [`NotInternal`] as one global filter, above the span subscriber (no log format): the same
    /// verdicts as `NotInternal` per layer, without `Filtered`'s work on every callback of every span. It leaves out
    /// the internal targets by callsite and asks `NotInternal` of every other span and event, except the spans of
    /// the expansion's sites: those it lets through by callsite, so that a `#[traced]` span costs no `enabled`
    /// call of the whole subscriber, and the span subscriber checks per span whether their trace was dropped and
    /// whether they run on the export thread.
    pub(crate) fn with_not_internal(mut self) -> Self {
        self.not_internal = true;
        self
    }
}

/// The span callbacks of [`LogFilter`] as a layer and as a per-layer filter: passed to the `EnvFilter` only when
/// it follows spans.
macro_rules! span_callbacks {
    ($as:ident) => {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            if self.per_span {
                $as::<S>::on_new_span(&self.filter, attrs, id, ctx);
            }
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
            if self.per_span {
                $as::<S>::on_record(&self.filter, id, values, ctx);
            }
        }

        fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
            if self.per_span {
                $as::<S>::on_enter(&self.filter, id, ctx);
            }
        }

        fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
            if self.per_span {
                $as::<S>::on_exit(&self.filter, id, ctx);
            }
        }

        fn on_close(&self, id: Id, ctx: Context<'_, S>) {
            if self.per_span {
                $as::<S>::on_close(&self.filter, id, ctx);
            }
        }
    };
}

impl<S: Subscriber> Layer<S> for LogFilter {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        let interest = Layer::<S>::register_callsite(&self.filter, metadata);
        if !self.not_internal || interest.is_never() {
            return interest;
        }
        let ours = Filter::<S>::callsite_enabled(&NotInternal, metadata);
        if ours.is_sometimes() && is_site(metadata) {
            // The layer checks these spans itself (the span subscriber); a `#[traced]` fn asks the
            // sampler before it builds its span, so that in a dropped trace it builds none.
            interest
        } else {
            ours
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Layer::<S>::max_level_hint(&self.filter)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        // `NotInternal` is asked for internal targets too, despite its callsite verdict: when another dispatcher
        // of the process is interested in a callsite, every dispatcher's `enabled` decides for itself.
        (!self.not_internal || Filter::<S>::enabled(&NotInternal, metadata, &ctx))
            && Layer::<S>::enabled(&self.filter, metadata, ctx)
    }

    span_callbacks!(Layer);
}

impl<S: Subscriber> Filter<S> for LogFilter {
    fn enabled(&self, meta: &Metadata<'_>, ctx: &Context<'_, S>) -> bool {
        Filter::<S>::enabled(&self.filter, meta, ctx)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        Filter::<S>::callsite_enabled(&self.filter, meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Filter::<S>::max_level_hint(&self.filter)
    }

    span_callbacks!(Filter);
}

/// The stderr log layer of the pretty format (tracing-subscriber's own, over the registry); the span subscriber
/// prints the other formats itself ([`lines`]).
pub(crate) fn pretty_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .pretty()
        .with_ansi(std::io::stderr().is_terminal())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::json::JsonVisitor;
    use super::*;
    use crate::traces::span_subscriber::site_span;

    /// What reached a layer: `span NAME` per span, `TARGET MESSAGE` per event.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl Seen {
        fn taken(&self) -> Vec<String> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _cx: Context<'_, S>) {
            let name = attrs.metadata().name();
            self.0.lock().unwrap().push(format!("span {name}"));
        }

        fn on_event(&self, event: &Event<'_>, _cx: Context<'_, S>) {
            let mut fields = serde_json::Map::new();
            event.record(&mut JsonVisitor(&mut fields));
            let message = fields.get("message").and_then(|value| value.as_str());
            let line = format!(
                "{} {}",
                event.metadata().target(),
                message.unwrap_or_default()
            );
            self.0.lock().unwrap().push(line);
        }
    }

    /// What passes `RUST_LOG=directives` of INFO events of the application, the SDK and the SDK's OTLP crate.
    fn info_passes(directives: &str) -> Vec<String> {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry()
            .with(env_filter(directives).unwrap())
            .with(seen.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "app", "paid");
            tracing::info!(target: "opentelemetry", "set");
            tracing::info!(target: "opentelemetry_sdk", "built");
        });
        seen.taken()
    }

    #[test]
    fn the_sdk_chatter_stays_off_unless_named() {
        assert_eq!(info_passes("info"), ["app paid"]);
        assert_eq!(info_passes("debug,hyper=off"), ["app paid"]);
        assert_eq!(
            info_passes("info,opentelemetry_sdk=info"),
            ["app paid", "opentelemetry_sdk built"]
        );
        assert_eq!(
            info_passes("opentelemetry=info"),
            ["opentelemetry set", "opentelemetry_sdk built"]
        );
    }

    /// What passes `RUST_LOG=directives` of two DEBUG events, one inside an INFO span `checkout`, one outside;
    /// with the filter as the subscriber's global filter, or as the per-layer filter of the layer that sees them.
    fn debug_passes(directives: &str, per_layer: bool) -> Vec<String> {
        let seen = Seen::default();
        let filter = env_filter(directives).unwrap();
        let events = || {
            tracing::info_span!(target: "app", "checkout")
                .in_scope(|| tracing::debug!(target: "app", "inside"));
            tracing::debug!(target: "app", "outside");
        };
        if per_layer {
            let layer = seen.clone().with_filter(filter);
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), events);
        } else {
            let subscriber = tracing_subscriber::registry()
                .with(filter)
                .with(seen.clone());
            tracing::subscriber::with_default(subscriber, events);
        }
        seen.taken()
    }

    #[test]
    fn span_directives_are_followed_static_ones_need_no_span_state() {
        for per_layer in [false, true] {
            assert_eq!(
                debug_passes("info,[checkout]=debug", per_layer),
                ["span checkout", "app inside"]
            );
            assert_eq!(debug_passes("info", per_layer), ["span checkout"]);
            assert_eq!(
                debug_passes("debug", per_layer),
                ["span checkout", "app inside", "app outside"]
            );
        }
        assert!(env_filter("info,[checkout]=debug").unwrap().per_span);
        assert!(!env_filter("debug,my_app::db=trace").unwrap().per_span);
    }

    #[test]
    fn the_log_filter_with_not_internal_as_the_global_filter() {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry()
            .with(env_filter("info").unwrap().with_not_internal())
            .with(seen.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("work").in_scope(|| tracing::info!(target: "app", "paid"));
            tracing::info_span!(target: "h2", "stream").in_scope(|| {
                tracing::info!(target: "tonic::transport", "sent");
            });
        });
        assert_eq!(seen.taken(), ["span work", "app paid"]);
    }

    /// The span subscriber below the filter checks the sites' spans per span (its tests: in a dropped trace such a
    /// span is built and left out of the pipeline).
    #[test]
    fn under_the_log_filter_sites_are_let_through_by_callsite() {
        let seen = Seen::default();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::registry()
                .with(env_filter("info").unwrap().with_not_internal())
                .with(seen.clone()),
        );
        tracing::dispatcher::with_default(&dispatch, || {
            let site = site_span();
            let plain = tracing::info_span!("plain");
            let internal = tracing::info_span!(target: "h2", "stream");
            let interest = |span: &tracing::Span| {
                dispatch.register_callsite(span.metadata().expect("an enabled span"))
            };
            // No `enabled` call for the sites' spans; the other ones' are still asked about.
            assert!(interest(&site).is_always());
            assert!(interest(&plain).is_sometimes());
            assert!(internal.is_disabled());
            assert_eq!(seen.taken(), ["span site", "span plain"]);

            let _dropped = crate::traces::sampling::Mark::set(Some(
                crate::traces::sampling::Unsampled::for_test(),
            ));
            let site = site_span();
            let plain = tracing::info_span!("plain");
            assert!(!site.is_disabled(), "let through by its callsite");
            assert!(plain.is_disabled());
            tracing::info!(target: "app", "paid");
            assert_eq!(
                seen.taken(),
                ["span site", "app paid"],
                "events are not a trace's spans"
            );
        });
    }

    #[test]
    fn beside_a_log_format_every_check_is_the_layers() {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry()
            .with(env_filter("info").unwrap())
            .with(SkipInternal::beside_log_format(seen.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let _spans = (site_span(), tracing::info_span!(target: "h2", "stream"));
            tracing::info!(target: "tonic::transport", "sent");
            let _dropped = crate::traces::sampling::Mark::set(Some(
                crate::traces::sampling::Unsampled::for_test(),
            ));
            let _span = tracing::info_span!("plain");
        });
        assert_eq!(seen.taken(), ["span site"]);
    }

    #[test]
    fn internal_targets() {
        for target in [
            "opentelemetry_sdk",
            "opentelemetry-otlp",
            "opentelemetry",
            "tonic::transport",
            "h2",
            "hyper_util::client",
            "traced_export",
        ] {
            assert!(is_internal(target), "{target}");
        }
        for target in ["h2o", "my_app", "tower_http::trace", "hyperion"] {
            assert!(!is_internal(target), "{target}");
        }
    }
}
