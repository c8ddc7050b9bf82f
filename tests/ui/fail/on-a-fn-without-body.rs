use traced::traced;

trait Store {
    #[traced]
    fn load(&self) -> u32;
}

fn main() {}
