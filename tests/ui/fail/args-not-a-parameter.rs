use traced::traced;

#[traced(args(user, amount))]
fn pay(user_id: u64, amount: u32) -> u64 {
    user_id + u64::from(amount)
}

fn main() {
    pay(1, 2);
}
