//! Problems found in a configuration, each with its place: the file, the line when known, and
//! the dotted key. `pitcrew config check` prints them all, one per line.

use std::fmt;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

/// Where a problem lives: a key in the config file, or a variable in the process environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    File {
        path: PathBuf,
        line: Option<usize>,
        key: String,
    },
    Environment {
        variable: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub place: Place,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Place::File {
                path,
                line: Some(line),
                key,
            } if key.is_empty() => {
                write!(f, "{}:{line}: {}", path.display(), self.message)
            }
            Place::File {
                path,
                line: Some(line),
                key,
            } => {
                write!(f, "{}:{line}: {key}: {}", path.display(), self.message)
            }
            Place::File {
                path,
                line: None,
                key,
            } if key.is_empty() => {
                write!(f, "{}: {}", path.display(), self.message)
            }
            Place::File {
                path,
                line: None,
                key,
            } => {
                write!(f, "{}: {key}: {}", path.display(), self.message)
            }
            Place::Environment { variable } => {
                write!(f, "environment variable {variable}: {}", self.message)
            }
        }
    }
}

/// All problems of one configuration. Its `Display` is what the operator reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Problem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "the configuration has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.0 {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// Finds line numbers of keys in the original text, so problems found after deserialization
/// (by `validate`) still point at the line to edit.
pub(crate) struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
    root: Option<DeTable<'a>>,
}

impl<'a> Locator<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        let root = DeTable::parse(text).ok().map(|t| t.into_inner());
        Self { path, text, root }
    }

    pub fn line_of_offset(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// The line where the last segment of `key` is written, if the key is in the file.
    pub fn line_of(&self, key: &[&str]) -> Option<usize> {
        let mut table = self.root.as_ref()?;
        let mut found = None;
        for (i, segment) in key.iter().enumerate() {
            let (k, v) = table
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == *segment)?;
            found = Some(k.span().start);
            match v.get_ref() {
                DeValue::Table(inner) if i + 1 < key.len() => table = inner,
                _ if i + 1 < key.len() => return found.map(|o| self.line_of_offset(o)),
                _ => {}
            }
        }
        found.map(|o| self.line_of_offset(o))
    }

    /// The dotted key whose value contains byte `offset` (the deepest one), for errors that
    /// come with a position but no key, such as a badly written duration.
    pub fn key_at(&self, offset: usize) -> Option<String> {
        // Table spans may cover only a `[header]`, so search every branch for the leaf.
        fn walk(table: &DeTable<'_>, offset: usize, path: &mut Vec<String>) -> bool {
            for (k, v) in table.iter() {
                path.push(k.get_ref().to_string());
                let found = match v.get_ref() {
                    DeValue::Table(inner) => walk(inner, offset, path),
                    _ => v.span().contains(&offset) || k.span().contains(&offset),
                };
                if found {
                    return true;
                }
                path.pop();
            }
            false
        }
        let mut path = Vec::new();
        walk(self.root.as_ref()?, offset, &mut path).then(|| path.join("."))
    }

    pub fn path(&self) -> &Path {
        self.path
    }

    pub fn problem(&self, key: &[&str], message: impl Into<String>) -> Problem {
        Problem {
            place: Place::File {
                path: self.path.to_path_buf(),
                line: self.line_of(key),
                key: key.join("."),
            },
            message: message.into(),
        }
    }
}

// Suggestions live with the command language, which needs them without the configuration.
pub use pitcrew_command::suggest::{did_you_mean, suggestion_suffix};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_located_by_line() {
        let text = "[server]\nlisten = \"x\"\n\n[environments.prod]\ncluster = \"a\"\n";
        let loc = Locator::new(Path::new("f.toml"), text);
        assert_eq!(loc.line_of(&["server", "listen"]), Some(2));
        assert_eq!(loc.line_of(&["environments", "prod", "cluster"]), Some(5));
        assert_eq!(loc.line_of(&["environments", "dev"]), None);
    }
}
