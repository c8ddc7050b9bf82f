use traced::traced;

struct Secret;

#[traced(args(secret))]
fn use_secret(secret: Secret) {
    let _ = secret;
}

fn main() {
    use_secret(Secret);
}
