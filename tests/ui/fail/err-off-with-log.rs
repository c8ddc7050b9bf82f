use traced::traced;

#[traced(err(off, log = off))]
fn load() -> Result<(), std::fmt::Error> {
    Ok(())
}

fn main() {
    let _ = load();
}
