//! Every option together on one fn, and the same options spelled in their other accepted forms.
use opentelemetry::trace::TraceContextExt;
use traced::traced;

#[traced(
    name = "checkout",
    kind = server,
    level = "warn",
    target = "payments",
    args(user, amount),
    fields(db.system = "postgresql", "http.route" = "/pay", shown = %user, dbg = ?amount),
    err(Debug),
    ret,
    parent = cx,
    link = cx,
    link = tracing::Span::current(),
    crate = ::traced
)]
fn checkout(cx: &opentelemetry::Context, user: &str, amount: u32) -> Result<u32, std::fmt::Error> {
    Ok(amount + u32::try_from(user.len()).unwrap())
}

#[traced(root, kind = "client", level = debug, err(off))]
fn fresh() -> Result<(), std::fmt::Error> {
    Err(std::fmt::Error)
}

#[traced(err, kind = Producer, level = "TRACE")]
fn defaults() -> Result<(), std::fmt::Error> {
    Ok(())
}

#[traced(err(Debug, log = off))]
fn quiet() -> Result<(), std::fmt::Error> {
    Err(std::fmt::Error)
}

#[traced(err(log = on))]
fn loud() -> Result<(), std::fmt::Error> {
    Ok(())
}

fn main() {
    let cx = opentelemetry::Context::current();
    assert!(!cx.span().span_context().is_valid());
    assert_eq!(checkout(&cx, "ann", 2), Ok(5));
    assert!(fresh().is_err());
    assert!(defaults().is_ok());
    assert!(quiet().is_err());
    assert!(loud().is_ok());
}
