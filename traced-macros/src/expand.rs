//! Code generation. Options arrive validated; this module only decides the shape of the fn and writes the body.
//!
//! Generated locals start with `__traced_`; everything called lives in `<crate>::__private`; user tokens keep their
//! spans so errors inside the body still point at the user's code.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::visit::Visit;
use syn::{Block, Expr, ReturnType, Signature, Stmt, Type};

use crate::attr::{ErrMode, FieldValue, Level, Options};

/// How the body runs, which decides where the span starts and ends.
enum Shape<'a> {
    /// `fn`: the span covers the call.
    Sync,
    /// `fn -> !`: the span covers the call, which never returns.
    Diverging,
    /// `async fn`: the span covers every poll of the body, from the first to completion or drop.
    Async,
    /// `fn -> impl Future`: the span starts at the call and covers the returned future until it completes.
    ImplFuture,
    /// A body ending in `Box::pin(async move { .. })` (`#[async_trait]`, self-boxing recursion): the span covers the
    /// boxed future.
    Boxed {
        prefix: &'a [Stmt],
        pin: &'a Expr,
        future: &'a Expr,
    },
}

/// The instrumented body of a fn.
pub(crate) fn body(
    options: &Options,
    sig: &Signature,
    block: &Block,
    owner: Option<&str>,
) -> Block {
    let krate = options
        .krate
        .as_ref()
        .map_or_else(|| quote!(::traced), |krate| krate.value.to_token_stream());
    let p = quote!(#krate::__private);
    let shape = shape(sig, block);
    let cancellable = matches!(
        shape,
        Shape::Async | Shape::ImplFuture | Shape::Boxed { .. }
    );

    let span = span(options, sig, owner, &p, cancellable);
    let imports = imports(options, &p);
    let record_sync = record(options, &p, quote!((*__traced_ret)), quote!(__traced_span));
    let record_done = record(
        options,
        &p,
        quote!(__traced_ret),
        quote!(__traced_done.span()),
    );

    let tokens = match shape {
        // `!` cannot be a generic argument on stable: the body, of type `!`, is caught as an `Infallible`, so a
        // panic (the usual way out of a `-> !` fn besides `exit`) is recorded like in any other fn.
        Shape::Diverging => quote! {
            #span
            let (__traced_span, __traced_skipped) = #p::started(__traced_started);
            let __traced_timer = #p::Timer::begin(&__traced_span, __traced_skipped);
            let __traced_result = {
                let __traced_entered = #p::enter(&__traced_span, &__traced_timer);
                #p::catch(move || -> ::core::convert::Infallible { #block })
            };
            match __traced_result {
                ::core::result::Result::Ok(__traced_never) => match __traced_never {},
                ::core::result::Result::Err(__traced_panic) => {
                    #p::resume_panic(&__traced_span, __traced_timer, __traced_panic)
                }
            }
        },
        Shape::Sync => {
            let turbofish = return_turbofish(&sig.output);
            quote! {
                #span
                let __traced_body = #p::body #turbofish (move || #block);
                match __traced_started {
                    // A trace the sampler dropped: only the thread's mark to set around the body.
                    ::core::option::Option::Some((_, __traced_skipped)) if __traced_skipped.is_skipped() => {
                        #p::run_marked(__traced_skipped, __traced_body)
                    }
                    #[allow(unreachable_code, clippy::used_underscore_binding)]
                    ::core::option::Option::Some((__traced_span, __traced_skipped))
                        if !__traced_span.is_disabled() =>
                    {
                        #p::run(
                            __traced_span,
                            __traced_skipped,
                            __traced_body,
                            |__traced_ret, __traced_span| { #record_sync },
                        )
                    }
                    // Nothing recorded and no mark to set (no subscriber, level filtered out): call the body as
                    // `#[instrument]` would run it, with no clock, no unwind guard and no probe.
                    _ => __traced_body(),
                }
            }
        }
        Shape::Async => {
            let annotation = output_annotation(match &sig.output {
                ReturnType::Default => None,
                ReturnType::Type(_, ty) => Some(ty),
            });
            quote! {
                #span
                let __traced_future = async move #block;
                match __traced_started {
                    ::core::option::Option::Some((__traced_span, __traced_skipped))
                        if !__traced_span.is_disabled() =>
                    {
                        let __traced_timer = #p::Timer::begin(&__traced_span, __traced_skipped);
                        let (__traced_ret, __traced_done) #annotation =
                            #p::Instrumented::new(__traced_span, __traced_timer, __traced_future).await;
                        #record_done
                        __traced_done.finish();
                        __traced_ret
                    }
                    // No span to enter, time or record: the body as is, with the thread marked on each poll if
                    // the sampler dropped its trace. One await for both, which keeps the future small.
                    __traced_other => #p::Marked::new(__traced_other, __traced_future).await,
                }
            }
        }
        Shape::ImplFuture => {
            let annotation = future_output(&sig.output).map(|ty| output_annotation(Some(ty)));
            quote! {
                #span
                let (__traced_span, __traced_skipped) = #p::started(__traced_started);
                let __traced_timer = #p::Timer::begin(&__traced_span, __traced_skipped);
                let __traced_future = {
                    let __traced_entered = #p::enter(&__traced_span, &__traced_timer);
                    #p::catch(move || #block)
                };
                let __traced_future = match __traced_future {
                    ::core::result::Result::Ok(__traced_future) => __traced_future,
                    ::core::result::Result::Err(__traced_panic) => {
                        #p::resume_panic(&__traced_span, __traced_timer, __traced_panic)
                    }
                };
                // Wrapped before the `async` block: a future dropped unpolled still closes its span as cancelled.
                let __traced_future = #p::Instrumented::new(__traced_span, __traced_timer, __traced_future);
                async move {
                    let (__traced_ret, __traced_done) #annotation = __traced_future.await;
                    #record_done
                    __traced_done.finish();
                    __traced_ret
                }
            }
        }
        Shape::Boxed {
            prefix,
            pin,
            future,
        } => {
            // No `Output = T` in the signature: leave the type to inference rather than claim `()`.
            let annotation = future_output(&sig.output).map(|ty| output_annotation(Some(ty)));
            quote! {
                #span
                let (__traced_span, __traced_skipped) = #p::started(__traced_started);
                let __traced_timer = #p::Timer::begin(&__traced_span, __traced_skipped);
                #(#prefix)*
                let __traced_future = #p::Instrumented::new(__traced_span, __traced_timer, #future);
                #pin(async move {
                    let (__traced_ret, __traced_done) #annotation = __traced_future.await;
                    #record_done
                    __traced_done.finish();
                    __traced_ret
                })
            }
        }
    };
    syn::parse_quote!({
        #imports
        #tokens
    })
}

fn shape<'a>(sig: &Signature, block: &'a Block) -> Shape<'a> {
    if sig.asyncness.is_some() {
        return Shape::Async;
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        if matches!(**ty, Type::Never(_)) {
            return Shape::Diverging;
        }
        if let Type::ImplTrait(bounds) = &**ty {
            let is_future = bounds.bounds.iter().any(|bound| {
                matches!(bound, syn::TypeParamBound::Trait(t)
                    if t.path.segments.last().is_some_and(|s| s.ident == "Future"))
            });
            if is_future {
                return Shape::ImplFuture;
            }
        }
    }
    if let Some((Stmt::Expr(Expr::Call(call), None), prefix)) = block.stmts.split_last() {
        let is_box_pin = matches!(&*call.func, Expr::Path(path)
            if path.path.segments.len() >= 2
                && path.path.segments[path.path.segments.len() - 1].ident == "pin"
                && path.path.segments[path.path.segments.len() - 2].ident == "Box");
        if is_box_pin && call.args.len() == 1 {
            if let Some(future @ Expr::Async(_)) = call.args.first() {
                return Shape::Boxed {
                    prefix,
                    pin: &call.func,
                    future,
                };
            }
        }
    }
    Shape::Sync
}

/// The `span!` invocation with every attribute the span may carry, unrecorded ones declared `Empty`.
fn span(
    options: &Options,
    sig: &Signature,
    owner: Option<&str>,
    p: &TokenStream,
    cancellable: bool,
) -> TokenStream {
    let fn_name = sig.ident.to_string();
    let qualified = match owner {
        Some(owner) => format!("{owner}::{fn_name}"),
        None => fn_name,
    };
    let name = options.name.as_ref().map_or_else(
        || qualified.to_token_stream(),
        |n| n.value.to_token_stream(),
    );
    let code_name = format!("::{qualified}");
    let level = syn::Ident::new(
        options
            .level
            .as_ref()
            .map_or(Level::Info, |l| l.value)
            .const_name(),
        Span::call_site(),
    );
    let target = options.target.as_ref().map_or_else(
        || quote!(::core::module_path!()),
        |t| t.value.to_token_stream(),
    );
    let parent = if options.root.is_some() {
        quote!(parent: ::core::option::Option::None::<#p::tracing::Id>,)
    } else if options.parent.is_some() {
        quote!(parent: #p::Parent::tracing_parent(&__traced_parent),)
    } else {
        TokenStream::new()
    };
    let location = sig.ident.span();
    // `line!()` is a `u32`, which `tracing` records as a `u64` and tracing-opentelemetry then exports as a
    // string: widen to `i64` so the attributes are OTLP integers, as the semantic conventions say.
    let line =
        quote_spanned!(location=> <i64 as ::core::convert::From<u32>>::from(::core::line!()));
    let column =
        quote_spanned!(location=> <i64 as ::core::convert::From<u32>>::from(::core::column!()));

    let mut fields = vec![
        quote!("code.function.name" = ::core::concat!(::core::module_path!(), #code_name)),
        quote!("code.file.path" = ::core::file!()),
        quote!("code.line.number" = #line),
        quote!("code.column.number" = #column),
    ];
    if let Some(kind) = &options.kind {
        let kind = kind.value.as_str();
        fields.push(quote!("otel.kind" = #kind));
    }
    let mut empty = vec![
        "duration_ms",
        "error.type",
        "error.chain",
        "otel.status_code",
        "otel.status_description",
    ];
    if cancellable {
        empty.push("cancelled");
    }
    if options.ret.is_some() {
        empty.push("return.value");
    }
    fields.extend(
        empty
            .iter()
            .map(|key| quote!(#key = #p::tracing::field::Empty)),
    );
    if let Some(args) = &options.args {
        for arg in &args.value {
            let key = arg.to_string();
            fields.push(quote_spanned!(arg.span()=> #key = #p::field(&(&&&#p::Value(&#arg)).__traced_value())));
        }
    }
    if let Some(list) = &options.fields {
        for field in &list.value {
            let key = &field.key;
            let key_span = crate::attr::span_of(&field.key_tokens);
            fields.push(match &field.value {
                FieldValue::Auto(expr) => {
                    quote_spanned!(key_span=> #key = #p::field(&(&&&#p::Value(&(#expr))).__traced_value()))
                }
                FieldValue::Display(expr) => {
                    quote_spanned!(key_span=> #key = #p::tracing::field::display(&(#expr)))
                }
                FieldValue::Debug(expr) => {
                    quote_spanned!(key_span=> #key = #p::tracing::field::debug(&(#expr)))
                }
            });
        }
    }

    let parent_binding = options.parent.as_ref().map(|parent| {
        let expr = &parent.value;
        quote!(let __traced_parent = &(#expr);)
    });
    let parent_apply = options
        .parent
        .as_ref()
        .map(|_| quote!(#p::Parent::apply(&__traced_parent, &__traced_span);));
    let links = options.links.iter().map(|link| {
        let expr = &link.value;
        quote!(#p::Link::add_to(&(#expr), &__traced_span);)
    });
    let new_span = quote! {
        #p::tracing::span!(
            target: #target,
            #parent
            #p::tracing::Level::#level,
            #name,
            #(#fields),*
        )
    };
    // Sampling is decided before anything is built; a span with an explicit parent leaves it to the parent.
    // Below the level filter nothing is asked at all.
    let create = if options.parent.is_some() {
        quote! {
            let __traced_unmarked = #p::unmarked();
            (#new_span, #p::Skip::NO)
        }
    } else {
        let root = options.root.is_some();
        quote! {
            let __traced_skipped = #p::skip(#root);
            if __traced_skipped.is_skipped() {
                (#p::tracing::Span::none(), __traced_skipped)
            } else {
                (#new_span, __traced_skipped)
            }
        }
    };
    quote! {
        #parent_binding
        let __traced_started = if #p::enabled(#p::tracing::Level::#level) {
            let (__traced_span, __traced_skipped) = { #create };
            #parent_apply
            #(#links)*
            ::core::option::Option::Some((__traced_span, __traced_skipped))
        } else {
            ::core::option::Option::None
        };
    }
}

/// The probe traits, imported anonymously so their methods resolve by autoref.
fn imports(options: &Options, p: &TokenStream) -> TokenStream {
    let mut traits = Vec::new();
    if options.args.is_some() || options.fields.is_some() || options.ret.is_some() {
        traits.extend([quote!(AsNative), quote!(AsDisplay), quote!(AsDebug)]);
    }
    if err_mode(options) != ErrMode::Off {
        traits.extend([
            quote!(RecordStdError),
            quote!(RecordDerefError),
            quote!(RecordDisplayError),
            quote!(RecordDebugError),
            quote!(RecordNothing),
        ]);
    }
    if traits.is_empty() {
        return TokenStream::new();
    }
    quote!(#[allow(unused_imports)] use #p::{#(#traits as _),*};)
}

fn err_mode(options: &Options) -> ErrMode {
    options.err.as_ref().map_or(ErrMode::Display, |e| e.value)
}

/// Records the returned value: an `Err` as an exception (unless `err(off)`), the value itself with `ret`.
fn record(
    options: &Options,
    p: &TokenStream,
    value: TokenStream,
    span: TokenStream,
) -> TokenStream {
    let err = match err_mode(options) {
        ErrMode::Off => TokenStream::new(),
        ErrMode::Display => {
            quote!((&&&&&#p::Returned(&#value)).__traced_record(#span, #p::ErrFormat::Display);)
        }
        ErrMode::Debug => {
            quote!((&&&&&#p::Returned(&#value)).__traced_record(#span, #p::ErrFormat::Debug);)
        }
    };
    // Spanned on `ret` itself: a return type with neither Display nor Debug is reported there, not on the whole
    // attribute (in an impl block, every fn inherits the block's `ret`).
    let ret = options.ret.as_ref().map(|ret| {
        let at = crate::attr::span_of(&ret.tokens);
        quote_spanned!(at=> #p::record_return(#span, (&&&#p::Value(&#value)).__traced_value());)
    });
    quote!(#err #ret)
}

/// `::<R, _>` for the caught body of a sync fn: the closure then returns the declared type, so `?`, coercions
/// (`&Vec<T>` to `&[T]`) and the probes see what the fn declares.
fn return_turbofish(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => quote!(::<(), _>),
        ReturnType::Type(_, ty) if nameable(ty) => quote!(::<#ty, _>),
        ReturnType::Type(..) => TokenStream::new(),
    }
}

/// `: (T, _)` for the awaited output of an instrumented future.
fn output_annotation(output: Option<&Type>) -> TokenStream {
    match output {
        None => quote!(: ((), _)),
        Some(ty) if nameable(ty) => quote!(: (#ty, _)),
        Some(_) => TokenStream::new(),
    }
}

/// `T` of the first `Future<Output = T>` in a return type (`impl Future<..>`, `Pin<Box<dyn Future<..>>>`).
fn future_output(output: &ReturnType) -> Option<&Type> {
    struct Find<'a>(Option<&'a Type>);
    impl<'a> Visit<'a> for Find<'a> {
        fn visit_assoc_type(&mut self, assoc: &'a syn::AssocType) {
            if self.0.is_none() && assoc.ident == "Output" {
                self.0 = Some(&assoc.ty);
            }
        }
    }
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mut find = Find(None);
    find.visit_type(ty);
    find.0
}

/// Whether a type can be written in a `let` annotation: not with `impl Trait` or `!` inside.
fn nameable(ty: &Type) -> bool {
    struct Check(bool);
    impl Visit<'_> for Check {
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = false;
        }
        fn visit_type_never(&mut self, _: &syn::TypeNever) {
            self.0 = false;
        }
        fn visit_type_infer(&mut self, _: &syn::TypeInfer) {}
        fn visit_macro(&mut self, _: &syn::Macro) {
            self.0 = false;
        }
    }
    let mut check = Check(true);
    check.visit_type(ty);
    check.0
}
