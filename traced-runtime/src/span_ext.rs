//! [`SpanExt`]: the OpenTelemetry side of a `tracing::Span`, under `traced`'s pipeline or under
//! tracing-opentelemetry's layer.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{Event, SpanContext, Status, TraceContextExt};
use opentelemetry::{Context, Key, KeyValue, Value};
use tracing::span::Id;
use tracing::Dispatch;
use tracing_opentelemetry::OpenTelemetrySpanExt as Stock;

use crate::span_layer::{StateFn, WithSpan};

/// OpenTelemetry operations on a `tracing::Span`: its context (to propagate or to read the trace id), its
/// parent (from an incoming request), links, attributes, status and events set from code.
///
/// It works under the pipeline `traced::init` installs and under a tracing-opentelemetry layer in a subscriber
/// of your own, so code using it does not depend on which one runs. tracing-opentelemetry's own
/// `OpenTelemetrySpanExt` reaches only tracing-opentelemetry's layer: under `traced`'s pipeline its calls do
/// nothing.
///
/// ```
/// use traced_runtime::SpanExt;
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
        let mut parent = Some(parent);
        let mine = on_state(self, &mut |_, state| {
            if let Some(parent) = parent.take() {
                state.set_parent(parent);
            }
        });
        if let (false, Some(parent)) = (mine, parent) {
            // Fails only once the span has started; the documented behaviour is to change nothing then.
            let _ = Stock::set_parent(self, parent);
        }
    }

    fn add_link(&self, span_context: SpanContext) {
        let mut link = Some(span_context);
        let mine = on_state(self, &mut |core, state| {
            if let Some(link) = link.take() {
                state.add_link(link, core);
            }
        });
        if let (false, Some(link)) = (mine, link) {
            Stock::add_link(self, link);
        }
    }

    fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) {
        let mut attribute = Some(KeyValue::new(key, value));
        let mine = on_state(self, &mut |core, state| {
            if let Some(attribute) = attribute.take() {
                state.set_attribute(attribute, core);
            }
        });
        if let (false, Some(attribute)) = (mine, attribute) {
            Stock::set_attribute(self, attribute.key, attribute.value);
        }
    }

    fn set_status(&self, status: Status) {
        let mut status = Some(status);
        let mine = on_state(self, &mut |_, state| {
            if let Some(status) = status.take() {
                state.set_status_from_code(status);
            }
        });
        if let (false, Some(status)) = (mine, status) {
            Stock::set_status(self, status);
        }
    }

    fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        let mut event = Some((name.into(), attributes));
        let mine = on_state(self, &mut |core, state| {
            if let Some((name, attributes)) = event.take() {
                state.add_event(Event::new(name, SystemTime::now(), attributes, 0), core);
            }
        });
        if let (false, Some((name, attributes))) = (mine, event) {
            Stock::add_event(self, name, attributes);
        }
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

/// The span context of the span `id` under `dispatch`, for log lines: from `traced`'s layer or from
/// tracing-opentelemetry's.
pub(crate) fn span_context_of(dispatch: &Dispatch, id: &Id) -> Option<SpanContext> {
    let mut found = None;
    if on_state_of(dispatch, id, &mut |core, state| {
        found = Some(state.span_context(core));
    }) {
        return found;
    }
    tracing_opentelemetry::get_otel_context(id, dispatch).map(|cx| cx.span().span_context().clone())
}
