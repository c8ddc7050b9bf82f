use traced::traced;

#[traced(level = loud)]
fn handle() {}

fn main() {
    handle();
}
