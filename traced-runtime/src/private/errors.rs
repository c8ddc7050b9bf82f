//! What an `Err` in the returned value records, chosen by the value's type (autoref specialization): the message,
//! `error.type`, the `source()` chain when the error has one, status ERROR and an `exception` event on the span,
//! and one log line per error.
//!
//! The probe a fn instantiates only borrows the error as a trait object ([`Failure`]); everything that formats and
//! records is the non-generic `record_failure`, compiled once rather than once per error type and fn.

use std::cell::Cell;
use std::error::Error;
use std::fmt::{Debug, Display};
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};

use opentelemetry::KeyValue;
use traced_conventions::error::{
    ERROR_CHAIN, ERROR_TYPE, EXCEPTION, EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE, EXCEPTION_TYPE,
};
use traced_conventions::otel::{STATUS_CODE, STATUS_DESCRIPTION};
use traced_conventions::value::{error_chain, error_type, DEBUG_PANICKED, DISPLAY_PANICKED};
use tracing::Span;

/// Target of the error lines the expansion logs, so filters can name them (`RUST_LOG=info,traced=off` silences
/// them; the spans keep their exception events).
pub const EXCEPTION_TARGET: &str = crate::export::log_record::ERROR_LINE_TARGET;

/// How an `Err` is described (`Display` by default, `err(Debug)`), and whether the fn logs it (`err(log = off)`
/// turns its line off; the span still records the error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrFormat {
    debug: bool,
    log: bool,
}

#[allow(non_upper_case_globals)]
impl ErrFormat {
    /// With `Display` (the default).
    pub const Display: ErrFormat = ErrFormat {
        debug: false,
        log: true,
    };
    /// With `Debug` (`err(Debug)`).
    pub const Debug: ErrFormat = ErrFormat {
        debug: true,
        log: true,
    };

    /// Without the error's log line (`err(log = off)`).
    pub const fn without_log(self) -> ErrFormat {
        ErrFormat { log: false, ..self }
    }
}

thread_local! {
    /// The last error logged on this thread: the span of the caller of the fn that returned it, and a digest of
    /// its message and source chain. See [`record_exception`].
    static LOGGED: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

/// Records an error on `span` and logs it once.
///
/// On the span, whatever the log filter says: `error.type`, status ERROR with the message, the `source()` chain
/// as `error.chain`, and an `exception` event (`exception.type`, `exception.message`, `exception.stacktrace`),
/// added to the span directly rather than through a `tracing` event.
///
/// In the log, one ERROR line (and one log record), target `traced`, where the error first appears. An error is
/// *unchanged* when its message and source chain are those of an error a fn called by this one (its span's
/// direct child) just returned and logged: `?` that passes it up, a `From` that only boxes it (`anyhow`,
/// `Box<dyn Error>`, `#[error(transparent)]`). Such an error is not logged again. One that the caller changed (a
/// variant with a message of its own, `.context(..)`) is a new error, and is logged. `log == false`
/// (`err(log = off)`) logs nothing for this fn; its caller then logs the error if it returns it.
#[cold]
pub fn record_exception(
    span: &Span,
    error_type: &str,
    message: &str,
    chain: Option<&str>,
    log: bool,
) {
    let digest = {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (message, chain).hash(&mut hasher);
        hasher.finish()
    };
    let own = span.id().map_or(0, |id| id.into_u64());
    // Called after the fn's span was exited: the current span is the caller's.
    let caller = Span::current().id().map_or(0, |id| id.into_u64());
    let unchanged = LOGGED.with(Cell::get) == Some((own, digest));
    if log && !unchanged {
        tracing::event!(
            target: EXCEPTION_TARGET,
            parent: span,
            tracing::Level::ERROR,
            { EXCEPTION_TYPE } = error_type,
            { EXCEPTION_STACKTRACE } = chain,
            "{message}"
        );
    }
    LOGGED.with(|logged| logged.set((log || unchanged).then_some((caller, digest))));
    let mut attributes = vec![
        KeyValue::new(EXCEPTION_TYPE, error_type.to_owned()),
        KeyValue::new(EXCEPTION_MESSAGE, message.to_owned()),
    ];
    if let Some(chain) = chain {
        attributes.push(KeyValue::new(EXCEPTION_STACKTRACE, chain.to_owned()));
    }
    crate::SpanExt::add_event(span, EXCEPTION, attributes);
    span.record(ERROR_TYPE, error_type);
    if let Some(chain) = chain {
        span.record(ERROR_CHAIN, chain);
    }
    span.record(STATUS_CODE, "ERROR");
    span.record(STATUS_DESCRIPTION, message);
}

/// The `Err` of a returned value, borrowed as trait objects: what `record_failure` needs, with no generics left.
#[derive(Clone, Copy)]
pub enum Failure<'a> {
    /// An `Ok`, or a value that is not a `Result`: nothing to record.
    None,
    /// An error with a `source()` chain: `E: Error`, or `E` dereferencing to one (`anyhow::Error`,
    /// `Box<dyn Error>`), described with `Display` or `Debug` as `err(..)` says.
    Error {
        /// The `Err` value itself, for its message.
        shown: &'a dyn Describe,
        /// The error whose `source()` chain is recorded.
        source: &'a (dyn Error + 'static),
        /// `std::any::type_name` of `E`.
        type_name: &'static str,
    },
    /// An `E` that is `Display` but no error.
    Display(&'a dyn Display, &'static str),
    /// An `E` that is only `Debug`.
    Debug(&'a dyn Debug, &'static str),
}

/// `Display` and `Debug` in one trait object.
pub trait Describe: Display + Debug {}

impl<T: Display + Debug + ?Sized> Describe for T {}

/// Records `failure` on `span` (an enabled span): message, `error.type`, chain, status and `exception` event.
#[cold]
pub fn record_failure(span: &Span, format: ErrFormat, failure: Failure<'_>) {
    let (debug, type_name, source) = match failure {
        Failure::None => return,
        Failure::Error {
            source, type_name, ..
        } => (format.debug, type_name, Some(source)),
        Failure::Display(_, type_name) => (false, type_name, None),
        Failure::Debug(_, type_name) => (true, type_name, None),
    };
    // The application's `Display` (or `Debug`) may panic: recording must not turn the fn's `Err` into a panic, so
    // the error is recorded with a placeholder message and returned unchanged.
    let message = catch_unwind(AssertUnwindSafe(|| match failure {
        Failure::Error { shown, .. } if debug => format!("{shown:?}"),
        Failure::Error { shown, .. } => shown.to_string(),
        Failure::Display(shown, _) => shown.to_string(),
        Failure::Debug(shown, _) => format!("{shown:?}"),
        Failure::None => String::new(),
    }))
    .unwrap_or_else(|_| {
        if debug {
            DEBUG_PANICKED
        } else {
            DISPLAY_PANICKED
        }
        .to_owned()
    });
    let chain = source.and_then(|source| {
        catch_unwind(AssertUnwindSafe(|| error_chain(source)))
            .unwrap_or_else(|_| Some(DISPLAY_PANICKED.to_owned()))
    });
    record_exception(
        span,
        error_type(type_name),
        &message,
        chain.as_deref(),
        format.log,
    );
}

/// The value a traced fn returned, probed by autoref specialization: an `Err` of any `Result` is recorded whatever
/// the spelling of its type (aliases such as `io::Result` or `anyhow::Result` included), because the impl is chosen
/// by the type of the value, not by the tokens of the signature.
pub struct Returned<'a, T: ?Sized>(pub &'a T);

/// `Result<T, E>` with `E: std::error::Error`: message and `source()` chain.
pub trait RecordStdError {
    /// The `Err`, if any.
    fn __traced_failure(&self) -> Failure<'_>;
}

impl<T, E: Error + 'static> RecordStdError for &&&&Returned<'_, Result<T, E>> {
    #[inline]
    fn __traced_failure(&self) -> Failure<'_> {
        match self.0 {
            Err(error) => Failure::Error {
                shown: error,
                source: error,
                type_name: std::any::type_name::<E>(),
            },
            Ok(_) => Failure::None,
        }
    }
}

/// `Result<T, E>` where `E` dereferences to an error (`anyhow::Error`, `Box<dyn Error>`).
pub trait RecordDerefError {
    /// The `Err`, if any.
    fn __traced_failure(&self) -> Failure<'_>;
}

impl<T, E> RecordDerefError for &&&Returned<'_, Result<T, E>>
where
    E: std::ops::Deref + Display + Debug,
    E::Target: AsDynError,
{
    #[inline]
    fn __traced_failure(&self) -> Failure<'_> {
        match self.0 {
            Err(error) => Failure::Error {
                shown: error,
                source: (**error).as_dyn_error(),
                type_name: std::any::type_name::<E>(),
            },
            Ok(_) => Failure::None,
        }
    }
}

/// An error behind a pointer, sized or a trait object, seen as `&dyn Error` to walk its `source()` chain.
pub trait AsDynError {
    /// Upcasts.
    fn as_dyn_error(&self) -> &(dyn Error + 'static);
}

impl<E: Error + 'static> AsDynError for E {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

impl AsDynError for dyn Error + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

impl AsDynError for dyn Error + Send + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

impl AsDynError for dyn Error + Send + Sync + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

/// `Result<T, E>` with `E: Display` only.
pub trait RecordDisplayError {
    /// The `Err`, if any.
    fn __traced_failure(&self) -> Failure<'_>;
}

impl<T, E: Display> RecordDisplayError for &&Returned<'_, Result<T, E>> {
    #[inline]
    fn __traced_failure(&self) -> Failure<'_> {
        match self.0 {
            Err(error) => Failure::Display(error, std::any::type_name::<E>()),
            Ok(_) => Failure::None,
        }
    }
}

/// `Result<T, E>` with `E: Debug` only.
pub trait RecordDebugError {
    /// The `Err`, if any.
    fn __traced_failure(&self) -> Failure<'_>;
}

impl<T, E: Debug> RecordDebugError for &Returned<'_, Result<T, E>> {
    #[inline]
    fn __traced_failure(&self) -> Failure<'_> {
        match self.0 {
            Err(error) => Failure::Debug(error, std::any::type_name::<E>()),
            Ok(_) => Failure::None,
        }
    }
}

/// Anything else: nothing to record.
pub trait RecordNothing {
    /// Nothing.
    fn __traced_failure(&self) -> Failure<'_>;
}

impl<T: ?Sized> RecordNothing for Returned<'_, T> {
    #[inline(always)]
    fn __traced_failure(&self) -> Failure<'_> {
        Failure::None
    }
}
