//! The option grammar of `#[traced(...)]`: tokens in, [`Options`] out. Every mistake is collected in a [`Ctxt`]
//! so the user sees all of them at once, each under its own token.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Path, Token};

/// Collects errors; [`Ctxt::check`] merges them into one.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Vec<syn::Error>,
}

impl Ctxt {
    pub(crate) fn error(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    pub(crate) fn check(self) -> Result<(), syn::Error> {
        let mut errors = self.errors.into_iter();
        let Some(mut first) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            first.combine(error);
        }
        Err(first)
    }
}

/// OpenTelemetry span kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Server,
    Client,
    Producer,
    Consumer,
    Internal,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Server => "server",
            Kind::Client => "client",
            Kind::Producer => "producer",
            Kind::Consumer => "consumer",
            Kind::Internal => "internal",
        }
    }
}

/// `tracing` level of the span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub(crate) fn const_name(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// How an `Err` is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrMode {
    Display,
    Debug,
    Off,
}

/// How a field value is turned into an attribute.
#[derive(Clone)]
pub(crate) enum FieldValue {
    /// `key = expr`: native OTLP type, else `Display`, else `Debug`.
    Auto(Expr),
    /// `key = %expr`
    Display(Expr),
    /// `key = ?expr`
    Debug(Expr),
}

/// One `fields(...)` entry.
#[derive(Clone)]
pub(crate) struct Field {
    /// The attribute key, dotted segments joined (`db.system`).
    pub(crate) key: String,
    pub(crate) key_tokens: TokenStream,
    pub(crate) value: FieldValue,
}

/// An option with the token it was written with, so later checks can point at it.
#[derive(Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) tokens: TokenStream,
}

/// Everything `#[traced(...)]` can say. `None` means "not written".
#[derive(Clone, Default)]
pub(crate) struct Options {
    pub(crate) name: Option<Spanned<LitStr>>,
    pub(crate) kind: Option<Spanned<Kind>>,
    pub(crate) level: Option<Spanned<Level>>,
    pub(crate) target: Option<Spanned<LitStr>>,
    pub(crate) args: Option<Spanned<Vec<Ident>>>,
    pub(crate) fields: Option<Spanned<Vec<Field>>>,
    pub(crate) err: Option<Spanned<ErrMode>>,
    /// `err(log = off)`: false turns the error's log line off (the span still records it).
    pub(crate) err_log: Option<Spanned<bool>>,
    pub(crate) ret: Option<Spanned<()>>,
    pub(crate) parent: Option<Spanned<Expr>>,
    pub(crate) root: Option<Spanned<()>>,
    pub(crate) links: Vec<Spanned<Expr>>,
    pub(crate) krate: Option<Spanned<Path>>,
    pub(crate) skip: Option<Spanned<()>>,
    /// `metrics(off)`: no function metrics for this fn.
    pub(crate) metrics_off: Option<Spanned<()>>,
    pub(crate) objective: Option<Spanned<Objective>>,
}

/// `objective(name = "api", success = 99.9, latency_ms = 250, latency_percentile = 99)`: the labels of the
/// autometrics specification, as text.
#[derive(Clone, Debug)]
pub(crate) struct Objective {
    pub(crate) name: String,
    /// The success-rate percentile (`"99.9"`).
    pub(crate) success: Option<String>,
    /// The latency threshold in seconds (`"0.25"`) and its percentile (`"99"`).
    pub(crate) latency: Option<(String, String)>,
}

/// The latency thresholds an objective may name, in milliseconds: the bounds of `function.calls.duration`, so
/// the threshold is a bucket the SLO queries can read.
const LATENCIES_MS: [u32; 14] = [
    5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000,
];

impl Options {
    /// A fn's own options over its impl block's: what the fn says wins, fields and links add up.
    pub(crate) fn over(mut self, block: &Options) -> Options {
        self.kind = self.kind.or_else(|| block.kind.clone());
        self.level = self.level.or_else(|| block.level.clone());
        self.target = self.target.or_else(|| block.target.clone());
        self.err = self.err.or_else(|| block.err.clone());
        self.err_log = self.err_log.or_else(|| block.err_log.clone());
        self.ret = self.ret.or_else(|| block.ret.clone());
        self.krate = self.krate.or_else(|| block.krate.clone());
        self.metrics_off = self.metrics_off.or_else(|| block.metrics_off.clone());
        self.objective = self.objective.or_else(|| block.objective.clone());
        self.fields = match (self.fields, &block.fields) {
            (Some(mut own), Some(shared)) => {
                let inherited: Vec<Field> = shared
                    .value
                    .iter()
                    .filter(|f| own.value.iter().all(|o| o.key != f.key))
                    .cloned()
                    .collect();
                own.value.extend(inherited);
                Some(own)
            }
            (own, shared) => own.or_else(|| shared.clone()),
        };
        self
    }
}

/// One option as written, before it is understood: `key`, `key = expr` or `key(tokens)`.
struct RawOption {
    key: Ident,
    value: RawValue,
}

/// One item of `err(...)`: a mode word, or `log = on|off`.
struct ErrItem {
    key: Ident,
    value: Option<Ident>,
    tokens: TokenStream,
}

impl Parse for ErrItem {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        let mut tokens = key.to_token_stream();
        let value = if input.peek(Token![=]) {
            let eq: Token![=] = input.parse()?;
            let value: Ident = input.parse()?;
            eq.to_tokens(&mut tokens);
            value.to_tokens(&mut tokens);
            Some(value)
        } else {
            None
        };
        Ok(ErrItem { key, value, tokens })
    }
}

enum RawValue {
    Flag,
    Assign(Token![=], Expr),
    List(syn::token::Paren, TokenStream),
}

impl Parse for RawOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `Ident::parse_any` accepts the keyword `crate`.
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            RawValue::Assign(input.parse()?, input.parse()?)
        } else if input.peek(syn::token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            RawValue::List(paren, content.parse()?)
        } else {
            RawValue::Flag
        };
        Ok(RawOption { key, value })
    }
}

impl RawOption {
    fn tokens(&self) -> TokenStream {
        let mut tokens = self.key.to_token_stream();
        match &self.value {
            RawValue::Flag => {}
            RawValue::Assign(eq, expr) => {
                eq.to_tokens(&mut tokens);
                expr.to_tokens(&mut tokens);
            }
            RawValue::List(paren, inner) => {
                paren.surround(&mut tokens, |t| t.extend(inner.clone()));
            }
        }
        tokens
    }
}

/// Parses the attribute's tokens. Unknown, malformed and duplicate options are reported in `cx`; the rest are
/// kept, so one mistake does not hide the others.
pub(crate) fn parse(tokens: TokenStream, cx: &mut Ctxt) -> Options {
    let mut options = Options::default();
    let raw = match Punctuated::<RawOption, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(raw) => raw,
        Err(error) => {
            cx.push(error);
            return options;
        }
    };
    let mut seen = Vec::new();
    for option in raw {
        let tokens = option.tokens();
        let key = option.key.to_string();
        // A repeated option is reported even when its first occurrence was malformed (`link` may repeat).
        if key != "link" && KNOWN.contains(&key.as_str()) {
            if seen.contains(&key) {
                cx.error(&option.key, format!("duplicate option `{key}`"));
                continue;
            }
            seen.push(key.clone());
        }
        match key.as_str() {
            "name" => {
                if let Some(lit) = expect_str(&option, cx) {
                    set(&mut options.name, lit, tokens, &option.key, cx);
                }
            }
            "target" => {
                if let Some(lit) = expect_str(&option, cx) {
                    set(&mut options.target, lit, tokens, &option.key, cx);
                }
            }
            "kind" => {
                if let Some(kind) = expect_word(&option, cx).and_then(|w| parse_kind(&w, &option, cx)) {
                    set(&mut options.kind, kind, tokens, &option.key, cx);
                }
            }
            "level" => {
                if let Some(level) = expect_word(&option, cx).and_then(|w| parse_level(&w, &option, cx)) {
                    set(&mut options.level, level, tokens, &option.key, cx);
                }
            }
            "args" => match &option.value {
                RawValue::List(_, inner) => {
                    // `parse_any`: `self` is a keyword, and a parameter `args` may name.
                    let names = |input: ParseStream<'_>| {
                        Punctuated::<Ident, Token![,]>::parse_terminated_with(input, Ident::parse_any)
                    };
                    match names.parse2(inner.clone()) {
                        Ok(idents) => {
                            let idents = idents.into_iter().collect();
                            set(&mut options.args, idents, tokens, &option.key, cx);
                        }
                        Err(error) => cx.push(syn::Error::new(
                            error.span(),
                            "`args` takes parameter names: `args(a, b)`",
                        )),
                    }
                }
                _ => cx.error(&tokens, "`args` takes parameter names: `args(a, b)`"),
            },
            "fields" => match &option.value {
                RawValue::List(_, inner) => {
                    match Punctuated::<Field, Token![,]>::parse_terminated.parse2(inner.clone()) {
                        Ok(fields) => {
                            let fields = fields.into_iter().collect();
                            set(&mut options.fields, fields, tokens, &option.key, cx);
                        }
                        Err(error) => cx.push(error),
                    }
                }
                _ => cx.error(
                    &tokens,
                    "`fields` takes a list: `fields(key = expr, db.system = \"postgresql\", user = %u)`",
                ),
            },
            "err" => {
                const ERR: &str = "`err` takes `Display`, `Debug` or `off`, and `log = off`: `err(Debug)`, `err(log = off)`";
                let mut mode = None;
                match &option.value {
                    RawValue::Flag => mode = Some(ErrMode::Display),
                    RawValue::List(_, inner) => {
                        let items = Punctuated::<ErrItem, Token![,]>::parse_terminated
                            .parse2(inner.clone());
                        match items {
                            Ok(items) => {
                                for item in items {
                                    match (item.key.to_string().as_str(), &item.value) {
                                        ("Display", None) => mode = Some(ErrMode::Display),
                                        ("Debug", None) => mode = Some(ErrMode::Debug),
                                        ("off", None) => mode = Some(ErrMode::Off),
                                        ("log", Some(value)) if value == "off" || value == "on" => {
                                            set(
                                                &mut options.err_log,
                                                value == "on",
                                                item.tokens.clone(),
                                                &item.key,
                                                cx,
                                            );
                                        }
                                        ("log", _) => cx.error(
                                            &item.tokens,
                                            "`log` in `err` takes `on` or `off`: `err(log = off)`",
                                        ),
                                        _ => cx.error(&item.tokens, ERR),
                                    }
                                }
                                // `err(log = off)` alone keeps the default mode.
                                if mode.is_none() && options.err_log.is_some() {
                                    mode = Some(ErrMode::Display);
                                }
                            }
                            Err(_) => cx.error(inner, ERR),
                        }
                    }
                    RawValue::Assign(..) => cx.error(&tokens, ERR),
                }
                if let Some(mode) = mode {
                    set(&mut options.err, mode, tokens, &option.key, cx);
                }
            }
            "ret" => {
                if expect_flag(&option, cx) {
                    set(&mut options.ret, (), tokens, &option.key, cx);
                }
            }
            "root" => {
                if expect_flag(&option, cx) {
                    set(&mut options.root, (), tokens, &option.key, cx);
                }
            }
            "skip" => {
                if expect_flag(&option, cx) {
                    set(&mut options.skip, (), tokens, &option.key, cx);
                }
            }
            "parent" => {
                if let Some(expr) = expect_expr(&option, cx) {
                    set(&mut options.parent, expr, tokens, &option.key, cx);
                }
            }
            "link" => {
                // Several links are allowed: `link = a, link = b`.
                if let Some(expr) = expect_expr(&option, cx) {
                    options.links.push(Spanned { value: expr, tokens });
                }
            }
            "metrics" => match &option.value {
                RawValue::List(_, inner) if syn::parse2::<Ident>(inner.clone()).is_ok_and(|w| w == "off") => {
                    set(&mut options.metrics_off, (), tokens, &option.key, cx);
                }
                _ => cx.error(&tokens, "`metrics` takes `off`: `metrics(off)` leaves the fn out of the function metrics"),
            },
            "objective" => match &option.value {
                RawValue::List(_, inner) => {
                    if let Some(objective) = parse_objective(inner, &tokens, cx) {
                        set(&mut options.objective, objective, tokens, &option.key, cx);
                    }
                }
                _ => cx.error(&tokens, OBJECTIVE_SHAPE),
            },
            "crate" => match &option.value {
                RawValue::Assign(_, Expr::Path(path)) if path.qself.is_none() => {
                    set(&mut options.krate, path.path.clone(), tokens, &option.key, cx);
                }
                _ => cx.error(&tokens, "`crate` takes a path: `crate = my_traced`"),
            },
            _ => {
                let hint = traced_conventions::suggest::closest(&key, &KNOWN)
                    .map(|known| format!(", did you mean `{known}`?"))
                    .unwrap_or_default();
                let known = KNOWN.join(", ");
                cx.error(
                    &option.key,
                    format!("unknown option `{key}`{hint} (known options: {known})"),
                );
            }
        }
    }
    options
}

/// Stores an option, or reports it as a duplicate on its second occurrence.
fn set<T>(
    slot: &mut Option<Spanned<T>>,
    value: T,
    tokens: TokenStream,
    key: &Ident,
    cx: &mut Ctxt,
) {
    if slot.is_some() {
        cx.error(key, format!("duplicate option `{key}`"));
    } else {
        *slot = Some(Spanned { value, tokens });
    }
}

fn expect_flag(option: &RawOption, cx: &mut Ctxt) -> bool {
    if matches!(option.value, RawValue::Flag) {
        true
    } else {
        cx.error(option.tokens(), format!("`{}` takes no value", option.key));
        false
    }
}

fn expect_expr(option: &RawOption, cx: &mut Ctxt) -> Option<Expr> {
    match &option.value {
        RawValue::Assign(_, expr) => Some(expr.clone()),
        _ => {
            cx.error(
                option.tokens(),
                format!("`{0}` takes an expression: `{0} = expr`", option.key),
            );
            None
        }
    }
}

fn expect_str(option: &RawOption, cx: &mut Ctxt) -> Option<LitStr> {
    match &option.value {
        RawValue::Assign(
            _,
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(lit),
                ..
            }),
        ) => Some(lit.clone()),
        RawValue::Assign(_, expr) => {
            cx.error(
                expr,
                format!("`{0}` takes a string literal: `{0} = \"...\"`", option.key),
            );
            None
        }
        _ => {
            cx.error(
                option.tokens(),
                format!("`{0}` takes a string literal: `{0} = \"...\"`", option.key),
            );
            None
        }
    }
}

/// `key = word` or `key = "word"`: the word and the tokens to blame.
fn expect_word(option: &RawOption, cx: &mut Ctxt) -> Option<(String, TokenStream)> {
    match &option.value {
        RawValue::Assign(_, Expr::Path(path)) if path.path.get_ident().is_some() => {
            let ident = path.path.get_ident()?;
            Some((ident.to_string(), ident.to_token_stream()))
        }
        RawValue::Assign(
            _,
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(lit),
                ..
            }),
        ) => Some((lit.value(), lit.to_token_stream())),
        RawValue::Assign(_, expr) => {
            cx.error(
                expr,
                format!(
                    "`{}` takes a word such as `{}`",
                    option.key,
                    example(option)
                ),
            );
            None
        }
        _ => {
            cx.error(
                option.tokens(),
                format!(
                    "`{}` takes a value: `{} = {}`",
                    option.key,
                    option.key,
                    example(option)
                ),
            );
            None
        }
    }
}

fn example(option: &RawOption) -> &'static str {
    if option.key == "kind" {
        "server"
    } else {
        "\"debug\""
    }
}

fn parse_kind(
    (word, tokens): &(String, TokenStream),
    _option: &RawOption,
    cx: &mut Ctxt,
) -> Option<Kind> {
    let kind = match word.to_ascii_lowercase().as_str() {
        "server" => Kind::Server,
        "client" => Kind::Client,
        "producer" => Kind::Producer,
        "consumer" => Kind::Consumer,
        "internal" => Kind::Internal,
        _ => {
            cx.error(
                tokens,
                format!("unknown span kind `{word}`: expected server, client, producer, consumer or internal"),
            );
            return None;
        }
    };
    Some(kind)
}

fn parse_level(
    (word, tokens): &(String, TokenStream),
    _option: &RawOption,
    cx: &mut Ctxt,
) -> Option<Level> {
    let level = match word.to_ascii_lowercase().as_str() {
        "trace" => Level::Trace,
        "debug" => Level::Debug,
        "info" => Level::Info,
        "warn" => Level::Warn,
        "error" => Level::Error,
        _ => {
            cx.error(
                tokens,
                format!("unknown level `{word}`: expected trace, debug, info, warn or error"),
            );
            return None;
        }
    };
    Some(level)
}

/// Every option, in the order the "known options" of an error message list them.
const KNOWN: [&str; 15] = [
    "name",
    "kind",
    "level",
    "target",
    "args",
    "fields",
    "err",
    "ret",
    "parent",
    "root",
    "link",
    "crate",
    "skip",
    "metrics",
    "objective",
];

const OBJECTIVE_SHAPE: &str = "`objective` takes `name = \"..\"` and a success percentile, a latency, or both: \
                               `objective(name = \"api\", success = 99.9, latency_ms = 250, latency_percentile = 99)`";

/// A percentile literal (`99`, `99.9`) in `(0, 100)`, as written.
fn percentile(expr: &Expr, cx: &mut Ctxt) -> Option<String> {
    let text = match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(f),
            ..
        }) => f.base10_digits().to_owned(),
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_digits().to_owned(),
        _ => {
            cx.error(expr, "a percentile is a number: `99.9`");
            return None;
        }
    };
    match text.parse::<f64>() {
        Ok(p) if p > 0.0 && p < 100.0 => Some(text),
        _ => {
            cx.error(expr, "a percentile is between 0 and 100, exclusive: `99.9`");
            None
        }
    }
}

fn parse_objective(inner: &TokenStream, tokens: &TokenStream, cx: &mut Ctxt) -> Option<Objective> {
    let entries =
        match Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated.parse2(inner.clone()) {
            Ok(entries) => entries,
            Err(_) => {
                cx.error(tokens, OBJECTIVE_SHAPE);
                return None;
            }
        };
    let (mut name, mut success, mut latency_ms, mut latency_percentile) = (None, None, None, None);
    for entry in &entries {
        let key = entry
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "name" => match &entry.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(lit),
                    ..
                }) if !lit.value().is_empty() => {
                    name = Some(lit.value());
                }
                other => cx.error(
                    other,
                    "the objective's `name` is a non-empty string: `name = \"api\"`",
                ),
            },
            "success" => success = percentile(&entry.value, cx),
            "latency_percentile" => {
                latency_percentile = percentile(&entry.value, cx).map(|p| (p, entry))
            }
            "latency_ms" => match &entry.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(ms),
                    ..
                }) if ms
                    .base10_parse::<u32>()
                    .is_ok_and(|ms| LATENCIES_MS.contains(&ms)) =>
                {
                    latency_ms = ms.base10_parse::<u32>().ok().map(|ms| (ms, entry));
                }
                other => {
                    let accepted = LATENCIES_MS.map(|ms| ms.to_string()).join(", ");
                    cx.error(
                        other,
                        format!("`latency_ms` is a bucket bound of `function.calls.duration`: one of {accepted}"),
                    );
                }
            },
            _ => {
                let known = ["name", "success", "latency_ms", "latency_percentile"];
                let hint = traced_conventions::suggest::closest(&key, &known)
                    .map(|k| format!(", did you mean `{k}`?"))
                    .unwrap_or_default();
                cx.error(
                    &entry.path,
                    format!(
                        "unknown objective option `{key}`{hint} (known: {})",
                        known.join(", ")
                    ),
                );
            }
        }
    }
    let latency = match (latency_ms, latency_percentile) {
        (Some((ms, _)), Some((percentile, _))) => Some((seconds(ms), percentile)),
        (Some((_, entry)), None) => {
            cx.error(entry, "`latency_ms` needs `latency_percentile` too: `latency_ms = 250, latency_percentile = 99`");
            None
        }
        (None, Some((_, entry))) => {
            cx.error(entry, "`latency_percentile` needs `latency_ms` too: `latency_ms = 250, latency_percentile = 99`");
            None
        }
        (None, None) => None,
    };
    let Some(name) = name else {
        cx.error(tokens, OBJECTIVE_SHAPE);
        return None;
    };
    if success.is_none() && latency.is_none() {
        cx.error(tokens, OBJECTIVE_SHAPE);
        return None;
    }
    Some(Objective {
        name,
        success,
        latency,
    })
}

/// Milliseconds as the seconds text of `objective.latency_threshold` (`250` → `"0.25"`).
fn seconds(ms: u32) -> String {
    let text = format!("{}.{:03}", ms / 1000, ms % 1000);
    let text = text.trim_end_matches('0');
    text.strip_suffix('.')
        .map_or_else(|| text.to_owned(), ToOwned::to_owned)
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let start = input.cursor();
        let key = if input.peek(LitStr) {
            input.parse::<LitStr>()?.value()
        } else {
            let mut segments = vec![Ident::parse_any(input)?.to_string()];
            while input.peek(Token![.]) {
                input.parse::<Token![.]>()?;
                segments.push(Ident::parse_any(input)?.to_string());
            }
            segments.join(".")
        };
        let key_tokens = tokens_between(start, input.cursor());
        if !input.peek(Token![=]) {
            // Blame the key: at the end of the list `input.span()` is the whole attribute.
            return Err(syn::Error::new_spanned(
                &key_tokens,
                format!("field `{key}` needs a value: `{key} = expr`, `{key} = %expr` (Display) or `{key} = ?expr` (Debug)"),
            ));
        }
        input.parse::<Token![=]>()?;
        let value = if input.peek(Token![%]) {
            input.parse::<Token![%]>()?;
            FieldValue::Display(input.parse()?)
        } else if input.peek(Token![?]) {
            input.parse::<Token![?]>()?;
            FieldValue::Debug(input.parse()?)
        } else {
            FieldValue::Auto(input.parse()?)
        };
        Ok(Field {
            key,
            key_tokens,
            value,
        })
    }
}

fn tokens_between(start: syn::buffer::Cursor<'_>, end: syn::buffer::Cursor<'_>) -> TokenStream {
    let mut tokens = TokenStream::new();
    let mut cursor = start;
    while cursor < end {
        let Some((tt, next)) = cursor.token_tree() else {
            break;
        };
        tokens.extend(std::iter::once(tt));
        cursor = next;
    }
    tokens
}

/// The span to blame for a whole option.
pub(crate) fn span_of(tokens: &TokenStream) -> Span {
    tokens
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |tt| tt.span())
}
