//! Code generation. Options arrive validated; this module only decides the shape of the fn and writes the body.
//!
//! Generated locals start with `__traced_`; everything called lives in `<crate>::__private`; user tokens keep their
//! spans so errors inside the body still point at the user's code.
//!
//! What a fn costs to compile is what its expansion asks of the compiler, so the expansion is kept to one `static`
//! of the fn's constants (`__private::Site`, the `tracing` callsite among them, written as a struct literal rather
//! than through `tracing::span!`'s token munching) and a few calls into non-generic functions of `__private`. What
//! is generic per fn is only what must be: the body's closure (and its `FnMut` adapter, so that catching a panic is
//! one non-generic function), the one future wrapper of an async body, and the probes that choose by type how a
//! returned value and the values of `args`/`fields` are recorded.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Block, Expr, ReturnType, Signature, Stmt, Type};

use traced_conventions::error::{ERROR_CHAIN, ERROR_TYPE};
use traced_conventions::otel::{KIND, STATUS_CODE, STATUS_DESCRIPTION};
use traced_conventions::span::{CANCELLED, CODE_FIELDS, DURATION_MS, RETURN_VALUE};

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

    let site = site(options, sig, owner, &p, cancellable);
    let imports = imports(options, sig, &p);
    let built = built(options, &p);
    let started = built
        .clone()
        .unwrap_or_else(|| quote!(#p::start(&__TRACED_SITE)));
    // Spanned on the expression: a type `parent` does not take is reported there, with the types it takes.
    let parent = options.parent.as_ref().map(|parent| {
        let expr = &parent.value;
        let at = Span::call_site().located_at(expr.span());
        let checked = quote_spanned!(at=> #p::parent(__traced_parent));
        quote!(let __traced_parent = &(#expr); let __traced_parent = #checked;)
    });
    let finish = |done: TokenStream, value: TokenStream| finish(options, sig, &p, &done, &value);

    let tokens = match shape {
        Shape::Sync => {
            let body = closure(&sig.output, block, &p);
            let finish = finish(quote!(__traced_running), quote!(&__traced_ret));
            let error = error_type(options, sig, &p, &quote!(&__traced_ret));
            let run = run_sync(&p, &quote!(__traced_body()));
            quote! {
                let __traced_body = #body;
                if #p::idle(&__TRACED_SITE) {
                    __traced_body()
                } else {
                    match #started {
                        #p::Started::Plain(__traced_plain) => {
                            let __traced_ret = {
                                let __traced_mark = __traced_plain.mark();
                                __traced_body()
                            };
                            __traced_plain.finish(#error);
                            __traced_ret
                        }
                        #[allow(unreachable_code, clippy::used_underscore_binding)]
                        #p::Started::Span(__traced_running) => {
                            #run
                            #finish
                            __traced_ret
                        }
                    }
                }
            }
        }
        // The body returns an `Infallible` (see `closure`), so a panic (the usual way out of a `-> !` fn besides
        // `exit`) is recorded like in any other fn.
        Shape::Diverging => {
            let body = closure(&sig.output, block, &p);
            quote! {
            let __traced_body = #body;
            match #started {
                #p::Started::Plain(__traced_plain) => {
                    let __traced_mark = __traced_plain.mark();
                    match __traced_body() {}
                }
                #p::Started::Span(__traced_running) => {
                    let mut __traced_body = ::core::option::Option::Some(__traced_body);
                    __traced_running.run_never(&mut || {
                        if let ::core::option::Option::Some(__traced_body) = __traced_body.take() {
                            match __traced_body() {}
                        }
                    })
                }
            }
            }
        }
        Shape::Async => {
            let output = match &sig.output {
                ReturnType::Default => None,
                ReturnType::Type(_, ty) => Some(&**ty),
            };
            // An idle call (no subscriber wants its span, no metrics) awaits the body's future as is: no wrapper,
            // nothing built (a wrapper that polls only its body still cost twice `#[instrument]`'s disabled path).
            // The user's values are evaluated before the body's future takes the arguments.
            let future = quote!(__traced_future);
            match &built {
                None => {
                    let traced = traced(&p, None, &future, output, &finish);
                    quote! {
                        let __traced_future = async move #block;
                        if #p::idle(&__TRACED_SITE) {
                            __traced_future.await
                        } else {
                            #traced.await
                        }
                    }
                }
                Some(built) => {
                    let traced = traced(
                        &p,
                        Some(&quote!(__traced_started)),
                        &future,
                        output,
                        &finish,
                    );
                    quote! {
                        let __traced_started = if #p::idle(&__TRACED_SITE) {
                            ::core::option::Option::None
                        } else {
                            ::core::option::Option::Some(#built)
                        };
                        let __traced_future = async move #block;
                        match __traced_started {
                            ::core::option::Option::None => __traced_future.await,
                            ::core::option::Option::Some(__traced_started) => #traced.await,
                        }
                    }
                }
            }
        }
        // The future is wrapped before it is returned: dropped unpolled, it still closes its span as cancelled.
        Shape::ImplFuture => {
            let run = run_sync(&p, &quote!(__traced_body()));
            let body = closure(&sig.output, block, &p);
            let traced = traced(
                &p,
                Some(&quote!(__traced_started)),
                &quote!(__traced_future),
                future_output(&sig.output),
                &finish,
            );
            quote! {
                let __traced_body = #body;
                let (__traced_started, __traced_future) = match #started {
                    #p::Started::Plain(__traced_plain) => {
                        let __traced_future = {
                            let __traced_mark = __traced_plain.mark();
                            __traced_body()
                        };
                        (#p::Started::Plain(__traced_plain), __traced_future)
                    }
                    #p::Started::Span(__traced_running) => {
                        #run
                        (#p::Started::Span(__traced_running), __traced_ret)
                    }
                };
                #traced
            }
        }
        Shape::Boxed {
            prefix,
            pin,
            future,
        } => {
            let traced = traced(
                &p,
                Some(&quote!(__traced_started)),
                &future.to_token_stream(),
                future_output(&sig.output),
                &finish,
            );
            quote! {
                let __traced_started = #started;
                #(#prefix)*
                #pin(#traced)
            }
        }
    };
    // Handed back as tokens: parsing the generated body into a `syn::Block` only to print it again cost the
    // proc macro, unoptimized in a dev build, more than all the rest of its work.
    let tokens = quote! {
        #imports
        #site
        #parent
        #tokens
    };
    Block {
        brace_token: block.brace_token,
        stmts: vec![Stmt::Item(syn::Item::Verbatim(tokens))],
    }
}

/// The `__private::Traced` future of an async body: `future` run as `started` says (the site's own start when
/// `None`), its output recorded on
/// completion by a closure (a fn pointer: the probes need the output's type, nothing else of the fn). `output` is
/// the type of the future's output, when the signature says it, to help inference.
fn traced(
    p: &TokenStream,
    started: Option<&TokenStream>,
    future: &TokenStream,
    output: Option<&Type>,
    finish: &dyn Fn(TokenStream, TokenStream) -> TokenStream,
) -> TokenStream {
    let finish = finish(quote!(__traced_done), quote!(__traced_ret));
    let ret = match output {
        Some(ty) if nameable(ty) => quote!(: &#ty),
        Some(_) => TokenStream::new(),
        None => quote!(: &()),
    };
    let finish = quote!(|__traced_done: #p::Started, __traced_ret #ret| { #finish });
    match started {
        None => quote!(#p::Traced::start(&__TRACED_SITE, #future, #finish)),
        Some(started) => quote!(#p::Traced::new(#started, #future, #finish)),
    }
}

/// The body as a `FnOnce` closure returning the declared type, so `?`, coercions (`&Vec<T>` to `&[T]`), borrows
/// returned from its captures and the probes see what the fn declares (a type with `impl Trait` inside is left to
/// inference).
fn closure(output: &ReturnType, block: &Block, p: &TokenStream) -> TokenStream {
    let ret = match output {
        ReturnType::Default => quote!(-> ()),
        // `!` cannot be written there on stable: the body, of type `!`, is returned as an `Infallible`.
        ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)) => {
            quote!(-> ::core::convert::Infallible)
        }
        ReturnType::Type(_, ty) if nameable(ty) => quote!(-> #ty),
        ReturnType::Type(..) => TokenStream::new(),
    };
    quote! {{
        let __traced_once = #p::Once;
        move || #ret {
            __traced_once.take();
            #block
        }
    }}
}

/// Runs the sync `__traced_body` in `__traced_running` through a `&mut dyn FnMut` (the body is `FnOnce`: taken out
/// of an `Option` on the one call) and binds what it returned as `__traced_ret`.
fn run_sync(p: &TokenStream, call: &TokenStream) -> TokenStream {
    quote! {
        let mut __traced_body = ::core::option::Option::Some(__traced_body);
        let mut __traced_slot = ::core::option::Option::None;
        __traced_running.run(&mut || {
            if let ::core::option::Option::Some(__traced_body) = __traced_body.take() {
                __traced_slot = ::core::option::Option::Some(#call);
            }
        });
        let __traced_ret = match __traced_slot {
            ::core::option::Option::Some(__traced_ret) => __traced_ret,
            // `run` returns only after the body did.
            ::core::option::Option::None => #p::unreachable(),
        };
    }
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

/// The `static` of the fn's constants: its `tracing` callsite and metadata (name, target, level, location, every
/// field name the span may carry, unrecorded ones declared empty), how it is sampled and records errors, and its
/// function metrics (named by the span name and `module_path!()`, with its objective).
fn site(
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
    // Spanned on the fn's name, so that `line!()` and `column!()` point at the fn.
    let location = sig.ident.span();
    let line = quote_spanned!(location=> ::core::line!());
    let column = quote_spanned!(location=> ::core::column!());

    let mut names = CODE_FIELDS.to_vec();
    let kind = match &options.kind {
        Some(kind) => {
            names.push(KIND);
            let kind = kind.value.as_str();
            quote!(::core::option::Option::Some(#kind))
        }
        None => quote!(::core::option::Option::None),
    };
    names.extend([
        DURATION_MS,
        ERROR_TYPE,
        ERROR_CHAIN,
        STATUS_CODE,
        STATUS_DESCRIPTION,
    ]);
    if cancellable {
        names.push(CANCELLED);
    }
    if options.ret.is_some() {
        names.push(RETURN_VALUE);
    }
    let mut names: Vec<String> = names.into_iter().map(str::to_owned).collect();
    let fixed = names.len();
    names.extend(
        options
            .args
            .iter()
            .flat_map(|args| args.value.iter().map(ToString::to_string)),
    );
    names.extend(
        options
            .fields
            .iter()
            .flat_map(|fields| fields.value.iter().map(|f| f.key.clone())),
    );
    let user = names.len() - fixed;

    let sampling = if options.parent.is_some() {
        quote!(#p::Sampling::Parent)
    } else {
        let root = options.root.is_some();
        quote!(#p::Sampling::Ask { root: #root })
    };
    // `err(log = off)`: the span records the error, no line is logged for this fn.
    let quiet = options
        .err_log
        .as_ref()
        .is_some_and(|log| !log.value)
        .then(|| quote!(.without_log()));
    let err = match err_mode(options) {
        ErrMode::Debug => quote!(#p::ErrFormat::Debug #quiet),
        ErrMode::Display | ErrMode::Off => quote!(#p::ErrFormat::Display #quiet),
    };
    let metrics = metrics(options, p);
    quote! {
        static __TRACED_SITE: #p::Site = #p::Site::new(
            &__TRACED_SITE,
            #p::Names {
                name: #name,
                target: #target,
                module: ::core::module_path!(),
                file: ::core::file!(),
                line: #line,
                column: #column,
                fields: &[#(#names),*],
                user: #user,
            },
            #p::tracing::Level::#level,
            ::core::concat!(::core::module_path!(), #code_name),
            #kind,
            #sampling,
            #err,
            #metrics,
        );
    }
}

/// The site's `__private::Metrics`: `Off` with `metrics(off)`, else on with the `objective(..)`, if any.
fn metrics(options: &Options, p: &TokenStream) -> TokenStream {
    if options.metrics_off.is_some() {
        return quote!(#p::Metrics::Off);
    }
    let objective = match options.objective.as_ref().map(|o| &o.value) {
        None => quote!(::core::option::Option::None),
        Some(objective) => {
            let objective_name = &objective.name;
            let success = match &objective.success {
                Some(p) => quote!(::core::option::Option::Some(#p)),
                None => quote!(::core::option::Option::None),
            };
            let latency = match &objective.latency {
                Some((threshold, percentile)) => {
                    quote!(::core::option::Option::Some((#threshold, #percentile)))
                }
                None => quote!(::core::option::Option::None),
            };
            quote!(::core::option::Option::Some(#p::Objective {
                name: #objective_name,
                success: #success,
                latency: #latency,
            }))
        }
    };
    quote!(#p::Metrics::On(#objective))
}

/// The `error.type` of the function metrics for the returned value (`value`, a reference to it): the type of an
/// `Err`, `None` for anything else, and for a fn that returns nothing or has `metrics(off)`.
fn error_type(
    options: &Options,
    sig: &Signature,
    p: &TokenStream,
    value: &TokenStream,
) -> TokenStream {
    if options.metrics_off.is_some() || matches!(sig.output, ReturnType::Default) {
        quote!(::core::option::Option::None)
    } else {
        quote!((&&#p::Outcome(#value)).__traced_error_type())
    }
}

/// The expression that starts a span with values of the user's, parent or links, a `__private::Started` (`None`
/// for a span without: `__private::start` does all). The level, the sampler and the subscriber are asked first;
/// the values of `args` and `fields` are evaluated only for a span that is built, as `tracing::span!` evaluates
/// them.
fn built(options: &Options, p: &TokenStream) -> Option<TokenStream> {
    let mut values = Vec::new();
    if let Some(args) = &options.args {
        for arg in &args.value {
            values.push(quote_spanned!(arg.span()=>
                ::core::option::Option::Some(#p::field(&(&&&#p::Value(&#arg)).__traced_value()))
            ));
        }
    }
    if let Some(list) = &options.fields {
        for field in &list.value {
            let key_span = crate::attr::span_of(&field.key_tokens);
            let value = match &field.value {
                FieldValue::Auto(expr) => {
                    quote_spanned!(key_span=> #p::field(&(&&&#p::Value(&(#expr))).__traced_value()))
                }
                FieldValue::Display(expr) => {
                    quote_spanned!(key_span=> #p::field(&#p::tracing::field::debug(#p::Shown::Display(&(#expr)))))
                }
                FieldValue::Debug(expr) => {
                    quote_spanned!(key_span=> #p::field(&#p::tracing::field::debug(#p::Shown::Debug(&(#expr)))))
                }
            };
            values.push(quote!(::core::option::Option::Some(#value)));
        }
    }
    if values.is_empty() && options.parent.is_none() && options.links.is_empty() {
        return None;
    }
    // The parent's context is current while the values are evaluated: what they read of it is the parent's.
    let build = if options.parent.is_some() {
        quote!({
            let __traced_scope = #p::enter_parent(__traced_parent);
            __traced_builder.build_child(__traced_parent, &[#(#values),*])
        })
    } else {
        quote!(__traced_builder.build(&[#(#values),*]))
    };
    let links = options.links.iter().map(|link| {
        let expr = &link.value;
        quote!(__traced_running.link(&(#expr));)
    });
    Some(quote! {
        match #p::begin(&__TRACED_SITE) {
            #p::Begin::Plain(__traced_plain) => #p::Started::Plain(__traced_plain),
            #p::Begin::Build(__traced_builder) => {
                let __traced_running = #build;
                #(#links)*
                #p::Started::Span(__traced_running)
            }
        }
    })
}

/// The probe traits, imported anonymously so their methods resolve by autoref.
fn imports(options: &Options, sig: &Signature, p: &TokenStream) -> TokenStream {
    let mut traits = Vec::new();
    if options.metrics_off.is_none() && !matches!(sig.output, ReturnType::Default) {
        traits.extend([quote!(ErrorType), quote!(NoErrorType)]);
    }
    if options.args.is_some() || options.fields.is_some() || options.ret.is_some() {
        traits.extend([quote!(AsNative), quote!(AsDisplay), quote!(AsDebug)]);
    }
    if options.ret.is_some() {
        traits.extend([quote!(RetOk), quote!(RetWhole)]);
    }
    if err_mode(options) != ErrMode::Off && !matches!(sig.output, ReturnType::Default) {
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

/// Records the returned value (`value`, a reference to it) on `done` and closes the span: an `Err` as an exception
/// (unless `err(off)`, or the fn returns nothing, which has no `Err` to probe for), the value itself with `ret`;
/// then ends the call of the function metrics with the value's error type.
fn finish(
    options: &Options,
    sig: &Signature,
    p: &TokenStream,
    done: &TokenStream,
    value: &TokenStream,
) -> TokenStream {
    let failure = if err_mode(options) == ErrMode::Off || matches!(sig.output, ReturnType::Default)
    {
        quote!(#p::Failure::None)
    } else {
        quote!((&&&&&#p::Returned(#value)).__traced_failure())
    };
    let error = error_type(options, sig, p, value);
    let Some(ret) = &options.ret else {
        return quote!(#done.finish(#failure, ::core::option::Option::None, #error););
    };
    // Spanned on `ret` itself: a return type with neither Display nor Debug is reported there, not on the whole
    // attribute (in an impl block, every fn inherits the block's `ret`).
    let at = crate::attr::span_of(&ret.tokens);
    let record = |value: TokenStream| quote_spanned!(at=> ::core::option::Option::Some(#p::field(&(&&&#p::Value(#value)).__traced_value())));
    // A `Result` records its `Ok` value with that value's type; its `Err` is the span's error, or, with
    // `err(off)`, recorded whole so it is not lost.
    let shown = record(quote!(__traced_shown));
    let err = if err_mode(options) == ErrMode::Off {
        record(value.clone())
    } else {
        quote!(::core::option::Option::None)
    };
    quote! {
        match (&&#p::Ret(#value)).__traced_ok() {
            ::core::option::Option::Some(__traced_shown) => #done.finish(#failure, #shown, #error),
            ::core::option::Option::None => #done.finish(#failure, #err, #error),
        }
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
