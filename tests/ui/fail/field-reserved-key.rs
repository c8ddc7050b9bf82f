use traced::traced;

#[traced(fields(duration_ms = 5, error.type = "mine"))]
fn query() {}

struct Repo;

#[traced(fields(return.value = 1))]
impl Repo {
    fn find(&self) {}
}

fn main() {
    query();
    Repo.find();
}
