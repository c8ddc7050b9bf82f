//! The README's tail sampling from code.

use std::time::Duration;

use traced::config::TailSampling;

fn main() -> Result<(), traced::Error> {
    let _guard = traced::Config::builder()
        .with_tail_sampling(
            TailSampling::new()
                .keep_errors()
                .keep_slower_than(Duration::from_millis(500))
                .keep_ratio(0.1),
        )
        .build()?
        .init()?;
    Ok(())
}
