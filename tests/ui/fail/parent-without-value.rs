use traced::traced;

#[traced(parent)]
fn child() {}

fn main() {
    child();
}
