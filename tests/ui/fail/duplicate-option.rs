use traced::traced;

#[traced(kind = server, kind = client)]
fn handle() {}

fn main() {
    handle();
}
