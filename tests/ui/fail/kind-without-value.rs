use traced::traced;

#[traced(kind)]
fn handle() {}

fn main() {
    handle();
}
