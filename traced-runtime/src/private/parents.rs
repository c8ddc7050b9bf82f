//! What `parent = expr` and `link = expr` accept: `tracing` spans and OpenTelemetry contexts.

use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::{Context, ContextGuard};
use tracing::Span;

/// What `parent = expr` accepts: a `tracing::Span`, an OpenTelemetry `Context` (for example one extracted from
/// request headers), a `SpanContext`, a reference to one of them, or an `Option` of them (`None`: a root span).
#[diagnostic::on_unimplemented(
    message = "`parent = ..` takes a `tracing::Span`, an `opentelemetry::Context`, a `SpanContext` or an `Option` of them, not `{Self}`",
    label = "not a `tracing::Span`, `opentelemetry::Context`, `SpanContext` or `Option` of them"
)]
pub trait Parent {
    /// The parent in the `tracing` tree (the current span for OpenTelemetry contexts, so logs still nest).
    fn tracing_parent(&self) -> Option<tracing::Id>;
    /// Sets the OpenTelemetry parent, before the span is first entered.
    fn apply(&self, span: &Span);
    /// The OpenTelemetry context the span will have as its parent's: current while `fields(..)` and `args(..)`
    /// are evaluated, so what they read of the context (baggage, trace id) is the parent's.
    fn context(&self) -> Context;
}

impl Parent for Span {
    fn tracing_parent(&self) -> Option<tracing::Id> {
        self.id()
    }
    fn apply(&self, _span: &Span) {}
    fn context(&self) -> Context {
        crate::SpanExt::context(self)
    }
}

impl Parent for Context {
    fn tracing_parent(&self) -> Option<tracing::Id> {
        Span::current().id()
    }
    fn apply(&self, span: &Span) {
        if !span.is_disabled() {
            crate::SpanExt::set_parent(span, self.clone());
        }
    }
    fn context(&self) -> Context {
        self.clone()
    }
}

impl Parent for SpanContext {
    fn tracing_parent(&self) -> Option<tracing::Id> {
        Span::current().id()
    }
    fn apply(&self, span: &Span) {
        Parent::apply(&self.context(), span);
    }
    fn context(&self) -> Context {
        Context::new().with_remote_span_context(self.clone())
    }
}

/// `None` starts a root span, as `parent: None` does in `tracing`.
impl<P: Parent> Parent for Option<P> {
    fn tracing_parent(&self) -> Option<tracing::Id> {
        self.as_ref().and_then(Parent::tracing_parent)
    }
    fn apply(&self, span: &Span) {
        match self {
            Some(parent) => parent.apply(span),
            None => Parent::apply(&Context::new(), span),
        }
    }
    fn context(&self) -> Context {
        self.as_ref().map_or_else(Context::new, Parent::context)
    }
}

impl<P: Parent + ?Sized> Parent for &P {
    fn tracing_parent(&self) -> Option<tracing::Id> {
        (**self).tracing_parent()
    }
    fn apply(&self, span: &Span) {
        (**self).apply(span);
    }
    fn context(&self) -> Context {
        (**self).context()
    }
}

/// Checks the type of `parent = expr` where the user wrote it (the bound names the types it takes); what follows
/// uses the trait object, so a wrong type is reported once. `Sync`, so that the reference is `Send` wherever an
/// async fn holds it.
#[inline(always)]
pub fn parent<P: Parent + Sync>(parent: &P) -> &(dyn Parent + Sync) {
    parent
}

/// Makes the parent's context current until dropped: `fields(..)` and `args(..)` are evaluated under it.
#[inline(never)]
pub fn enter_parent(parent: &dyn Parent) -> ContextGuard {
    parent.context().attach()
}

/// What `link = expr` accepts: a `SpanContext`, an OpenTelemetry `Context`, or a `tracing::Span`.
pub trait Link {
    /// Adds a link to `span` (invalid span contexts are ignored).
    fn add_to(&self, span: &Span);
}

impl Link for SpanContext {
    fn add_to(&self, span: &Span) {
        if !span.is_disabled() && self.is_valid() {
            crate::SpanExt::add_link(span, self.clone());
        }
    }
}

impl Link for opentelemetry::Context {
    fn add_to(&self, span: &Span) {
        self.span().span_context().add_to(span);
    }
}

impl Link for Span {
    fn add_to(&self, span: &Span) {
        if !span.is_disabled() {
            crate::SpanExt::context(self)
                .span()
                .span_context()
                .add_to(span);
        }
    }
}

impl<L: Link + ?Sized> Link for &L {
    fn add_to(&self, span: &Span) {
        (**self).add_to(span);
    }
}
