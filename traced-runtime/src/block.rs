//! `span!`: the records of `#[traced]` (errors, panics, duration, cancellation) around a block of code that is not
//! a fn of its own.

/// Runs a block, or builds a future from an async block, inside a span with the records of `#[traced]`.
/// (Reached as `traced::span!` through the facade.)
///
/// ```
/// # fn charge(_: u32) -> Result<(), std::io::Error> { Ok(()) }
/// let order_id = 42_u32;
/// // A sync block runs at once; its value is returned. An `Err` value is recorded on the span.
/// let charged: Result<(), std::io::Error> = traced::span!("charge", order.id = order_id; {
///     charge(order_id)
/// });
/// assert!(charged.is_ok());
///
/// // An async block gives a future; the span covers its run, and a drop before completion is `cancelled`.
/// let fetch = traced::span!("fetch", attempt = 1; async move { Ok::<u32, std::io::Error>(7) });
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
            $crate::__span_site!(__TRACED_SITE; $name $(, $($key).+)*);
            $crate::__span_async!(__TRACED_SITE, async move $body $(, $value)*)
        }
    };
    ($name:literal $(, $($key:ident).+ = $value:expr)* $(,)? ; async $body:block) => {
        async {
            $crate::__span_site!(__TRACED_SITE; $name $(, $($key).+)*);
            $crate::__span_async!(__TRACED_SITE, async $body $(, $value)*)
        }
    };
    ($name:literal $(, $($key:ident).+ = $value:expr)* $(,)? ; $body:block) => {{
        $crate::__span_site!(__TRACED_SITE; $name $(, $($key).+)*);
        let __traced_once = $crate::__private::Once;
        // `FnOnce` (it takes `__traced_once`), as the block runs once and may move its captures out.
        let __traced_body = || {
            __traced_once.take();
            $body
        };
        match $crate::__private::begin(&__TRACED_SITE) {
            $crate::__private::Begin::Plain(__traced_plain) => {
                let __traced_ret = {
                    let __traced_mark = __traced_plain.mark();
                    __traced_body()
                };
                __traced_plain.finish($crate::__span_error_type!(&__traced_ret));
                __traced_ret
            }
            $crate::__private::Begin::Build(__traced_builder) => {
                let __traced_running = __traced_builder.build(&[$($crate::__span_value!($value)),*]);
                let mut __traced_body = ::core::option::Option::Some(__traced_body);
                let mut __traced_ret = ::core::option::Option::None;
                __traced_running.run(&mut || {
                    if let ::core::option::Option::Some(__traced_body) = __traced_body.take() {
                        __traced_ret = ::core::option::Option::Some(__traced_body());
                    }
                });
                #[allow(unreachable_code)]
                match __traced_ret {
                    ::core::option::Option::Some(__traced_ret) => {
                        __traced_running.finish(
                            (&&&&&$crate::__private::Returned(&__traced_ret)).__traced_failure(),
                            ::core::option::Option::None,
                            $crate::__span_error_type!(&__traced_ret),
                        );
                        __traced_ret
                    }
                    ::core::option::Option::None => $crate::__private::unreachable(),
                }
            }
        }
    }};
}

/// The `static` of a `span!` block, and the probe traits its expansion calls.
#[doc(hidden)]
#[macro_export]
macro_rules! __span_site {
    ($site:ident; $name:literal $(, $($key:ident).+)*) => {
        #[allow(unused_imports)]
        use $crate::__private::{
            AsDebug as _, AsDisplay as _, AsNative as _, ErrorType as _, NoErrorType as _,
            RecordDebugError as _, RecordDerefError as _, RecordDisplayError as _, RecordNothing as _,
            RecordStdError as _,
        };
        // A fn item of the block's own: its type name is the path of the enclosing fn, `code.function.name`.
        fn __traced_here() -> &'static str {
            ::core::any::type_name_of_val(&__traced_here)
        }
        static $site: $crate::__private::Site = $crate::__private::Site::block(
            &$site,
            $crate::__private::Names {
                name: $name,
                target: ::core::module_path!(),
                module: ::core::module_path!(),
                file: ::core::file!(),
                line: ::core::line!(),
                column: ::core::column!(),
                fields: &[
                    $crate::__private::conventions::span::CODE_FUNCTION_NAME,
                    $crate::__private::conventions::span::CODE_FILE_PATH,
                    $crate::__private::conventions::span::CODE_LINE_NUMBER,
                    $crate::__private::conventions::span::CODE_COLUMN_NUMBER,
                    $crate::__private::conventions::span::DURATION_MS,
                    $crate::__private::conventions::error::ERROR_TYPE,
                    $crate::__private::conventions::error::ERROR_CHAIN,
                    $crate::__private::conventions::otel::STATUS_CODE,
                    $crate::__private::conventions::otel::STATUS_DESCRIPTION,
                    $crate::__private::conventions::span::CANCELLED,
                    $(::core::stringify!($($key).+)),*
                ],
                user: <[&str]>::len(&[$(::core::stringify!($($key).+)),*]),
            },
            __traced_here,
        );
    };
}

/// A field value of a `span!`, typed like the values of `args`.
#[doc(hidden)]
#[macro_export]
macro_rules! __span_value {
    ($value:expr) => {
        ::core::option::Option::Some($crate::__private::field(
            &(&&&$crate::__private::Value(&($value))).__traced_value(),
        ))
    };
}

/// The `error.type` of the function metrics of a returned value (a reference to it): its `Err`'s type, `None`
/// for anything else.
#[doc(hidden)]
#[macro_export]
macro_rules! __span_error_type {
    ($value:expr) => {
        (&&$crate::__private::Outcome($value)).__traced_error_type()
    };
}

/// The async body of a `span!`: its span started on the first poll, the result recorded on completion.
#[doc(hidden)]
#[macro_export]
macro_rules! __span_async {
    ($site:ident, $future:expr $(, $value:expr)*) => {{
        let __traced_started = match $crate::__private::begin(&$site) {
            $crate::__private::Begin::Plain(__traced_plain) => {
                $crate::__private::Started::Plain(__traced_plain)
            }
            $crate::__private::Begin::Build(__traced_builder) => $crate::__private::Started::Span(
                __traced_builder.build(&[$($crate::__span_value!($value)),*]),
            ),
        };
        $crate::__private::Traced::new(
            __traced_started,
            $future,
            |__traced_done: $crate::__private::Started, __traced_ret| {
                __traced_done.finish(
                    (&&&&&$crate::__private::Returned(__traced_ret)).__traced_failure(),
                    ::core::option::Option::None,
                    $crate::__span_error_type!(__traced_ret),
                );
            },
        )
        .await
    }};
}
