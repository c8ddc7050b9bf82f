use traced::traced;

#[traced(parent = id)]
fn under(id: u64) {}

fn main() {
    under(7);
}
