//! The "did you mean" rule of every error message that refuses an unknown name (a `#[traced(..)]` option, a
//! YAML configuration key).

/// The candidate a mistyped `word` most likely meant: the nearest in edits, if it is within a third of the word's
/// length (at least 2 edits), or if one is a prefix of the other (`timeout` for `timeout_ms`). Words of one or two
/// characters get no hint: too many names are that close. On a tie, the first candidate wins.
///
/// ```
/// use traced_conventions::suggest::closest;
///
/// assert_eq!(closest("nmae", &["name", "kind"]), Some("name"));
/// assert_eq!(closest("timeout", &["endpoint", "timeout_ms"]), Some("timeout_ms"));
/// assert_eq!(closest("sampling", &["name", "kind"]), None);
/// ```
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.chars().count() <= 2 {
        return None;
    }
    let within = 2.max(word.chars().count() / 3);
    candidates
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, candidate)| {
            *distance <= within || candidate.starts_with(word) || word.starts_with(candidate)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars: insertions, deletions and substitutions.
///
/// ```
/// assert_eq!(traced_conventions::suggest::edit_distance("kitten", "sitting"), 3);
/// ```
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("nmae", "name"), 2);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn nearest_wins_then_the_first() {
        assert_eq!(closest("rot", &["ret", "root"]), Some("ret"));
        assert_eq!(closest("roott", &["ret", "root"]), Some("root"));
        assert_eq!(closest("ab", &["abc"]), None, "too short for a hint");
        assert_eq!(closest("zzz", &["protocol", "endpoint"]), None);
    }
}
