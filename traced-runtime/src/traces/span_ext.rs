//! [`SpanExt`]: the OpenTelemetry side of a `tracing::Span`, under `traced`'s pipeline or under
//! tracing-opentelemetry's layer.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{Event, SpanContext, Status};
use opentelemetry::{Context, Key, KeyValue, Value};
use tracing::span::Id;
use tracing::Dispatch;
use tracing_opentelemetry::OpenTelemetrySpanExt as Stock;

use super::span_layer::{Core, SpanState, StateFn, WithSpan};

/// OpenTelemetry operations on a `tracing::Span`: its context (to propagate or to read the trace id), its
/// parent (from an incoming request), links, attributes, status and events set from code.
///
/// It works under the pipeline `traced::init` installs and under a tracing-opentelemetry layer in a subscriber
/// of your own, so code using it does not depend on which one runs. tracing-opentelemetry's own
/// `OpenTelemetrySpanExt` reaches only tracing-opentelemetry's layer: under `traced`'s pipeline its calls do
/// nothing.
///
/// ```
/// use traced::SpanExt;
///
/// let span = tracing::info_span!("checkout");
/// span.set_attribute("cart.items", 3);
/// // No subscriber here: the context names no span.
/// use opentelemetry::trace::TraceContextExt;
/// assert!(!span.context().span().span_context().is_valid());
/// ```
pub trait SpanExt {
    /// The span's OpenTelemetry context: its parent context with this span current. Starts the span (draws
    /// its ids, asks the sampler) if it has not been entered yet.
    fn context(&self) -> Context;

    /// Sets the span's OpenTelemetry parent, for example a context extracted from request headers. Only
    /// before the span is first entered (or its context read); later calls change nothing.
    fn set_parent(&self, parent: Context);

    /// Links the span to another span, for example the producer of a message being consumed.
    fn add_link(&self, span_context: SpanContext);

    /// Sets an attribute whose key is not known when the span is created.
    fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>);

    /// Sets the span's status (`Ok` is final; an error replaces an error).
    fn set_status(&self, status: Status);

    /// Adds an event with attributes.
    fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>);
}

impl SpanExt for tracing::Span {
    fn context(&self) -> Context {
        let mut cx = None;
        if on_state(self, &mut |core, state| cx = Some(state.context(core))) {
            return cx.unwrap_or_default();
        }
        Stock::context(self)
    }

    fn set_parent(&self, parent: Context) {
        ours_or_stock(
            self,
            parent,
            |_, state, parent| {
                state.set_parent(parent);
            },
            |span, parent| {
                // Fails only once the span has started; the documented behaviour is to change nothing then.
                let _ = Stock::set_parent(span, parent);
            },
        );
    }

    fn add_link(&self, span_context: SpanContext) {
        ours_or_stock(
            self,
            span_context,
            |core, state, link| state.add_link(link, core),
            Stock::add_link,
        );
    }

    fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) {
        ours_or_stock(
            self,
            KeyValue::new(key, value),
            |core, state, attribute| state.set_attribute(attribute, core),
            |span, attribute| Stock::set_attribute(span, attribute.key, attribute.value),
        );
    }

    fn set_status(&self, status: Status) {
        ours_or_stock(
            self,
            status,
            |_, state, status| state.set_status(status),
            Stock::set_status,
        );
    }

    fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        ours_or_stock(
            self,
            (name.into(), attributes),
            |core, state, (name, attributes)| {
                state.add_event(Event::new(name, SystemTime::now(), attributes, 0), core);
            },
            |span, (name, attributes)| Stock::add_event(span, name, attributes),
        );
    }
}

/// Hands `value` to `ours` when `traced`'s span layer holds `span`, to `stock` (tracing-opentelemetry's
/// extension) otherwise.
fn ours_or_stock<T>(
    span: &tracing::Span,
    value: T,
    ours: impl FnOnce(&Core, &mut SpanState, T),
    stock: impl FnOnce(&tracing::Span, T),
) {
    let mut pending = Some((value, ours));
    on_state(span, &mut |core, state| {
        if let Some((value, ours)) = pending.take() {
            ours(core, state, value);
        }
    });
    if let Some((value, _)) = pending {
        stock(span, value);
    }
}

/// Runs `f` on the state of `span` if `traced`'s span layer holds it; false otherwise (no subscriber, a
/// disabled span, or another layer).
fn on_state(span: &tracing::Span, f: &mut StateFn<'_>) -> bool {
    let mut found = false;
    span.with_subscriber(|(id, dispatch)| {
        found = on_state_of(dispatch, id, f);
    });
    found
}

fn on_state_of(dispatch: &Dispatch, id: &Id, f: &mut StateFn<'_>) -> bool {
    let mut found = false;
    if let Some(with) = dispatch.downcast_ref::<WithSpan>() {
        (with.with)(dispatch, id, &mut |core, state| {
            found = true;
            f(core, state);
        });
    }
    found
}
