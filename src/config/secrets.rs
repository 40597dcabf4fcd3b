//! Secrets: read only from the environment, or from a file named by `NAME_FILE` (how
//! Kubernetes Secrets are usually mounted). Never from the config file, never printed:
//! [`SecretString`] prints `[REDACTED]` in `Debug` and has no `Display`.

use std::path::PathBuf;

use secrecy::SecretString;

/// Every secret pitcrew reads, by environment variable name.
#[derive(Debug, Default, Clone)]
pub struct Secrets {
    pub slack_signing_secret: Option<SecretString>,
    pub slack_bot_token: Option<SecretString>,
    pub slack_app_token: Option<SecretString>,
    pub pagerduty_token: Option<SecretString>,
    pub jira_email: Option<SecretString>,
    pub jira_api_token: Option<SecretString>,
    /// A PostgreSQL URL usually carries a password, so it is a secret too.
    pub database_url: Option<SecretString>,
    /// The bearer token `[audit.https]` sends to the SIEM, if it wants one.
    pub siem_token: Option<SecretString>,
}

/// A secret variable that could not be read: the name of the variable and why, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretProblem {
    pub variable: String,
    pub message: String,
}

pub const SECRET_VARIABLES: &[&str] = &[
    "SLACK_SIGNING_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "PAGERDUTY_TOKEN",
    "JIRA_EMAIL",
    "JIRA_API_TOKEN",
    "DATABASE_URL",
    "SIEM_TOKEN",
];

impl Secrets {
    /// Reads every secret through `lookup` (the process environment in production, a map in
    /// tests). Problems are collected, not returned one at a time, so `config check` can
    /// list them all.
    pub fn read(lookup: &dyn Fn(&str) -> Option<String>) -> (Self, Vec<SecretProblem>) {
        let mut problems = Vec::new();
        let mut get = |name: &str| read_one(name, lookup, &mut problems);
        let secrets = Secrets {
            slack_signing_secret: get("SLACK_SIGNING_SECRET"),
            slack_bot_token: get("SLACK_BOT_TOKEN"),
            slack_app_token: get("SLACK_APP_TOKEN"),
            pagerduty_token: get("PAGERDUTY_TOKEN"),
            jira_email: get("JIRA_EMAIL"),
            jira_api_token: get("JIRA_API_TOKEN"),
            database_url: get("DATABASE_URL"),
            siem_token: get("SIEM_TOKEN"),
        };
        (secrets, problems)
    }
}

fn read_one(
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<SecretProblem>,
) -> Option<SecretString> {
    let direct = lookup(name).filter(|v| !v.is_empty());
    let file_var = format!("{name}_FILE");
    let file = lookup(&file_var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    match (direct, file) {
        (Some(_), Some(_)) => {
            problems.push(SecretProblem {
                variable: name.to_string(),
                message: format!("both {name} and {file_var} are set; set only one"),
            });
            None
        }
        (Some(value), None) => Some(SecretString::from(value)),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            // Files written by editors or `echo` end with a newline that is not part of the secret.
            Ok(text) => Some(SecretString::from(
                text.trim_end_matches(['\n', '\r']).to_string(),
            )),
            Err(e) => {
                problems.push(SecretProblem {
                    variable: file_var,
                    message: format!("cannot read {}: {e}", path.display()),
                });
                None
            }
        },
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_from_variable_and_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "xoxb-from-file\n").unwrap();
        let lookup = env(&[
            ("SLACK_SIGNING_SECRET", "s3cr3t"),
            ("SLACK_BOT_TOKEN_FILE", path.to_str().unwrap()),
        ]);
        let (secrets, problems) = Secrets::read(&lookup);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            secrets.slack_signing_secret.unwrap().expose_secret(),
            "s3cr3t"
        );
        assert_eq!(
            secrets.slack_bot_token.unwrap().expose_secret(),
            "xoxb-from-file"
        );
        assert!(secrets.slack_app_token.is_none());
    }

    #[test]
    fn both_sources_or_a_missing_file_are_problems_that_never_show_the_value() {
        let lookup = env(&[
            ("PAGERDUTY_TOKEN", "pd-secret-value"),
            ("PAGERDUTY_TOKEN_FILE", "/x"),
            ("JIRA_API_TOKEN_FILE", "/nonexistent/jira"),
        ]);
        let (_, problems) = Secrets::read(&lookup);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].message.contains("set only one"));
        assert!(problems[1].message.contains("/nonexistent/jira"));
        assert!(!format!("{problems:?}").contains("pd-secret-value"));
    }

    #[test]
    fn debug_output_is_redacted() {
        let lookup = env(&[("SLACK_BOT_TOKEN", "xoxb-123-very-secret")]);
        let (secrets, _) = Secrets::read(&lookup);
        let shown = format!("{secrets:?}");
        assert!(!shown.contains("xoxb-123-very-secret"), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }
}
