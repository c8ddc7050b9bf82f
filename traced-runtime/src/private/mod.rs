//! Everything the expansion of `#[traced]` and `span!` calls. Not a stable API: only the macro of the same version
//! may use it (`traced-runtime` pins `traced-macros` with `=x.y.z`).
//!
//! Every helper here checks `Span::is_disabled` before it reads a clock, allocates or formats, so a fn whose span
//! is disabled (no subscriber, level filtered out) does no more work than `#[tracing::instrument]` would, and a
//! fn whose trace the sampler drops builds no span at all.
//!
//! - `run`: running a body in its span: the level check, the sampling decision, timing, panics, futures;
//!   `run/pooled.rs` keeps the state of an async call without a span behind one pointer, the boxes reused per
//!   thread.
//! - `errors`: what an `Err` in the returned value records, found by the value's type.
//! - `values`: arguments, fields and return values as attributes of their own OTLP type.
//! - `parents`: what `parent = ..` and `link = ..` accept.
//! - `site`: the `static` of per-fn constants each expansion writes (the `tracing` callsite among them).
//! - `location`: the path of the fn a `span!` block is written in.

mod errors;
mod location;
mod parents;
mod run;
mod site;
mod values;

pub use ::tracing;
pub use traced_conventions as conventions;

pub use crate::metrics::function::{
    Call, ErrorType, FnMetrics, InCall, NoErrorType, Objective, Outcome,
};

pub use errors::{
    record_exception, AsDynError, Describe, ErrFormat, Failure, RecordDebugError, RecordDerefError,
    RecordDisplayError, RecordNothing, RecordStdError, Returned, EXCEPTION_TARGET,
};
pub use location::enclosing_fn;
pub use parents::{enter_parent, parent, Link, Parent};
pub use run::{
    begin, idle, start, unreachable, Begin, Builder, Marked, Once, Plain, Running, Started, Traced,
};
pub use site::{Metrics, Names, Sampling, Site};
pub use values::{
    field, AsDebug, AsDisplay, AsField, AsNative, Native, Ret, RetOk, RetWhole, Shown, Unsigned,
    Value,
};
