//! Async shapes: async fn, fn -> impl Future, a boxed future, self-boxing recursion.
use std::future::Future;
use std::pin::Pin;
use traced::traced;

#[traced(args(a))]
async fn asyncf(a: u32) -> Result<u32, std::num::ParseIntError> {
    let x: u32 = "5".parse()?;
    Ok(a + x)
}

#[traced]
async fn borrows<'a>(s: &'a str, t: &'a str) -> &'a str {
    if s.len() > t.len() {
        s
    } else {
        t
    }
}

#[traced]
fn fut(a: u32) -> impl Future<Output = anyhow::Result<u32>> + Send {
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

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        assert_eq!(asyncf(1).await.unwrap(), 6);
        assert_eq!(borrows("ab", "c").await, "ab");
        assert_eq!(fut(3).await.unwrap(), 3);
        assert_eq!(boxed(5).await, 5);
    });
}
