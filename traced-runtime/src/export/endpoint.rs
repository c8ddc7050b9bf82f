//! Endpoints as they may be printed: a collector URL can carry credentials (`http://user:pass@collector`), which
//! would otherwise be in every export-failure line and in `Stats::last_error`.

/// `endpoint` without the user name and password of its URL.
pub(crate) fn printable(endpoint: &str) -> String {
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return endpoint.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_credentials, host)) => format!("{scheme}://{host}{path}"),
        None => endpoint.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_printed_without_credentials() {
        assert_eq!(
            printable("http://user:s3cret@collector:4318/v1/traces"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(printable("https://token@collector"), "https://collector");
        // An `@` in the path is not a credential.
        assert_eq!(
            printable("http://collector:4318/a@b"),
            "http://collector:4318/a@b"
        );
        assert_eq!(printable("not a url"), "not a url");
    }
}
