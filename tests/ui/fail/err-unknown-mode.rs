use traced::traced;

#[traced(err(maybe))]
fn load() -> Result<(), std::fmt::Error> {
    Ok(())
}

fn main() {
    let _ = load();
}
