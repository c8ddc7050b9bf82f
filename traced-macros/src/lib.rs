//! The `#[traced]` attribute of the [`traced`](https://docs.rs/traced) crate: parse → validate → expand.
//!
//! Use it through the `traced` crate (`use traced::traced;`), which also provides the runtime the expansion calls.

mod attr;
mod expand;
mod valid;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, ToTokens};
use syn::{ImplItem, Item};

use attr::{Ctxt, Options};

/// Opens an OpenTelemetry span around a fn, or around every fn of an `impl` block.
///
/// Works on sync `fn`, `async fn`, `fn -> impl Future` (the span covers the run of the returned future), bodies
/// ending in `Box::pin(async move { .. })` (`#[async_trait]`, self-boxing recursion), methods with any receiver,
/// generic fns, `impl Trait` and pattern arguments, and `unsafe fn`.
///
/// Every span carries `code.function.name`, `code.file.path`, `code.line.number`, `code.column.number` and
/// `duration_ms`; an `Err` of any `Result` (aliases included: decided by the type of the value) sets status ERROR,
/// `error.type`, `error.chain` (the `source()` chain, one cause per line) and an `exception` event; a panic sets
/// status ERROR with `error.type = "panic"` and continues; a future dropped before completion gets
/// `cancelled = true`.
///
/// | option | example | effect |
/// |---|---|---|
/// | `name` | `name = "checkout"` | span name (default: fn name, `Type::method` in an impl block) |
/// | `kind` | `kind = server` | OTLP span kind: server, client, producer, consumer, internal |
/// | `level` | `level = "debug"` | `tracing` level of the span (default info) |
/// | `target` | `target = "payments"` | `tracing` target (default: module path) |
/// | `args` | `args(user_id, amount)` | records these parameters only (none by default) |
/// | `fields` | `fields(db.system = "postgresql", user = %u, req = ?r)` | attributes from expressions |
/// | `err` | `err(Debug)`, `err(off)` | how an `Err` is described, or not recorded |
/// | `ret` | `ret` | records the returned value as `return.value`; of a `Result`, the `Ok` value (the `Err` is the error) |
/// | `parent` | `parent = cx` | explicit parent: a `tracing::Span`, an OpenTelemetry `Context`, a `SpanContext` or an `Option` of them; current while `fields` and `args` are evaluated |
/// | `root` | `root` | starts a new trace, sampled on its own (inside a dropped trace too) |
/// | `link` | `link = other_cx` | adds a link (repeatable) |
/// | `crate` | `crate = my_traced` | path of a renamed `traced` dependency |
/// | `skip` | `skip` | inside an instrumented impl block: leave this fn alone |
///
/// Values of `args`, `fields(key = expr)` and `ret` keep their OTLP type for integers, floats, bools and strings;
/// other types are recorded with `Display` when they implement it, `Debug` otherwise. `%expr` forces `Display`,
/// `?expr` forces `Debug`.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    if cfg!(feature = "off") {
        return item;
    }
    expand_item(args.into(), item.into()).into()
}

fn expand_item(args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let mut cx = Ctxt::default();
    let options = attr::parse(args, &mut cx);
    match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(mut function)) => {
            valid::check_fn(&options, &function.sig, &mut cx);
            if let Err(error) = cx.check() {
                return with_error(function.into_token_stream(), &error);
            }
            if options.skip.is_none() {
                *function.block = expand::body(&options, &function.sig, &function.block, None);
            }
            function.into_token_stream()
        }
        Ok(Item::Impl(block)) => expand_impl(&options, block, cx),
        Ok(Item::Verbatim(tokens)) if is_fn_without_body(&tokens) => {
            cx.error(
                first_token(&tokens),
                "`#[traced]` needs a fn with a body: in a trait, put it on the fn of the impl block",
            );
            with_error(item, &cx.check().unwrap_err())
        }
        Ok(other) => {
            cx.error(
                item_keyword(&other),
                format!(
                    "`#[traced]` applies to fns and impl blocks, not to {}",
                    item_description(&other)
                ),
            );
            with_error(item, &cx.check().unwrap_err())
        }
        Err(_) => {
            cx.error(
                first_token(&item),
                "`#[traced]` applies to fns with a body and to impl blocks",
            );
            with_error(item, &cx.check().unwrap_err())
        }
    }
}

/// Instruments every fn of an impl block; a fn's own `#[traced(..)]` overrides the block's options.
fn expand_impl(block_options: &Options, mut block: syn::ItemImpl, mut cx: Ctxt) -> TokenStream2 {
    valid::check_impl(block_options, &mut cx);
    let owner = type_name(&block.self_ty);
    let mut instrumented = Vec::new();
    for item in &mut block.items {
        let ImplItem::Fn(function) = item else {
            continue;
        };
        let mut own = None;
        let mut kept = Vec::with_capacity(function.attrs.len());
        for attribute in std::mem::take(&mut function.attrs) {
            if is_traced(&attribute) {
                let tokens = match &attribute.meta {
                    syn::Meta::List(list) => list.tokens.clone(),
                    _ => TokenStream2::new(),
                };
                if own.is_some() {
                    cx.error(&attribute, "duplicate `#[traced]` on this fn");
                } else {
                    own = Some(attr::parse(tokens, &mut cx));
                }
            } else {
                kept.push(attribute);
            }
        }
        function.attrs = kept;
        // A `const fn` cannot be instrumented: skipped silently unless the fn asked for a span itself.
        if own.is_none() && function.sig.constness.is_some() {
            continue;
        }
        // The fn's own options are checked before the block's are merged in: `#[traced(skip)]` inside a block
        // with options must not read as `skip` combined with the inherited ones.
        if let Some(own) = &own {
            valid::check_fn(own, &function.sig, &mut cx);
        }
        let options = own.map_or_else(|| block_options.clone(), |own| own.over(block_options));
        if options.skip.is_none() {
            instrumented.push((function.sig.ident.clone(), options));
        }
    }
    if let Err(error) = cx.check() {
        return with_error(block.into_token_stream(), &error);
    }
    for item in &mut block.items {
        let ImplItem::Fn(function) = item else {
            continue;
        };
        if let Some((_, options)) = instrumented
            .iter()
            .find(|(name, _)| *name == function.sig.ident)
        {
            function.block = expand::body(options, &function.sig, &function.block, Some(&owner));
        }
    }
    block.into_token_stream()
}

/// `#[traced]` or `#[traced::traced]` (or any path ending in `traced`).
fn is_traced(attribute: &syn::Attribute) -> bool {
    attribute
        .path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "traced")
}

/// The name spans of an impl block's fns start with: the last path segment of the type, without generics.
fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(path) => path
            .path
            .segments
            .last()
            .map_or_else(String::new, |segment| segment.ident.to_string()),
        syn::Type::Reference(reference) => type_name(&reference.elem),
        other => other.to_token_stream().to_string().replace(' ', ""),
    }
}

/// The user's item unchanged beside the errors, so the rest of the crate (and the IDE) still sees the fn.
fn with_error(item: TokenStream2, error: &syn::Error) -> TokenStream2 {
    let error = error.to_compile_error();
    quote!(#item #error)
}

/// The keyword that says what kind of item this is, to point the error at.
fn item_keyword(item: &Item) -> TokenStream2 {
    match item {
        Item::Struct(s) => s.struct_token.into_token_stream(),
        Item::Enum(e) => e.enum_token.into_token_stream(),
        Item::Trait(t) => t.trait_token.into_token_stream(),
        Item::Mod(m) => m.mod_token.into_token_stream(),
        Item::Const(c) => c.const_token.into_token_stream(),
        Item::Static(s) => s.static_token.into_token_stream(),
        Item::Type(t) => t.type_token.into_token_stream(),
        Item::Union(u) => u.union_token.into_token_stream(),
        Item::Use(u) => u.use_token.into_token_stream(),
        other => first_token(&other.to_token_stream()),
    }
}

/// `fn f();`, which syn leaves as tokens: the signature of a trait method or a foreign fn.
fn is_fn_without_body(tokens: &TokenStream2) -> bool {
    let mut tokens = tokens.clone().into_iter();
    tokens.any(|tt| matches!(&tt, proc_macro2::TokenTree::Ident(ident) if ident == "fn"))
        && tokens.last().is_some_and(
            |tt| matches!(&tt, proc_macro2::TokenTree::Punct(punct) if punct.as_char() == ';'),
        )
}

/// What the item is, for the error message.
fn item_description(item: &Item) -> &'static str {
    match item {
        Item::Struct(_) => "a struct",
        Item::Enum(_) => "an enum",
        Item::Trait(_) => "a trait (put it on the impl block or on its fns)",
        Item::Mod(_) => "a module",
        Item::Const(_) => "a const",
        Item::Static(_) => "a static",
        Item::Type(_) => "a type alias",
        Item::Union(_) => "a union",
        Item::Use(_) => "a use declaration",
        Item::ForeignMod(_) => "an extern block",
        Item::Macro(_) => "a macro invocation",
        _ => "this item",
    }
}

fn first_token(tokens: &TokenStream2) -> TokenStream2 {
    tokens.clone().into_iter().take(1).collect()
}
