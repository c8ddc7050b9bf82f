use traced::traced;

#[traced]
fn parse(input: &str) -> u32 {
    let count: u32 = input;
    count
}

#[traced]
async fn load() -> u32 {
    let value: String = 5;
    value.len() as u32
}

fn main() {
    parse("x");
    let _ = load();
}
