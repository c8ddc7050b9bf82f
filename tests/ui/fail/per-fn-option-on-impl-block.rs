use traced::traced;

struct Repo;

#[traced(name = "repo", args(id), kind = client)]
impl Repo {
    fn find(&self, id: u64) -> u64 {
        id
    }
}

fn main() {
    Repo.find(1);
}
