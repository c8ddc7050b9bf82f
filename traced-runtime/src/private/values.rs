//! Arguments, fields and return values as attributes, chosen by their type (autoref specialization): integers,
//! floats, bools and strings keep their OTLP type, other types use `Display`, else `Debug`.

use std::fmt::{self, Debug, Display};
use std::panic::{catch_unwind, AssertUnwindSafe};

use traced_conventions::value::Unsigned as Narrowed;
use traced_conventions::value::{DEBUG_PANICKED, DISPLAY_PANICKED};
use tracing::field::DebugValue;

/// A value recorded as an attribute, probed by autoref specialization: integers, floats, bools and strings keep
/// their OTLP type; other types use `Display` when they have it, `Debug` otherwise.
pub struct Value<'a, T: ?Sized>(pub &'a T);

/// Types recorded with their own OTLP type.
pub trait Native {
    /// The `tracing` value it records as.
    type Out<'a>: AsField
    where
        Self: 'a;
    /// Converts without allocating.
    fn native(&self) -> Self::Out<'_>;
}

macro_rules! native_copy {
    ($($t:ty => $out:ty),* $(,)?) => {$(
        impl Native for $t {
            type Out<'a> = $out;
            #[inline(always)]
            fn native(&self) -> $out {
                <$out>::from(*self)
            }
        }
    )*};
}

native_copy!(
    i8 => i64, i16 => i64, i32 => i64, i64 => i64,
    u8 => i64, u16 => i64, u32 => i64,
    f32 => f64, f64 => f64, bool => bool,
);

impl Native for isize {
    type Out<'a> = i64;
    #[inline(always)]
    fn native(&self) -> i64 {
        // `isize` is at most 64 bits on every target Rust supports.
        i64::try_from(*self).unwrap_or(i64::MAX)
    }
}

impl Native for u64 {
    type Out<'a> = Unsigned;
    #[inline(always)]
    fn native(&self) -> Unsigned {
        Unsigned::new(*self)
    }
}

impl Native for usize {
    type Out<'a> = Unsigned;
    #[inline(always)]
    fn native(&self) -> Unsigned {
        Unsigned::new(u64::try_from(*self).unwrap_or(u64::MAX))
    }
}

/// A `u64` or `usize` as the expansion records it: narrowed by the one rule of
/// [`traced_conventions::value::Unsigned`] (an `i64` when it fits, its decimal text otherwise).
#[derive(Debug)]
pub struct Unsigned(Narrowed);

impl Unsigned {
    #[inline(always)]
    fn new(value: u64) -> Self {
        Unsigned(Narrowed::new(value))
    }
}

/// A value the expansion can hand to `tracing` as a field: any `tracing::Value`, or an [`Unsigned`].
pub trait AsField {
    /// The value as `tracing` records it.
    fn as_field(&self) -> &dyn tracing::Value;
}

impl<T: tracing::Value> AsField for T {
    #[inline(always)]
    fn as_field(&self) -> &dyn tracing::Value {
        self
    }
}

impl AsField for Unsigned {
    #[inline(always)]
    fn as_field(&self) -> &dyn tracing::Value {
        match &self.0 {
            Narrowed::Fits(fits) => fits,
            // A `u64` above `i64::MAX`: both OpenTelemetry layers export it as its decimal text.
            Narrowed::Wide(wide) => wide,
        }
    }
}

/// The field value of a probed argument, field or return value.
#[inline(always)]
pub fn field<V: AsField>(value: &V) -> &dyn tracing::Value {
    value.as_field()
}

impl Native for str {
    type Out<'a> = &'a str;
    #[inline(always)]
    fn native(&self) -> &str {
        self
    }
}

impl Native for String {
    type Out<'a> = &'a str;
    #[inline(always)]
    fn native(&self) -> &str {
        self
    }
}

impl Native for std::borrow::Cow<'_, str> {
    type Out<'a>
        = &'a str
    where
        Self: 'a;
    #[inline(always)]
    fn native(&self) -> &str {
        self
    }
}

/// Pointers record what they point to.
macro_rules! native_through {
    ($($pointer:ty),* $(,)?) => {$(
        impl<T: Native + ?Sized> Native for $pointer {
            type Out<'a>
                = T::Out<'a>
            where
                Self: 'a;
            #[inline(always)]
            fn native(&self) -> T::Out<'_> {
                (**self).native()
            }
        }
    )*};
}

native_through!(&T, &mut T, Box<T>, std::sync::Arc<T>);

/// First choice: a native OTLP type.
pub trait AsNative<'a> {
    /// The recorded value.
    type Out: AsField;
    /// Converts.
    fn __traced_value(&self) -> Self::Out;
}

impl<'a, T: Native + ?Sized> AsNative<'a> for &&Value<'a, T> {
    type Out = T::Out<'a>;
    #[inline(always)]
    fn __traced_value(&self) -> T::Out<'a> {
        self.0.native()
    }
}

/// Second choice: `Display`.
pub trait AsDisplay<'a> {
    /// The recorded value.
    type Out: tracing::Value;
    /// Converts.
    fn __traced_value(&self) -> Self::Out;
}

impl<'a, T: Display> AsDisplay<'a> for &Value<'a, T> {
    type Out = DebugValue<Shown<'a>>;
    #[inline(always)]
    fn __traced_value(&self) -> Self::Out {
        tracing::field::debug(Shown::Display(self.0))
    }
}

/// Last choice: `Debug`.
pub trait AsDebug<'a> {
    /// The recorded value.
    type Out: tracing::Value;
    /// Converts.
    fn __traced_value(&self) -> Self::Out;
}

impl<'a, T: Debug> AsDebug<'a> for Value<'a, T> {
    type Out = DebugValue<Shown<'a>>;
    #[inline(always)]
    fn __traced_value(&self) -> Self::Out {
        tracing::field::debug(Shown::Debug(self.0))
    }
}

/// A returned value as `ret` records it, probed by autoref specialization: the `Ok` value of a `Result` (its `Err`
/// is the span's error), any other value whole.
pub struct Ret<'a, T: ?Sized>(pub &'a T);

/// First choice: a `Result`, recorded by its `Ok` value, with that value's own type.
pub trait RetOk<'a> {
    /// What is recorded.
    type Out: ?Sized;
    /// The `Ok` value, `None` for an `Err`.
    fn __traced_ok(&self) -> Option<&'a Self::Out>;
}

impl<'a, T, E> RetOk<'a> for &Ret<'a, Result<T, E>> {
    type Out = T;
    #[inline(always)]
    fn __traced_ok(&self) -> Option<&'a T> {
        self.0.as_ref().ok()
    }
}

/// Last choice: any other value, recorded whole.
pub trait RetWhole<'a> {
    /// What is recorded.
    type Out: ?Sized;
    /// The value itself.
    fn __traced_ok(&self) -> Option<&'a Self::Out>;
}

impl<'a, T: ?Sized> RetWhole<'a> for Ret<'a, T> {
    type Out = T;
    #[inline(always)]
    fn __traced_ok(&self) -> Option<&'a T> {
        Some(self.0)
    }
}

/// A value recorded with the application's own `Display` or `Debug` (an argument, a field, a return value).
///
/// A subscriber formats a value while it holds its own state (tracing_subscriber's fmt layer the span's
/// extensions, `traced`'s layer the span's state): a panic there poisons that state, the span's close panics
/// again while unwinding, and the process aborts. So the value is formatted here, into a `String` under
/// `catch_unwind`, and the subscriber only copies text: a panic is caught before any subscriber state is touched,
/// and the value is recorded as `<Debug panicked>` (`<Display panicked>`). One type for every value's type, so
/// the expansion instantiates nothing per type to record it.
#[derive(Clone, Copy)]
pub enum Shown<'a> {
    /// Recorded with `Display` (`%value`, or a type without native OTLP type that has `Display`).
    Display(&'a dyn Display),
    /// Recorded with `Debug` (`?value`, or a type that only has `Debug`).
    Debug(&'a dyn Debug),
}

impl Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = catch_unwind(AssertUnwindSafe(|| match self {
            Shown::Display(value) => value.to_string(),
            Shown::Debug(value) => format!("{value:?}"),
        }));
        match (&text, self) {
            (Ok(text), _) => f.write_str(text),
            (Err(_), Shown::Display(_)) => f.write_str(DISPLAY_PANICKED),
            (Err(_), Shown::Debug(_)) => f.write_str(DEBUG_PANICKED),
        }
    }
}
