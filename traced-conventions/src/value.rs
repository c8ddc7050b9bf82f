//! The shape of the values under the keys: how an error's type and `source()` chain are written, and what an
//! unsigned integer becomes in OTLP, which has none.

/// [`ERROR_TYPE`](crate::error::ERROR_TYPE) of an error whose type is `full` (`std::any::type_name`): the path
/// without generic arguments, so `Box<dyn Error>` and `MyError<u8>` do not explode into one value per
/// instantiation.
///
/// ```
/// assert_eq!(traced_conventions::value::error_type("app::Error<u8>"), "app::Error");
/// ```
pub fn error_type(full: &'static str) -> &'static str {
    match full.find('<') {
        Some(at) => &full[..at],
        None => full,
    }
}

/// [`ERROR_CHAIN`](crate::error::ERROR_CHAIN) and
/// [`EXCEPTION_STACKTRACE`](crate::error::EXCEPTION_STACKTRACE): the messages of the error's `source()` chain,
/// the error itself excluded, one per line; `None` when it has no source.
///
/// One string rather than an array: the semantic conventions make `exception.stacktrace` a string, and a reader
/// sees the chain the way `anyhow` prints it.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut chain = String::new();
    let mut next = error.source();
    while let Some(cause) = next {
        if !chain.is_empty() {
            chain.push('\n');
        }
        chain.push_str(&cause.to_string());
        next = cause.source();
    }
    (!chain.is_empty()).then_some(chain)
}

/// What a value is recorded as when the application's `Debug` of it panicked (under `catch_unwind`, so that the
/// panic stays out of the subscriber: a panic while a subscriber holds a span's state aborts the process).
pub const DEBUG_PANICKED: &str = "<Debug panicked>";

/// What a value or an error's message is recorded as when the application's `Display` of it panicked.
pub const DISPLAY_PANICKED: &str = "<Display panicked>";

/// A `u64` as an OTLP attribute: OTLP has no unsigned integer, and tracing-opentelemetry exports every `u64` as
/// text, so a value is an `i64` when it fits and its decimal text otherwise (never wrapped or clamped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsigned {
    /// At most `i64::MAX`: an OTLP integer.
    Fits(i64),
    /// Above `i64::MAX`: recorded as its decimal text.
    Wide(u64),
}

impl Unsigned {
    /// Narrows `value`.
    ///
    /// ```
    /// use traced_conventions::value::Unsigned;
    ///
    /// assert_eq!(Unsigned::new(7), Unsigned::Fits(7));
    /// assert_eq!(Unsigned::new(u64::MAX), Unsigned::Wide(u64::MAX));
    /// ```
    #[inline(always)]
    pub const fn new(value: u64) -> Self {
        if value <= i64::MAX as u64 {
            #[allow(clippy::cast_possible_wrap)]
            Unsigned::Fits(value as i64)
        } else {
            Unsigned::Wide(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn chain_excludes_the_error_itself() {
        let error = Layer(
            "top",
            Some(Box::new(Layer(
                "middle",
                Some(Box::new(Layer("root", None))),
            ))),
        );
        assert_eq!(error_chain(&error).as_deref(), Some("middle\nroot"));
        assert_eq!(error_chain(&Layer("alone", None)), None);
    }

    #[test]
    fn unsigned_at_the_edge() {
        assert_eq!(Unsigned::new(i64::MAX as u64), Unsigned::Fits(i64::MAX));
        assert_eq!(
            Unsigned::new(i64::MAX as u64 + 1),
            Unsigned::Wide(i64::MAX as u64 + 1)
        );
    }

    #[test]
    fn type_without_generics() {
        assert_eq!(error_type("std::io::Error"), "std::io::Error");
        assert_eq!(
            error_type("alloc::boxed::Box<dyn core::error::Error>"),
            "alloc::boxed::Box"
        );
    }
}
