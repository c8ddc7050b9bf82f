//! The attribute is wrong, but `checkout` and `Cart::total` still exist: the only errors are the attribute's.
use traced::traced;

#[traced(kind = sideways)]
fn checkout(n: u32) -> u32 {
    n + 1
}

struct Cart;

#[traced(level = loud)]
impl Cart {
    fn total(&self) -> u32 {
        checkout(1)
    }
}

fn main() {
    let n: u32 = checkout(1) + Cart.total();
    assert_eq!(n, 4);
}
