use traced::traced;

#[traced(args = amount)]
fn pay(amount: u32) -> u32 {
    amount
}

fn main() {
    pay(1);
}
