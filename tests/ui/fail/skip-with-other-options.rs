use traced::traced;

struct Repo;

#[traced]
impl Repo {
    #[traced(skip, ret)]
    fn helper(&self) -> u32 {
        1
    }
}

fn main() {
    Repo.helper();
}
