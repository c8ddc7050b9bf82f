use traced::traced;

#[traced]
trait Store {
    fn load(&self) -> u32;
}

fn main() {}
