//! Native `async fn` in traits (no `#[async_trait]`): the impl block and its fns are traced like any other.
use traced::traced;

trait Store {
    async fn load(&self, key: u32) -> Result<u32, std::fmt::Error>;
    fn load_later(&self, key: u32) -> impl std::future::Future<Output = u32> + Send;
}

struct Memory;

#[traced(kind = client)]
impl Store for Memory {
    #[traced(args(key), ret)]
    async fn load(&self, key: u32) -> Result<u32, std::fmt::Error> {
        Ok(key)
    }

    fn load_later(&self, key: u32) -> impl std::future::Future<Output = u32> + Send {
        async move { key }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(rt.block_on(Memory.load(2)).unwrap(), 2);
    assert_eq!(rt.block_on(Memory.load_later(3)), 3);
}
