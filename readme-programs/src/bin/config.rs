//! The README's configuration from code.

fn main() -> Result<(), traced::Error> {
    let _guard = traced::Config::builder()
        .with_service_name("checkout")
        .with_service_version(env!("CARGO_PKG_VERSION"))
        .with_deployment_environment("production")
        .build()?
        .init()?;
    Ok(())
}
