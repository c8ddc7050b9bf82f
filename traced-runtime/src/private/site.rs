//! The per-fn constants of a `#[traced]` fn or a `span!` block, in the one `static` the expansion writes.
//!
//! The expansion used to call `tracing::span!`, whose `macro_rules!` munch every field token by token, twice (names
//! and values), and write a callsite, a metadata and an enabled check into every fn. The `static` below holds the
//! same callsite and metadata, written as one struct literal, and what the span records when it starts; the rest
//! is non-generic code here, compiled once.

use std::sync::atomic::{fence, AtomicU8, Ordering};
use std::sync::OnceLock;

use opentelemetry::Value;
use tracing::callsite::{Callsite, Identifier};
use tracing::field::FieldSet;
use tracing::metadata::Kind;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};

use super::errors::ErrFormat;
use crate::metrics::function::{Call, FnMetrics, Objective};
use crate::traces::span_layer::{building, Statics};

/// Where a span's place in a trace comes from, which decides whether the sampler is asked before it is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// A `#[traced]` fn: the sampler is asked first, and a span of a dropped trace is not built (`root`: it starts
    /// a trace of its own).
    Ask {
        /// The `root` option.
        root: bool,
    },
    /// A `#[traced(parent = ..)]` fn: the parent decides, so the thread's unsampled mark is cleared while the span
    /// is built.
    Parent,
    /// A `span!` block: a span like any other, kept from the pipeline by its filter inside a dropped trace.
    Inherit,
}

/// Whether a site records function metrics, and with which objective.
#[derive(Clone, Copy, Debug)]
pub enum Metrics {
    /// `metrics(off)`.
    Off,
    /// Recorded, with the `objective(..)` option if any.
    On(Option<Objective>),
}

/// `code.function.name`: the path the macro knows, or, for a `span!` block, the enclosing fn's, read at run time.
#[derive(Clone, Copy, Debug)]
enum Function {
    Path(&'static str),
    Enclosing(fn() -> &'static str),
}

/// One instrumented fn or block: its `tracing` callsite and metadata, and the values its span starts with.
///
/// The field names of the metadata are, in this order: `code.function.name`, `code.file.path`,
/// `code.line.number`, `code.column.number`, then `otel.kind` if the site has a kind, then the keys recorded
/// later (declared empty), then the user's values, which [`Builder::build`](super::Builder::build) takes in
/// the same order.
#[derive(Debug)]
pub struct Site {
    /// The callsite's cached interest and whether its calls are recorded, in one word: see [`Gate`].
    gate: AtomicU8,
    /// [`Registration`]: whether the callsite is known to `tracing` yet.
    registration: AtomicU8,
    meta: Metadata<'static>,
    function: Function,
    line: i64,
    column: i64,
    kind: Option<&'static str>,
    /// How many names of the metadata are the user's (`args`, `fields`, the keys of a `span!`).
    user: usize,
    pub(super) sampling: Sampling,
    pub(super) err: ErrFormat,
    /// The function metrics, named by the span name and the module; `None` with `metrics(off)`.
    metrics: Option<FnMetrics>,
    /// The `code.*` attributes, built at the first span, for the span layer to copy.
    statics: OnceLock<Statics>,
}

/// The fields of [`Site`] whose values are the same in every span: the `code.*` ones.
const STATIC_FIELDS: usize = 4;

/// The names and values of a site, given to [`Site::new`].
#[derive(Clone, Copy, Debug)]
pub struct Names {
    /// The span name.
    pub name: &'static str,
    /// The `tracing` target.
    pub target: &'static str,
    /// `module_path!()`.
    pub module: &'static str,
    /// `file!()`.
    pub file: &'static str,
    /// `line!()` of the fn's name or of the `span!`.
    pub line: u32,
    /// `column!()` of the fn's name or of the `span!`.
    pub column: u32,
    /// Every field name of the span, in the order of [`Site`].
    pub fields: &'static [&'static str],
    /// How many of `fields` are the user's, at the end.
    pub user: usize,
}

impl Site {
    /// A `#[traced]` fn; `this` is the `static` being defined (its callsite and metadata point at each other).
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        this: &'static Site,
        names: Names,
        level: Level,
        function: &'static str,
        kind: Option<&'static str>,
        sampling: Sampling,
        err: ErrFormat,
        metrics: Metrics,
    ) -> Site {
        Site::with(
            this,
            names,
            level,
            Function::Path(function),
            kind,
            sampling,
            err,
            metrics,
        )
    }

    /// A `span!` block (level INFO, errors with `Display`); `here` gives the path of the enclosing fn.
    pub const fn block(this: &'static Site, names: Names, here: fn() -> &'static str) -> Site {
        Site::with(
            this,
            names,
            Level::INFO,
            Function::Enclosing(here),
            None,
            Sampling::Inherit,
            ErrFormat::Display,
            Metrics::On(None),
        )
    }

    #[allow(clippy::too_many_arguments)]
    const fn with(
        this: &'static Site,
        names: Names,
        level: Level,
        function: Function,
        kind: Option<&'static str>,
        sampling: Sampling,
        err: ErrFormat,
        metrics: Metrics,
    ) -> Site {
        Site {
            gate: AtomicU8::new(Gate::UNREGISTERED),
            registration: AtomicU8::new(Registration::NO),
            meta: Metadata::new(
                names.name,
                names.target,
                level,
                Some(names.file),
                Some(names.line),
                Some(names.module),
                FieldSet::new(names.fields, Identifier(this)),
                Kind::SPAN,
            ),
            function,
            // `line!()` and `column!()` are `u32`s, which tracing-opentelemetry exports as text: OTLP integers.
            line: names.line as i64,
            column: names.column as i64,
            kind,
            user: names.user,
            sampling,
            err,
            metrics: match metrics {
                Metrics::Off => None,
                Metrics::On(objective) => Some(FnMetrics::new(names.name, names.module, objective)),
            },
            statics: OnceLock::new(),
        }
    }

    /// Starts a call of the site's function metrics (one load when metrics are off). Whether the call is the
    /// caller of what runs on this thread is up to the body: for each run of a sync body, for each poll of an
    /// async one.
    #[inline]
    pub(super) fn call(&'static self) -> Call {
        match &self.metrics {
            Some(metrics) => metrics.call_async(),
            None => Call::OFF,
        }
    }

    /// True when a call of this site is recorded by the function metrics (a pipeline records them, or a test
    /// captures them).
    #[inline(always)]
    pub(super) fn records_calls(&self) -> bool {
        crate::metrics::function::is_recording() && self.metrics.is_some()
    }

    /// The span's level.
    #[inline(always)]
    pub(super) fn level(&self) -> Level {
        *self.meta.level()
    }

    /// True when a call has nothing to do: no subscriber can want its span and its calls are not recorded. One
    /// load and compare, from the site's own `static`: `#[instrument]`'s check loads `tracing`'s max level, and
    /// the function metrics' flag would be a second load beside it.
    #[inline(always)]
    pub(super) fn idle(&self) -> bool {
        self.gate.load(Ordering::Relaxed) == Gate::IDLE
    }

    /// The callsite's cached interest, registering it with `tracing` at the first call.
    #[inline]
    pub(super) fn interest(&'static self) -> Interest {
        match self.gate.load(Ordering::Relaxed) & Gate::INTEREST {
            Gate::NEVER => Interest::never(),
            Gate::ALWAYS => Interest::always(),
            Gate::SOMETIMES => Interest::sometimes(),
            _ => self.register(),
        }
    }

    /// Registers the callsite (once: its interest is then set by `tracing` through [`Callsite::set_interest`]).
    /// While another thread registers it, the dispatcher is asked ("sometimes"), as `tracing`'s own callsites do.
    #[cold]
    #[inline(never)]
    fn register(&'static self) -> Interest {
        match self.registration.compare_exchange(
            Registration::NO,
            Registration::UNDER_WAY,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                tracing::callsite::register(self);
                self.registration
                    .store(Registration::DONE, Ordering::Release);
                self.interest()
            }
            Err(_) => Interest::sometimes(),
        }
    }

    /// True when the subscriber wants this span: the callsite's cached interest, else the dispatcher's answer
    /// (what `tracing::span!` asks after the level check).
    #[inline]
    pub(super) fn is_enabled(&'static self) -> bool {
        let interest = self.interest();
        !interest.is_never()
            && (interest.is_always()
                || tracing::dispatcher::get_default(|dispatch| dispatch.enabled(&self.meta)))
    }

    /// [`Site::is_enabled`] as a check under a dispatcher the caller looks up itself. The interest is read
    /// here, before that look-up: the first read registers the callsite, which asks the current dispatcher, and
    /// inside `get_default` that would be no dispatcher at all.
    #[inline]
    pub(super) fn enabled_check(&'static self) -> impl Fn(&tracing::Dispatch) -> bool {
        let interest = self.interest();
        move |dispatch| {
            !interest.is_never() && (interest.is_always() || dispatch.enabled(&self.meta))
        }
    }

    pub(super) fn meta(&'static self) -> &'static Metadata<'static> {
        &self.meta
    }

    /// Runs `f` with the values of every field: the `code.*` ones (and `otel.kind`) first, the fields recorded
    /// later empty, `user` last. With `statics_only` (no layer but `traced`'s, which takes them from the site's
    /// statics) the `code.*` values are left out, which saves visiting them.
    #[inline]
    pub(super) fn with_values<R>(
        &'static self,
        user: &[Option<&dyn tracing::Value>],
        statics_only: bool,
        f: impl FnOnce(&[Option<&dyn tracing::Value>]) -> R,
    ) -> R {
        let function = self.function();
        let file = self.meta.file().unwrap_or_default();
        let code: [Option<&dyn tracing::Value>; STATIC_FIELDS] = if statics_only {
            [None; STATIC_FIELDS]
        } else {
            [
                Some(&function),
                Some(&file),
                Some(&self.line),
                Some(&self.column),
            ]
        };
        let fixed: [Option<&dyn tracing::Value>; STATIC_FIELDS + 1] = [
            code[0],
            code[1],
            code[2],
            code[3],
            match &self.kind {
                Some(kind) => Some(kind),
                None => None,
            },
        ];
        let fixed = &fixed[..STATIC_FIELDS + usize::from(self.kind.is_some())];
        let total = self.meta.fields().len();
        let later = total - fixed.len() - self.user;
        debug_assert_eq!(
            user.len(),
            self.user,
            "the values of `{}`",
            self.meta.name()
        );
        // Every `#[traced]` span without `fields(..)` fits: 4 + 1 + 7 names at most.
        const INLINE: usize = 16;
        building(self.statics(), || {
            if total <= INLINE {
                let mut all: [Option<&dyn tracing::Value>; INLINE] = [None; INLINE];
                all[..fixed.len()].copy_from_slice(fixed);
                all[fixed.len() + later..total].copy_from_slice(user);
                f(&all[..total])
            } else {
                let mut all = Vec::with_capacity(total);
                all.extend_from_slice(fixed);
                all.resize(fixed.len() + later, None);
                all.extend_from_slice(user);
                f(&all)
            }
        })
    }

    /// `code.function.name`.
    fn function(&self) -> &'static str {
        match self.function {
            Function::Path(path) => path,
            Function::Enclosing(here) => super::location::enclosing_fn(here()),
        }
    }

    /// The values of the first [`STATIC_FIELDS`] fields, as attributes.
    fn statics(&'static self) -> &'static Statics {
        self.statics.get_or_init(|| {
            let values: [Value; STATIC_FIELDS] = [
                self.function().into(),
                self.meta.file().unwrap_or_default().into(),
                self.line.into(),
                self.column.into(),
            ];
            Statics::new(&self.meta, values)
        })
    }
}

/// The values of [`Site::gate`]: the interest `tracing` set (two bits), and [`Gate::RECORDS`] when the site's calls
/// are recorded by the function metrics. Zero, [`Gate::IDLE`], is the only value under which a call skips
/// everything; a site not registered yet is never idle.
struct Gate;

impl Gate {
    const NEVER: u8 = 0;
    const SOMETIMES: u8 = 1;
    const ALWAYS: u8 = 2;
    const UNREGISTERED: u8 = 3;
    const INTEREST: u8 = 3;
    const RECORDS: u8 = 4;
    const IDLE: u8 = Gate::NEVER;
}

/// The values of [`Site::registration`].
struct Registration;

impl Registration {
    const NO: u8 = 0;
    const UNDER_WAY: u8 = 1;
    const DONE: u8 = 2;
}

impl Callsite for Site {
    /// Caches the interest with whether calls are recorded. Turning the recording on rebuilds every callsite's
    /// interest (`metrics::function::set_on`); a rebuild of `tracing`'s own running at the same
    /// time may have read the flag before, so the flag is read again after the store, the two fences ordering the
    /// stores of both: the last word stored holds the flag's last value.
    fn set_interest(&self, interest: Interest) {
        let interest =
            if self.level() > tracing::level_filters::STATIC_MAX_LEVEL || interest.is_never() {
                Gate::NEVER
            } else if interest.is_always() {
                Gate::ALWAYS
            } else {
                Gate::SOMETIMES
            };
        loop {
            fence(Ordering::SeqCst);
            let records = self.records_calls();
            let gate = interest | if records { Gate::RECORDS } else { 0 };
            self.gate.store(gate, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if self.records_calls() == records {
                break;
            }
        }
    }

    fn metadata(&self) -> &Metadata<'_> {
        &self.meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::function;

    const fn site(this: &'static Site, name: &'static str, metrics: Metrics) -> Site {
        Site::new(
            this,
            Names {
                name,
                target: module_path!(),
                module: module_path!(),
                file: file!(),
                line: 1,
                column: 1,
                fields: &[
                    "code.function.name",
                    "code.file.path",
                    "code.line.number",
                    "code.column.number",
                ],
                user: 0,
            },
            Level::INFO,
            name,
            None,
            Sampling::Ask { root: false },
            ErrFormat::Display,
            metrics,
        )
    }

    static COUNTED: Site = site(&COUNTED, "counted", Metrics::On(None));
    static UNCOUNTED: Site = site(&UNCOUNTED, "uncounted", Metrics::Off);

    // nextest runs each test in a process of its own: no dispatcher and no recording but this test's.
    #[test]
    fn a_site_is_idle_while_nothing_wants_its_span_or_counts_its_calls() {
        assert!(!COUNTED.idle(), "not idle before it is registered");
        assert!(COUNTED.interest().is_never(), "no subscriber");
        assert!(COUNTED.idle());
        assert!(UNCOUNTED.interest().is_never());
        function::set_on(true);
        assert!(!COUNTED.idle(), "its calls are recorded now");
        assert!(UNCOUNTED.idle(), "`metrics(off)`");
        function::set_on(false);
        assert!(COUNTED.idle());
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry());
        tracing::dispatcher::with_default(&dispatch, || {
            assert!(UNCOUNTED.interest().is_always());
            assert!(!UNCOUNTED.idle(), "a subscriber wants its span");
        });
    }
}
