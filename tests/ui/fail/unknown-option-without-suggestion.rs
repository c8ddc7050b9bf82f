use traced::traced;

#[traced(sampling = 0.5)]
fn checkout() {}

fn main() {
    checkout();
}
