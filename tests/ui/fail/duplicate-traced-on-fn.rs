use traced::traced;

struct Repo;

#[traced]
impl Repo {
    #[traced(kind = client)]
    #[traced(ret)]
    fn find(&self) -> u64 {
        1
    }
}

fn main() {
    Repo.find();
}
