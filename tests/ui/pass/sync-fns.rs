//! Sync fn shapes: plain, every option, unsafe, patterns, generics, aliases of Result, diverging.
#![allow(unsafe_code)]
use traced::traced;

#[derive(Debug, thiserror::Error)]
#[error("bad thing")]
struct Bad;

type R<T> = Result<T, Bad>;

#[traced]
fn plain(a: u32) -> u32 {
    a + 1
}

#[traced]
fn unit() {}

#[traced(args(a, b), fields(db.system = "postgresql", user = %a, req = ?b), kind = server, level = "debug", ret)]
fn with_opts(a: u32, b: &str) -> R<u32> {
    if a > 1 {
        return Err(Bad);
    }
    let x: u32 = "5".parse().map_err(|_| Bad)?;
    Ok(a + x + u32::try_from(b.len()).unwrap())
}

#[traced]
unsafe fn unsafe_one(p: *const u8) -> u8 {
    *p
}

#[traced(args(a, x))]
fn pats((a, b): (u32, u32), mut x: u32, y: impl Into<u32>) -> u32 {
    x += 1;
    a + b + x + y.into()
}

#[traced]
fn generic<'a, T: AsRef<str> + ?Sized>(t: &'a T) -> &'a str
where
    T: std::fmt::Debug,
{
    t.as_ref()
}

#[traced]
fn slice(v: &Vec<u32>) -> &[u32] {
    v
}

#[traced]
fn io() -> std::io::Result<()> {
    std::fs::read("/nonexistent")?;
    Ok(())
}

#[traced]
fn boxed_error() -> Result<(), Box<dyn std::error::Error>> {
    Err("no".into())
}

#[traced]
fn returns_impl_trait(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[traced]
fn diverges() -> ! {
    std::process::exit(0)
}

fn main() {
    assert_eq!(plain(1), 2);
    unit();
    assert!(with_opts(5, "x").is_err());
    assert_eq!(pats((1, 2), 3, 4u8), 11);
    assert_eq!(generic("hi"), "hi");
    assert_eq!(slice(&vec![1]), &[1]);
    assert!(io().is_err());
    assert!(boxed_error().is_err());
    assert_eq!(returns_impl_trait(3).sum::<u32>(), 3);
    let b = 7u8;
    assert_eq!(unsafe { unsafe_one(&b) }, 7);
    diverges();
}
