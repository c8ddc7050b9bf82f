use traced::traced;

#[traced]
struct Order {
    id: u64,
}

fn main() {
    let order = Order { id: 1 };
    let _ = order.id;
}
