use traced::traced;

#[traced(fields(db.system))]
fn query() {}

fn main() {
    query();
}
