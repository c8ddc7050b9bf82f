use traced::traced;

#[traced(nmae = "x", kind = sideways, args(nope), level = loud, ret = 1, root, parent = cx, kind = client)]
fn handle(cx: &opentelemetry::Context) {}

fn main() {
    handle(&opentelemetry::Context::new());
}
