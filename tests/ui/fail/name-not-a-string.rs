use traced::traced;

#[traced(name = 3)]
fn checkout() {}

fn main() {
    checkout();
}
