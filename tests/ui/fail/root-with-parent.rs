use traced::traced;

#[traced(root, parent = tracing::Span::current())]
fn detached() {}

fn main() {
    detached();
}
