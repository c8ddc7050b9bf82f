//! Impl blocks: every receiver, generics, per-fn options, skip, a const fn left alone.
use std::sync::Arc;
use traced::traced;

struct S {
    v: Vec<u32>,
}

#[traced(kind = client, fields(db.system = "postgresql"), err(Debug))]
impl S {
    fn new() -> Self {
        S { v: vec![1] }
    }
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
    #[traced(name = "custom", args(x), kind = server, ret)]
    async fn a(&self, x: u32) -> u32 {
        x
    }
    const fn c() -> u32 {
        1
    }
}

struct Wrapper<T>(T);

#[traced]
impl<T: Clone + std::fmt::Debug> Wrapper<T> {
    #[traced(ret)]
    fn get(&self) -> T {
        self.0.clone()
    }
}

trait Named {
    fn name(&self) -> &'static str;
}

#[traced(level = "debug")]
impl Named for Wrapper<u8> {
    fn name(&self) -> &'static str {
        "wrapper"
    }
}

fn main() {
    let mut s = S::new();
    s.get_mut().push(2);
    assert_eq!(s.get(), &[1, 2]);
    s.skipped();
    assert_eq!(S::c(), 1);
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(rt.block_on(s.a(4)), 4);
    assert_eq!(Arc::new(S::new()).arc(), 1);
    assert_eq!(s.take().len(), 2);
    assert_eq!(Wrapper(3_u8).get(), 3);
    assert_eq!(Wrapper(3_u8).name(), "wrapper");
}
