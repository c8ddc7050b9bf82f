//! Checks of the options against the item they annotate. The expansion trusts what passes here.

use std::collections::BTreeSet;

use syn::{FnArg, Pat, Signature};

use crate::attr::{Ctxt, Options};

/// Options on a fn (free, or a method inside an instrumented impl block).
pub(crate) fn check_fn(options: &Options, sig: &Signature, cx: &mut Ctxt) {
    if let Some(constness) = &sig.constness {
        cx.error(
            constness,
            "`#[traced]` cannot instrument a `const fn`: spans, clocks and exporters do not run at compile time",
        );
    }
    if let Some(skip) = &options.skip {
        let others = [
            options.name.is_some(),
            options.kind.is_some(),
            options.level.is_some(),
            options.target.is_some(),
            options.args.is_some(),
            options.fields.is_some(),
            options.err.is_some(),
            options.ret.is_some(),
            options.parent.is_some(),
            options.root.is_some(),
            !options.links.is_empty(),
        ];
        if others.contains(&true) {
            cx.error(
                &skip.tokens,
                "`skip` leaves the fn uninstrumented and takes no other option",
            );
        }
    }
    check_fields(options, cx);
    if let (Some(err), Some(log)) = (&options.err, &options.err_log) {
        if err.value == crate::attr::ErrMode::Off {
            cx.error(
                &log.tokens,
                "`err(off)` records no error: `log` has no line to turn on or off",
            );
        }
    }
    if let (Some(root), Some(_)) = (&options.root, &options.parent) {
        cx.error(
            &root.tokens,
            "`root` conflicts with `parent`: a span either starts a new trace or continues its parent",
        );
    }
    if let Some(args) = &options.args {
        let params = parameter_names(sig);
        let mut seen = BTreeSet::new();
        for arg in &args.value {
            let name = arg.to_string();
            if !params.contains(&name) {
                let known = if params.is_empty() {
                    "the fn has no named parameters".to_owned()
                } else {
                    format!(
                        "parameters: {}",
                        params.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                };
                cx.error(
                    arg,
                    format!("`args` names `{name}`, which is not a parameter of this fn ({known})"),
                );
            } else if !seen.insert(name.clone()) {
                cx.error(arg, format!("`{name}` is listed twice in `args`"));
            }
        }
    }
}

/// Field keys must be distinct from each other, from the recorded args and from the attributes `#[traced]`
/// records itself.
fn check_fields(options: &Options, cx: &mut Ctxt) {
    let Some(fields) = &options.fields else {
        return;
    };
    let args: BTreeSet<String> = options
        .args
        .iter()
        .flat_map(|args| args.value.iter().map(ToString::to_string))
        .collect();
    let mut seen = BTreeSet::new();
    for field in &fields.value {
        let key = &field.key;
        let problem = if traced_conventions::span::RESERVED.contains(&key.as_str()) {
            format!("`{key}` is recorded by `#[traced]` itself: choose another key")
        } else if args.contains(key) {
            format!("`{key}` is already recorded by `args`: drop one of them")
        } else if !seen.insert(key.clone()) {
            format!("`{key}` appears twice in `fields`")
        } else {
            continue;
        };
        cx.error(&field.key_tokens, problem);
    }
}

/// Options on an impl block: the defaults for its fns. What only makes sense for one fn is refused here.
pub(crate) fn check_impl(options: &Options, cx: &mut Ctxt) {
    check_fields(options, cx);
    if let (Some(err), Some(log)) = (&options.err, &options.err_log) {
        if err.value == crate::attr::ErrMode::Off {
            cx.error(
                &log.tokens,
                "`err(off)` records no error: `log` has no line to turn on or off",
            );
        }
    }
    let per_fn = [
        ("name", options.name.as_ref().map(|o| &o.tokens)),
        ("args", options.args.as_ref().map(|o| &o.tokens)),
        ("parent", options.parent.as_ref().map(|o| &o.tokens)),
        ("root", options.root.as_ref().map(|o| &o.tokens)),
        ("skip", options.skip.as_ref().map(|o| &o.tokens)),
        ("link", options.links.first().map(|o| &o.tokens)),
    ];
    for (option, tokens) in per_fn {
        if let Some(tokens) = tokens {
            cx.error(
                tokens,
                format!("`{option}` applies to one fn: put `#[traced({option} ...)]` on the fn inside the impl block"),
            );
        }
    }
}

/// Every name a parameter binds, `self` included, patterns destructured.
fn parameter_names(sig: &Signature) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(_) => {
                names.insert("self".to_owned());
            }
            FnArg::Typed(typed) => collect_pattern(&typed.pat, &mut names),
        }
    }
    names
}

fn collect_pattern(pat: &Pat, names: &mut BTreeSet<String>) {
    match pat {
        Pat::Ident(ident) => {
            names.insert(ident.ident.to_string());
            if let Some((_, sub)) = &ident.subpat {
                collect_pattern(sub, names);
            }
        }
        Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| collect_pattern(p, names)),
        Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| collect_pattern(p, names)),
        Pat::Struct(pat) => pat
            .fields
            .iter()
            .for_each(|f| collect_pattern(&f.pat, names)),
        Pat::Slice(slice) => slice.elems.iter().for_each(|p| collect_pattern(p, names)),
        Pat::Reference(reference) => collect_pattern(&reference.pat, names),
        Pat::Paren(paren) => collect_pattern(&paren.pat, names),
        Pat::Type(typed) => collect_pattern(&typed.pat, names),
        _ => {}
    }
}
