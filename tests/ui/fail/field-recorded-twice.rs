use traced::traced;

#[traced(args(user), fields(user = 1, db.system = "postgresql", db.system = "mysql"))]
fn query(user: u32) -> u32 {
    user
}

fn main() {
    query(1);
}
