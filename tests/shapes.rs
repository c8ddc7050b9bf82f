//! Every fn shape `#[traced]` supports compiles and returns what the plain fn returns.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]
#![allow(unsafe_code)]
use std::sync::Arc;
use traced::traced;

#[derive(Debug, thiserror::Error)]
#[error("bad thing")]
struct Bad;

type R<T> = Result<T, Bad>;

#[traced]
fn plain(a: u32) -> u32 {
    a + 1
}

#[traced(args(a, b), fields(db.system = "postgresql", user = %a, req = ?b), kind = server, level = "debug", ret)]
fn with_opts(a: u32, b: &str) -> R<u32> {
    if a > 1 {
        return Err(Bad);
    }
    let x: u32 = "5".parse().map_err(|_| Bad)?;
    Ok(a + x + b.len() as u32)
}

#[traced]
async fn asyncf(a: u32) -> Result<u32, Bad> {
    let x: u32 = "5".parse().map_err(|_| Bad)?;
    Ok(a + x)
}

#[traced]
fn fut(a: u32) -> impl std::future::Future<Output = anyhow::Result<u32>> + Send {
    async move { Ok(a) }
}

#[traced]
fn boxed(n: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = u64> + Send>> {
    Box::pin(async move {
        if n < 2 {
            n
        } else {
            boxed(n - 1).await + boxed(n - 2).await
        }
    })
}

#[traced]
unsafe fn unsafe_one(p: *const u8) -> u8 {
    *p
}

#[traced]
fn pats((a, b): (u32, u32), mut x: u32, y: impl Into<u32>) -> u32 {
    x += 1;
    a + b + x + y.into()
}

#[traced]
fn generic<'a, T>(t: &'a T) -> &'a str
where
    T: AsRef<str> + std::fmt::Debug + ?Sized,
{
    t.as_ref()
}

#[traced]
fn io() -> std::io::Result<()> {
    std::fs::read("/nonexistent")?;
    Ok(())
}

struct S {
    v: Vec<u32>,
}

#[traced]
impl S {
    fn get(&self) -> &[u32] {
        &self.v
    }
    fn get_mut(&mut self) -> &mut Vec<u32> {
        &mut self.v
    }
    fn take(self) -> Vec<u32> {
        self.v
    }
    fn arc(self: Arc<Self>) -> usize {
        self.v.len()
    }
    #[traced(skip)]
    fn skipped(&self) {}
    #[traced(name = "custom", args(x))]
    async fn a(&self, x: u32) -> u32 {
        x
    }
    const fn c() -> u32 {
        1
    }
}

#[async_trait::async_trait]
trait T1 {
    async fn run(&self, x: u32) -> anyhow::Result<u32>;
}

#[traced]
#[async_trait::async_trait]
impl T1 for S {
    async fn run(&self, x: u32) -> anyhow::Result<u32> {
        anyhow::ensure!(x > 0, "zero");
        Ok(x)
    }
}

struct S2;
#[async_trait::async_trait]
#[traced]
impl T1 for S2 {
    async fn run(&self, x: u32) -> anyhow::Result<u32> {
        Ok(x)
    }
}

struct S3;
#[async_trait::async_trait]
impl T1 for S3 {
    #[traced]
    async fn run(&self, x: u32) -> anyhow::Result<u32> {
        Ok(x)
    }
}

#[test]
fn smoke() {
    assert_eq!(plain(1), 2);
    assert!(with_opts(5, "x").is_err());
    assert_eq!(pats((1, 2), 3, 4u8), 11);
    assert_eq!(generic("hi"), "hi");
    assert!(io().is_err());
    let b = 7u8;
    assert_eq!(unsafe { unsafe_one(&b) }, 7);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(asyncf(1).await.unwrap(), 6);
        assert_eq!(fut(3).await.unwrap(), 3);
        assert_eq!(boxed(5).await, 5);
        assert_eq!(S { v: vec![1] }.a(4).await, 4);
        assert_eq!(S { v: vec![1] }.run(4).await.unwrap(), 4);
        assert_eq!(S2.run(4).await.unwrap(), 4);
        assert_eq!(S3.run(4).await.unwrap(), 4);
    });
    let mut s = S { v: vec![1] };
    s.get_mut().push(2);
    assert_eq!(s.get(), &[1, 2]);
    s.skipped();
    assert_eq!(S::c(), 1);
    assert_eq!(Arc::new(S { v: vec![1] }).arc(), 1);
    s.skipped();
    assert_eq!(S::c(), 1);
    assert_eq!(s.take().len(), 2);
}
