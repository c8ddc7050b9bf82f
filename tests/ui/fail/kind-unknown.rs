use traced::traced;

#[traced(kind = sideways)]
fn handle() {}

fn main() {
    handle();
}
