//! `#[async_trait]` with `#[traced]` above it, below it, and on the fn.
use traced::traced;

#[async_trait::async_trait]
trait T1 {
    async fn run(&self, x: u32) -> anyhow::Result<u32>;
}

struct S1;

#[traced]
#[async_trait::async_trait]
impl T1 for S1 {
    #[traced(args(x))]
    async fn run(&self, x: u32) -> anyhow::Result<u32> {
        anyhow::ensure!(x > 0, "zero");
        Ok(x)
    }
}

struct S2;

#[async_trait::async_trait]
#[traced]
impl T1 for S2 {
    #[traced(args(x), ret)]
    async fn run(&self, x: u32) -> anyhow::Result<u32> {
        Ok(x)
    }
}

struct S3;

#[async_trait::async_trait]
impl T1 for S3 {
    #[traced(args(x))]
    async fn run(&self, x: u32) -> anyhow::Result<u32> {
        Ok(x)
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        assert_eq!(S1.run(4).await.unwrap(), 4);
        assert!(S1.run(0).await.is_err());
        assert_eq!(S2.run(4).await.unwrap(), 4);
        assert_eq!(S3.run(4).await.unwrap(), 4);
    });
}
