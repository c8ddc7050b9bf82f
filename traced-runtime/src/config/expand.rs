//! `${VAR}` expansion in YAML scalar values.
//!
//! - `${VAR}`: the value of `VAR`; an error if it is unset, so that a forgotten variable is not silently empty.
//! - `${VAR:-default}`: the value of `VAR`, or `default` when it is unset or empty (the shell's rule). The
//!   default is taken literally.
//! - `$$`: a literal `$`. A `$` followed by anything else is kept as is.

/// Expands `text`, with `lookup` answering for the environment.
pub(crate) fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(after) = after.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(body_and_rest) = after.strip_prefix('{') {
            let end = body_and_rest
                .find('}')
                .ok_or_else(|| "unterminated `${`; write `$$` for a literal `$`".to_owned())?;
            out.push_str(&substitute(&body_and_rest[..end], lookup)?);
            rest = &body_and_rest[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of one `${...}` body.
fn substitute(body: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let (name, default) = match body.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (body, None),
    };
    let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_name {
        return Err(format!(
            "`${{{body}}}` does not name a variable (letters, digits and _)"
        ));
    }
    match (lookup(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_owned()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err(format!(
            "environment variable {name} is not set; write `${{{name}:-default}}` to give a default"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("collector".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_and_defaults() {
        assert_eq!(
            expand("http://${HOST}:4318", &env).unwrap(),
            "http://collector:4318"
        );
        assert_eq!(expand("${MISSING:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(expand("${EMPTY:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(expand("${HOST:-fallback}", &env).unwrap(), "collector");
        assert_eq!(expand("${EMPTY}", &env).unwrap(), "");
        assert_eq!(expand("${MISSING:-}", &env).unwrap(), "");
        assert_eq!(expand("${MISSING:-a:-b}", &env).unwrap(), "a:-b");
        assert_eq!(
            expand("${HOST}${HOST}", &env).unwrap(),
            "collectorcollector"
        );
    }

    #[test]
    fn dollars() {
        assert_eq!(expand("$${HOST}", &env).unwrap(), "${HOST}");
        assert_eq!(expand("a$$b", &env).unwrap(), "a$b");
        assert_eq!(expand("cost: 5$", &env).unwrap(), "cost: 5$");
        assert_eq!(expand("$HOST", &env).unwrap(), "$HOST");
        assert_eq!(expand("no dollars", &env).unwrap(), "no dollars");
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(expand("${MISSING}", &env)
            .unwrap_err()
            .contains("MISSING is not set"));
        assert!(expand("${HOST", &env).unwrap_err().contains("unterminated"));
        assert!(expand("${1X}", &env).unwrap_err().contains("${1X}"));
        assert!(expand("${}", &env).unwrap_err().contains("does not name"));
    }
}
