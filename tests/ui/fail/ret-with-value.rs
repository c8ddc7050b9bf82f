use traced::traced;

#[traced(ret = 1)]
fn answer() -> u32 {
    42
}

fn main() {
    answer();
}
