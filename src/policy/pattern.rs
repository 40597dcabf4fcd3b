//! Casbin's `keyMatch`, the only pattern function pitcrew's model uses.
//!
//! `keyMatch(value, pattern)`: a pattern without `*` matches itself only; with a `*`, the value
//! must start with everything before the first `*`, and whatever follows the `*` is ignored
//! (that is how every Casbin implementation behaves, so `*/checkout` matches *everything*;
//! `pitcrew policy lint` warns about such patterns).
//!
//! casbin-rs slices the value at the pattern's byte offset, which panics when that offset falls
//! inside a multi-byte character. This version compares bytes, so no pattern can panic it.

/// Whether `value` matches `pattern` under Casbin's `keyMatch`.
pub fn key_match(value: &str, pattern: &str) -> bool {
    match pattern.find('*') {
        None => value == pattern,
        Some(i) => value.as_bytes().starts_with(&pattern.as_bytes()[..i]),
    }
}

/// Whether every value matched by `inner` is also matched by `outer` (used to find rules
/// shadowed by a deny).
pub fn covers(outer: &str, inner: &str) -> bool {
    match outer.find('*') {
        None => !inner.contains('*') && inner == outer,
        Some(i) => {
            let prefix = &outer.as_bytes()[..i];
            // `inner` matches only values starting with its own fixed part.
            let fixed = inner.find('*').map_or(inner, |j| &inner[..j]);
            fixed.as_bytes().starts_with(prefix)
        }
    }
}

/// Whether a pattern has text after its `*`, which `keyMatch` ignores.
pub fn has_ignored_tail(pattern: &str) -> bool {
    pattern.find('*').is_some_and(|i| i + 1 < pattern.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_match_is_casbins() {
        assert!(key_match("checkout", "checkout"));
        assert!(!key_match("checkout", "check"));
        assert!(key_match("checkout", "check*"));
        assert!(key_match("check", "check*"));
        assert!(!key_match("chec", "check*"));
        assert!(key_match("", "*"));
        assert!(key_match("anything", "*"));
        // Everything after the first `*` is ignored.
        assert!(key_match("deployment/web", "*/checkout"));
        // A pattern with a multi-byte character never panics.
        assert!(!key_match("aé", "ab*"));
        assert!(!key_match("a", "é*"));
    }

    #[test]
    fn covers_follows_key_match() {
        assert!(covers("*", "prod"));
        assert!(covers("*", "deployment/*"));
        assert!(covers("deployment/*", "deployment/web"));
        assert!(covers("deployment/*", "deployment/web*"));
        assert!(!covers("deployment/web", "deployment/*"));
        assert!(!covers("deployment/web*", "deployment/*"));
        assert!(covers("prod", "prod"));
        assert!(!covers("prod", "staging"));
    }
}
