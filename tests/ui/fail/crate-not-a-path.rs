use traced::traced;

#[traced(crate = "traced")]
fn handle() {}

fn main() {
    handle();
}
