//! `code.function.name` of a `span!` block, which the macro cannot know.

/// `code.function.name` of a `span!` block: the path of the fn the block is written in, from the type name of a
/// fn item the block declares (`my_crate::orders::checkout::__traced_here`). `std::any::type_name` is a constant
/// of the binary, and trimming its tail is a few compares: no allocation, nothing at compile time but one empty fn
/// per block. Closures and async blocks around the `span!` (`checkout::{{closure}}`) are trimmed too, so the path
/// names the fn, as it does for `#[traced]`.
#[inline]
pub fn enclosing_fn(here: &'static str) -> &'static str {
    let mut path = here.rsplit_once("::").map_or(here, |(path, _)| path);
    while let Some(outer) = path.strip_suffix("::{{closure}}") {
        path = outer;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::enclosing_fn;

    #[test]
    fn enclosing_fn_trims_the_marker_and_closures() {
        assert_eq!(
            enclosing_fn("app::orders::checkout::__traced_here"),
            "app::orders::checkout"
        );
        assert_eq!(
            enclosing_fn("app::Cart::add::{{closure}}::{{closure}}::__traced_here"),
            "app::Cart::add"
        );
        assert_eq!(enclosing_fn("no_separator"), "no_separator");
    }
}
