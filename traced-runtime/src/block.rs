//! `span!`: the records of `#[traced]` (errors, panics, duration, cancellation) around a block of code that is not
//! a fn of its own.

/// Runs a block, or builds a future from an async block, inside a span with the records of `#[traced]`.
/// (Reached as `traced::span!` through the facade.)
///
/// ```
/// # fn charge(_: u32) -> Result<(), std::io::Error> { Ok(()) }
/// let order_id = 42_u32;
/// // A sync block runs at once; its value is returned. An `Err` value is recorded on the span.
/// let charged: Result<(), std::io::Error> = traced_runtime::span!("charge", order.id = order_id; {
///     charge(order_id)
/// });
/// assert!(charged.is_ok());
///
/// // An async block gives a future; the span covers its run, and a drop before completion is `cancelled`.
/// let fetch = traced_runtime::span!("fetch", attempt = 1; async move { Ok::<u32, std::io::Error>(7) });
/// # let _ = fetch;
/// ```
///
/// The block is the body of a closure (or of an async block): `return` and `?` leave the block, not the enclosing
/// fn. Field values follow the rule of `args`: integers, floats, bools and strings keep their OTLP type, other
/// types use `Display`, else `Debug`.
#[macro_export]
macro_rules! span {
    ($name:literal $(, $($key:ident).+ = $value:expr)* $(,)? ; async move $body:block) => {
        async move {
            $crate::__span_start!(__traced_span, __traced_timer; $name $(, $($key).+ = $value)*);
            $crate::__span_finish_async!(__traced_span, __traced_timer, async move $body)
        }
    };
    ($name:literal $(, $($key:ident).+ = $value:expr)* $(,)? ; async $body:block) => {
        async {
            $crate::__span_start!(__traced_span, __traced_timer; $name $(, $($key).+ = $value)*);
            $crate::__span_finish_async!(__traced_span, __traced_timer, async $body)
        }
    };
    ($name:literal $(, $($key:ident).+ = $value:expr)* $(,)? ; $body:block) => {{
        $crate::__span_start!(__traced_span, __traced_timer; $name $(, $($key).+ = $value)*);
        let __traced_result = {
            let __traced_entered = __traced_span.enter();
            $crate::__private::catch(|| $body)
        };
        #[allow(unreachable_code)]
        match __traced_result {
            ::core::result::Result::Ok(__traced_ret) => {
                (&&&&&$crate::__private::Returned(&__traced_ret))
                    .__traced_record(&__traced_span, $crate::__private::ErrFormat::Display);
                __traced_timer.finish(&__traced_span);
                __traced_ret
            }
            ::core::result::Result::Err(__traced_panic) => {
                $crate::__private::resume_panic(&__traced_span, __traced_timer, __traced_panic)
            }
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __span_start {
    ($span:ident, $timer:ident; $name:literal $(, $($key:ident).+ = $value:expr)*) => {
        #[allow(unused_imports)]
        use $crate::__private::{
            AsDebug as _, AsDisplay as _, AsNative as _, RecordDebugError as _, RecordDerefError as _,
            RecordDisplayError as _, RecordNothing as _, RecordStdError as _,
        };
        let $span = $crate::__private::tracing::span!(
            target: ::core::module_path!(),
            $crate::__private::tracing::Level::INFO,
            $name,
            "code.file.path" = ::core::file!(),
            "code.line.number" = ::core::line!(),
            "duration_ms" = $crate::__private::tracing::field::Empty,
            "error.type" = $crate::__private::tracing::field::Empty,
            "error.chain" = $crate::__private::tracing::field::Empty,
            "otel.status_code" = $crate::__private::tracing::field::Empty,
            "otel.status_description" = $crate::__private::tracing::field::Empty,
            "cancelled" = $crate::__private::tracing::field::Empty,
            $($($key).+ = (&&&$crate::__private::Value(&($value))).__traced_value(),)*
        );
        let $timer = $crate::__private::Timer::start(&$span);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __span_finish_async {
    ($span:ident, $timer:ident, $future:expr) => {{
        let (__traced_ret, __traced_done) =
            $crate::__private::Instrumented::new($span, $timer, $future).await;
        (&&&&&$crate::__private::Returned(&__traced_ret))
            .__traced_record(__traced_done.span(), $crate::__private::ErrFormat::Display);
        __traced_done.finish();
        __traced_ret
    }};
}
