use traced::traced;

#[traced(err(log = loud))]
fn load() -> Result<(), std::fmt::Error> {
    Ok(())
}

fn main() {
    let _ = load();
}
