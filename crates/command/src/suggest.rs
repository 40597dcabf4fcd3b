//! "Did you mean …?": the closest known name to a typo, for the parser's and the
//! configuration's messages alike.

/// The closest candidate to `typed`, when it is close enough to be a plausible typo.
pub fn did_you_mean<'c>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let typed_lower = typed.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&typed_lower, &c.to_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "; did you mean `x`?" or nothing: appended to messages about unknown names.
pub fn suggestion_suffix<'c>(typed: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    match did_you_mean(typed, candidates) {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_but_not_unrelated_words() {
        assert_eq!(
            did_you_mean("namspaces", ["cluster", "namespaces"]),
            Some("namespaces")
        );
        assert_eq!(did_you_mean("lisen", ["listen", "mode"]), Some("listen"));
        assert_eq!(did_you_mean("banana", ["listen", "mode"]), None);
        assert_eq!(
            suggestion_suffix("restrat", ["restart", "rollback"]),
            "; did you mean `restart`?"
        );
    }
}
