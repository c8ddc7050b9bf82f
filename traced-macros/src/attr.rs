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
    pub(crate) ret: Option<Spanned<()>>,
    pub(crate) parent: Option<Spanned<Expr>>,
    pub(crate) root: Option<Spanned<()>>,
    pub(crate) links: Vec<Spanned<Expr>>,
    pub(crate) krate: Option<Spanned<Path>>,
    pub(crate) skip: Option<Spanned<()>>,
}

impl Options {
    /// A fn's own options over its impl block's: what the fn says wins, fields and links add up.
    pub(crate) fn over(mut self, block: &Options) -> Options {
        self.kind = self.kind.or_else(|| block.kind.clone());
        self.level = self.level.or_else(|| block.level.clone());
        self.target = self.target.or_else(|| block.target.clone());
        self.err = self.err.or_else(|| block.err.clone());
        self.ret = self.ret.or_else(|| block.ret.clone());
        self.krate = self.krate.or_else(|| block.krate.clone());
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

const OPTIONS: &str =
    "name, kind, level, target, args, fields, err, ret, parent, root, link, crate, skip";

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
                let mode = match &option.value {
                    RawValue::Flag => Some(ErrMode::Display),
                    RawValue::List(_, inner) => match syn::parse2::<Ident>(inner.clone()) {
                        Ok(word) if word == "Display" => Some(ErrMode::Display),
                        Ok(word) if word == "Debug" => Some(ErrMode::Debug),
                        Ok(word) if word == "off" => Some(ErrMode::Off),
                        _ => {
                            cx.error(inner, "`err` takes `Display`, `Debug` or `off`: `err(Debug)`");
                            None
                        }
                    },
                    RawValue::Assign(..) => {
                        cx.error(&tokens, "`err` takes `Display`, `Debug` or `off`: `err(Debug)`");
                        None
                    }
                };
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
            "crate" => match &option.value {
                RawValue::Assign(_, Expr::Path(path)) if path.qself.is_none() => {
                    set(&mut options.krate, path.path.clone(), tokens, &option.key, cx);
                }
                _ => cx.error(&tokens, "`crate` takes a path: `crate = my_traced`"),
            },
            _ => {
                let hint = closest(&key)
                    .map(|known| format!(", did you mean `{known}`?"))
                    .unwrap_or_default();
                cx.error(
                    &option.key,
                    format!("unknown option `{key}`{hint} (known options: {OPTIONS})"),
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

const KNOWN: [&str; 13] = [
    "name", "kind", "level", "target", "args", "fields", "err", "ret", "parent", "root", "link",
    "crate", "skip",
];

/// A known option one or two edits away from `key`, for the "did you mean" hint.
fn closest(key: &str) -> Option<&'static str> {
    KNOWN
        .into_iter()
        .find(|known| edit_distance(key, known) <= 2 && key.len() > 2)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
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
