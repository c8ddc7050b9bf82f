use traced::traced;

#[traced(name =, ret)]
fn checkout() -> u32 {
    1
}

fn main() {
    checkout();
}
