//! `crate = path`: the facade by absolute path, a re-export inside the crate, and the runtime crate itself.
//! (trybuild cannot rename a dependency of the crate under test, so these stand in for a renamed `traced`.)
use traced::traced;

mod telemetry {
    pub use ::traced as reexported;
}

#[traced(crate = ::traced)]
fn absolute() -> u32 {
    1
}

#[traced(crate = crate::telemetry::reexported, ret)]
fn through_reexport() -> u32 {
    2
}

#[traced(crate = ::traced_runtime, args(n))]
async fn runtime_crate(n: u32) -> u32 {
    n
}

mod nested {
    struct Repo;

    #[traced::traced(crate = crate::telemetry::reexported)]
    impl Repo {
        fn find(&self) -> Result<u32, std::fmt::Error> {
            Ok(3)
        }
    }

    pub fn call() -> u32 {
        Repo.find().unwrap()
    }
}

fn main() {
    assert_eq!(absolute(), 1);
    assert_eq!(through_reexport(), 2);
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(rt.block_on(runtime_crate(4)), 4);
    assert_eq!(nested::call(), 3);
}
