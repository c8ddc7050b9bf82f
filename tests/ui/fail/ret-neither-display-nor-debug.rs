use traced::traced;

struct Repo;

#[traced(kind = client, ret)]
impl Repo {
    fn new() -> Self {
        Repo
    }
}

fn main() {
    let _ = Repo::new();
}
