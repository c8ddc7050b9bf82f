//! `#[traced]` with every option on every fn shape under `deny(warnings, clippy::all, clippy::pedantic)`:
//! `cargo clippy --all-targets -- -D warnings` fails if the expansion triggers a lint in the user's crate.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]
#![deny(warnings, clippy::all, clippy::pedantic)]
#![allow(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use traced::traced;

/// An error with a source.
#[derive(Debug, thiserror::Error)]
#[error("failed")]
struct Failed(#[source] fmt::Error);

type R<T> = Result<T, Failed>;

/// Displayed in fields.
struct User(&'static str);

impl fmt::Display for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[traced]
fn plain(a: u32) -> u32 {
    a + 1
}

#[traced]
fn unit() {}

#[traced(
    name = "everything",
    kind = server,
    level = "warn",
    target = "pedantic",
    args(count, user_name, ratio, flag),
    fields(db.system = "postgresql", shown = %user, dbg = ?count, answer = 42, "http.route" = "/x"),
    err(Debug),
    ret,
    link = tracing::Span::current()
)]
fn everything(count: u64, user_name: &str, ratio: f64, flag: bool, user: &User) -> R<usize> {
    if flag {
        return Err(Failed(fmt::Error));
    }
    let parsed: u64 = "5".parse().map_err(|_| Failed(fmt::Error))?;
    Ok(usize::try_from(count + parsed).unwrap_or_default()
        + user_name.len()
        + user.0.len()
        + usize::from(ratio > 0.0))
}

#[traced(parent = cx, err(off))]
fn with_parent(cx: &opentelemetry::Context) -> Result<(), fmt::Error> {
    let _ = cx;
    Err(fmt::Error)
}

#[traced(root, kind = client, level = "debug", ret)]
fn rooted() -> String {
    "root".to_owned()
}

#[traced(crate = ::traced)]
fn io() -> std::io::Result<u8> {
    Ok(1)
}

#[traced]
fn anyhow_result(fail: bool) -> anyhow::Result<u8> {
    anyhow::ensure!(!fail, "asked to fail");
    Ok(2)
}

#[traced]
unsafe fn read(p: *const u8) -> u8 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *p }
}

#[traced(args(a, x))]
fn patterns((a, b): (u32, u32), mut x: u32, y: impl Into<u32>) -> u32 {
    x += 1;
    a + b + x + y.into()
}

#[traced]
fn generic<'a, T>(t: &'a T) -> &'a str
where
    T: AsRef<str> + fmt::Debug + ?Sized,
{
    t.as_ref()
}

#[traced]
fn coerced(v: &[u32; 2]) -> &[u32] {
    v
}

#[traced]
fn never() -> ! {
    panic!("never returns")
}

#[traced(args(a), ret)]
async fn asynchronous(a: u32) -> R<u32> {
    tokio::task::yield_now().await;
    Ok(a)
}

#[traced]
async fn async_unit() {}

#[traced]
fn later(a: u32) -> impl Future<Output = anyhow::Result<u32>> + Send {
    async move { Ok(a) }
}

#[traced]
fn boxed(n: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if n < 2 {
            n
        } else {
            boxed(n - 1).await + boxed(n - 2).await
        }
    })
}

/// Every receiver.
#[derive(Debug)]
struct Repo {
    rows: Vec<u32>,
}

#[traced(kind = client, target = "repo", fields(db.system = "postgresql"), err(Debug), ret)]
impl Repo {
    fn new() -> Self {
        Repo { rows: vec![1] }
    }

    fn rows(&self) -> &[u32] {
        &self.rows
    }

    fn rows_mut(&mut self) -> &mut Vec<u32> {
        &mut self.rows
    }

    fn into_rows(self) -> Vec<u32> {
        self.rows
    }

    fn shared(self: Arc<Self>) -> usize {
        self.rows.len()
    }

    #[traced(skip)]
    fn helper(&self) -> usize {
        self.rows.len()
    }

    #[traced(name = "repo.find", args(id), kind = server, level = "debug", err(off))]
    async fn find(&self, id: u32) -> R<u32> {
        self.rows
            .first()
            .copied()
            .map(|row| row + id)
            .ok_or(Failed(fmt::Error))
    }

    const fn constant() -> u32 {
        1
    }
}

#[async_trait::async_trait]
trait Store {
    async fn load(&self, key: u32) -> anyhow::Result<u32>;
}

/// `#[traced]` above `#[async_trait]`.
struct Above;

#[traced]
#[async_trait::async_trait]
impl Store for Above {
    #[traced(args(key))]
    async fn load(&self, key: u32) -> anyhow::Result<u32> {
        Ok(key)
    }
}

/// `#[traced]` below `#[async_trait]`.
struct Below;

#[async_trait::async_trait]
#[traced(err(Debug))]
impl Store for Below {
    #[traced(args(key), ret)]
    async fn load(&self, key: u32) -> anyhow::Result<u32> {
        Ok(key)
    }
}

#[test]
fn every_shape_runs() {
    assert_eq!(plain(1), 2);
    unit();
    let user = User("ann");
    assert_eq!(everything(1, "bo", 0.5, false, &user).unwrap(), 12);
    assert!(everything(1, "bo", 0.5, true, &user).is_err());
    assert!(with_parent(&opentelemetry::Context::new()).is_err());
    assert_eq!(rooted(), "root");
    assert_eq!(io().unwrap(), 1);
    assert!(anyhow_result(true).is_err());
    let byte = 3_u8;
    assert_eq!(unsafe { read(&raw const byte) }, 3);
    assert_eq!(patterns((1, 2), 3, 4_u8), 11);
    assert_eq!(generic("hi"), "hi");
    assert_eq!(coerced(&[1, 2]), &[1, 2]);
    assert!(std::panic::catch_unwind(|| never()).is_err());

    let mut repo = Repo::new();
    repo.rows_mut().push(2);
    assert_eq!(repo.rows(), &[1, 2]);
    assert_eq!(repo.helper(), 2);
    assert_eq!(Repo::constant(), 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(asynchronous(4).await.unwrap(), 4);
        async_unit().await;
        assert_eq!(later(3).await.unwrap(), 3);
        assert_eq!(boxed(5).await, 5);
        assert_eq!(repo.find(1).await.unwrap(), 2);
        assert_eq!(Above.load(1).await.unwrap(), 1);
        assert_eq!(Below.load(2).await.unwrap(), 2);
    });
    assert_eq!(repo.into_rows().len(), 2);
    assert_eq!(Arc::new(Repo::new()).shared(), 1);
}
