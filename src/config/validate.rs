//! From the file's plain values to the typed [`Config`], collecting every problem.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::file::{FileConfig, KNOWN_KEYS, Mode, SECRET_KEYS};
use super::problems::{Locator, Place, Problem, suggestion_suffix};
use super::secrets::Secrets;
use super::*;
use crate::names::{ClusterName, EnvName, NamespaceName, SlackChannelId, SlackTeamId};

mod approvers;
mod audit;
mod freezes;
mod places;
use places::{clusters, environments};

pub(super) fn load(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    load_keeping(path, text, env, &|_| true)
}

/// Like [`load`], counting only the problems `matters` keeps: the tools that read the audit
/// trail or the policy do not need the secrets or kubeconfigs the server needs.
pub(super) fn load_keeping(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    matters: &dyn Fn(&Problem) -> bool,
) -> Result<Config, ConfigErrors> {
    let locator = Locator::new(path, text);
    let mut problems = Vec::new();

    let deserializer = match toml::Deserializer::parse(text) {
        Ok(d) => d,
        Err(e) => return Err(ConfigErrors(vec![toml_problem(&locator, &e)])),
    };
    let mut unknown: Vec<Vec<String>> = Vec::new();
    let parsed: Result<FileConfig, _> = serde_ignored::deserialize(deserializer, |p| {
        unknown.push(path_segments(&p));
    });
    for key in &unknown {
        problems.push(unknown_key_problem(&locator, key));
    }
    let file = match parsed {
        Ok(f) => f,
        Err(e) => {
            problems.push(toml_problem(&locator, &e));
            return Err(ConfigErrors(problems));
        }
    };

    let base = path.parent().unwrap_or(Path::new("."));
    let (secrets, secret_problems) = Secrets::read(env);
    problems.extend(secret_problems.into_iter().map(|p| Problem {
        place: Place::Environment {
            variable: p.variable,
        },
        message: p.message,
    }));

    let config = typed(&locator, base, file, secrets, &mut problems);
    problems.retain(|p| matters(p));
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(problems))
    }
}

fn toml_problem(locator: &Locator<'_>, e: &toml::de::Error) -> Problem {
    let line = e.span().map(|s| locator.line_of_offset(s.start));
    let key = e
        .span()
        .and_then(|s| locator.key_at(s.start))
        .unwrap_or_default();
    Problem {
        place: Place::File {
            path: locator.path().to_path_buf(),
            line,
            key,
        },
        message: e.message().trim().to_string(),
    }
}

fn path_segments(path: &serde_ignored::Path<'_>) -> Vec<String> {
    use serde_ignored::Path as P;
    match path {
        P::Root => Vec::new(),
        P::Seq { parent, index } => {
            let mut v = path_segments(parent);
            v.push(index.to_string());
            v
        }
        P::Map { parent, key } => {
            let mut v = path_segments(parent);
            v.push(key.clone());
            v
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            path_segments(parent)
        }
    }
}

fn unknown_key_problem(locator: &Locator<'_>, key: &[String]) -> Problem {
    let refs: Vec<&str> = key.iter().map(String::as_str).collect();
    let Some((last, parent)) = refs.split_last() else {
        return locator.problem(&refs, "unknown key");
    };
    // Map the parent onto the schema: the second segment under `clusters`/`environments` is
    // the operator's own name.
    let pattern: Vec<&str> = parent
        .iter()
        .enumerate()
        .map(|(i, s)| {
            // A freeze's name, under an environment's `freezes`, is the operator's too.
            if (i == 1 && matches!(parent[0], "clusters" | "environments"))
                || (i == 3 && parent[0] == "environments" && parent[2] == "freezes")
            {
                "*"
            } else {
                s
            }
        })
        .collect();
    let pattern = pattern.join(".");
    if let Some((_, var)) = SECRET_KEYS.iter().find(|(k, _)| k == last) {
        return locator.problem(
            &refs,
            format!("secrets are not read from the configuration file; remove this key and set {var} in the environment (or {var}_FILE to a file holding it)"),
        );
    }
    let known = KNOWN_KEYS
        .iter()
        .find(|(p, _)| *p == pattern)
        .map(|(_, keys)| *keys)
        .unwrap_or(&[]);
    let place = if pattern.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in [{}]", parent.join("."))
    };
    let suggestion = suggestion_suffix(last, known.iter().copied());
    let message = if suggestion.is_empty() && !known.is_empty() {
        format!(
            "unknown key `{last}` {place}; known keys: {}",
            known.join(", ")
        )
    } else {
        format!("unknown key `{last}` {place}{suggestion}")
    };
    locator.problem(&refs, message)
}

/// Builds the typed configuration; every invalid value adds a problem and gets a harmless
/// stand-in so the remaining checks still run.
fn typed(
    loc: &Locator<'_>,
    base: &Path,
    file: FileConfig,
    secrets: Secrets,
    problems: &mut Vec<Problem>,
) -> Config {
    let slack = SlackConfig {
        api_base_url: url(
            loc,
            &["slack", "api_base_url"],
            &file.slack.api_base_url,
            problems,
        ),
        any_team: file.slack.allowed_teams == ["*"],
        allowed_teams: file
            .slack
            .allowed_teams
            .iter()
            .filter(|t| *t != "*" || file.slack.allowed_teams.len() > 1)
            .filter_map(|t| {
                name(
                    loc,
                    &["slack", "allowed_teams"],
                    t,
                    SlackTeamId::parse,
                    problems,
                )
            })
            .collect(),
        announce_channel: file.slack.announce_channel.as_deref().and_then(|c| {
            name(
                loc,
                &["slack", "announce_channel"],
                c,
                SlackChannelId::parse,
                problems,
            )
        }),
    };

    if file.server.max_body_bytes < 1024 {
        problems.push(loc.problem(
            &["server", "max_body_bytes"],
            "must be at least 1024: Slack's own requests would be refused",
        ));
    }
    if file.server.read_timeout.is_zero()
        || file.server.read_timeout > std::time::Duration::from_secs(300)
    {
        problems.push(loc.problem(
            &["server", "read_timeout"],
            "must be between 1ms and 5m: Slack's requests arrive in well under a second, and a longer wait holds a connection for whoever drips one",
        ));
    }
    if file.server.max_connections < 16 {
        problems.push(loc.problem(
            &["server", "max_connections"],
            "must be at least 16: health checks, metrics and Slack's retries share the listener",
        ));
    }
    let server = ServerConfig {
        listen: file.server.listen,
        mode: file.server.mode,
        max_body_bytes: file.server.max_body_bytes,
        read_timeout: file.server.read_timeout,
        max_connections: file.server.max_connections,
        shutdown_grace: file.server.shutdown_grace,
        approval_ttl: file.server.approval_ttl,
    };

    let database = match &secrets.database_url {
        Some(url) => database_from_url(url.expose_secret(), problems),
        None => DatabaseConfig::Sqlite {
            path: resolve(base, &file.database.sqlite_path),
        },
    };

    let policy = PolicyConfig {
        model: existing_file(
            loc,
            base,
            &["policy", "model"],
            &file.policy.model,
            problems,
        ),
        policy: existing_file(
            loc,
            base,
            &["policy", "policy"],
            &file.policy.policy,
            problems,
        ),
    };

    let can_justify = file.pagerduty.is_some() || file.jira.is_some();
    let clusters = clusters(loc, base, &file, problems);
    let environments = environments(loc, &file, &clusters, can_justify, problems);
    let identity = identity(loc, &file, &environments, problems);

    let pagerduty = file.pagerduty.map(|pd| {
        if secrets.pagerduty_token.is_none() {
            missing_secret(
                problems,
                "PAGERDUTY_TOKEN",
                "the [pagerduty] section is configured",
            );
        }
        positive(loc, &["pagerduty", "timeout"], pd.timeout, problems);
        match pd.from_email.as_deref() {
            None => problems.push(loc.problem(
                &["pagerduty"],
                "`from_email` is missing: PagerDuty requires the email of one of its users to add the note that records each action on its incident; set it",
            )),
            Some(e) if !e.contains('@') || e.chars().any(char::is_whitespace) => problems.push(
                loc.problem(&["pagerduty", "from_email"], format!("`{e}` is not an email address")),
            ),
            Some(_) => {}
        }
        PagerDutyConfig {
            api_base_url: url(
                loc,
                &["pagerduty", "api_base_url"],
                &pd.api_base_url,
                problems,
            ),
            timeout: pd.timeout,
            resolved_grace: pd.resolved_grace,
            from_email: pd.from_email,
            cache_for: pd.cache_for,
        }
    });

    let jira = file.jira.map(|j| {
        for (var, value) in [
            ("JIRA_EMAIL", &secrets.jira_email),
            ("JIRA_API_TOKEN", &secrets.jira_api_token),
        ] {
            if value.is_none() {
                missing_secret(problems, var, "the [jira] section is configured");
            }
        }
        if j.base_url.is_empty() {
            problems.push(loc.problem(
                &["jira"],
                "`base_url` is required, e.g. \"https://yourcompany.atlassian.net\"",
            ));
        }
        if j.approved_statuses.is_empty() {
            problems.push(loc.problem(
                &["jira", "approved_statuses"],
                "list at least one status that counts as approved, e.g. [\"Approved\"]",
            ));
        }
        if j.allowed_projects.is_empty() {
            problems.push(loc.problem(
                &["jira", "allowed_projects"],
                "list the project keys whose tickets may justify an action, e.g. [\"CHG\"]",
            ));
        }
        positive(loc, &["jira", "timeout"], j.timeout, problems);
        JiraConfig {
            base_url: if j.base_url.is_empty() {
                placeholder_url()
            } else {
                url(loc, &["jira", "base_url"], &j.base_url, problems)
            },
            allowed_projects: j.allowed_projects,
            allowed_issue_types: j.allowed_issue_types,
            approved_statuses: j.approved_statuses,
            timeout: j.timeout,
            cache_for: j.cache_for,
        }
    });

    positive(loc, &["rollout", "timeout"], file.rollout.timeout, problems);
    let rollout = RolloutConfig {
        timeout: file.rollout.timeout,
        update_interval: file.rollout.update_interval,
    };

    let review_reminder_after = file.audit.review_reminder_after;
    positive(
        loc,
        &["audit", "review_reminder_after"],
        review_reminder_after,
        problems,
    );
    let audit = super::AuditConfig {
        review_reminder_after,
        syslog: file
            .audit
            .syslog
            .as_ref()
            .and_then(|s| audit::syslog(loc, base, s, problems)),
        retention: audit::retention(loc, base, &file.audit, problems),
        https: file
            .audit
            .https
            .as_ref()
            .and_then(|h| audit::https_url(loc, &h.url, problems)),
        timestamp: file
            .audit
            .timestamp
            .as_ref()
            .and_then(|t| audit::timestamp(loc, base, t, problems)),
    };

    Config {
        source: loc.path().to_path_buf(),
        server,
        slack,
        database,
        policy,
        pagerduty,
        jira,
        rollout,
        audit,
        clusters,
        environments,
        identity,
        secrets,
    }
}

/// `[identity]`: each mapping's Slack id valid and Kubernetes name plausible; an environment
/// that impersonates with nobody mapped would refuse everyone, which is said now.
fn identity(
    loc: &Locator<'_>,
    file: &FileConfig,
    environments: &BTreeMap<crate::names::EnvName, super::Environment>,
    problems: &mut Vec<Problem>,
) -> super::IdentityConfig {
    let mut users = BTreeMap::new();
    for (slack, kube) in &file.identity.users {
        let key = ["identity", "users", slack.as_str()];
        let Some(id) = name(loc, &key, slack, crate::names::SlackUserId::parse, problems) else {
            continue;
        };
        if kube.trim().is_empty() || kube.chars().any(char::is_whitespace) {
            problems.push(loc.problem(
                &key,
                format!("`{kube}` is not a Kubernetes user name; write the name your clusters' RBAC bindings use, e.g. \"alice@acme.example\""),
            ));
            continue;
        }
        users.insert(id, kube.clone());
    }
    if users.is_empty()
        && !file.identity.from_slack_email
        && let Some((env, _)) = environments.iter().find(|(_, e)| e.impersonate)
    {
        problems.push(loc.problem(
            &["environments", env.as_str(), "impersonate"],
            "impersonate = true, but [identity].users maps nobody, so every change here would be refused; map Slack user ids to Kubernetes user names, e.g. users = { U01ALICE = \"alice@acme.example\" }",
        ));
    }
    super::IdentityConfig {
        group_prefix: file.identity.group_prefix.clone(),
        users,
        from_slack_email: file.identity.from_slack_email,
        email_cache_for: file.identity.email_cache_for,
    }
}

fn name<T>(
    loc: &Locator<'_>,
    key: &[&str],
    value: &str,
    parse: fn(&str) -> Result<T, crate::names::InvalidName>,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    match parse(value) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(loc.problem(key, e.to_string()));
            None
        }
    }
}

fn url(loc: &Locator<'_>, key: &[&str], value: &str, problems: &mut Vec<Problem>) -> reqwest::Url {
    match reqwest::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            // Join relative API paths onto it later: it must end with '/'.
            if u.path().ends_with('/') {
                u
            } else {
                let mut u = u;
                let path = format!("{}/", u.path());
                u.set_path(&path);
                u
            }
        }
        Ok(_) => {
            problems
                .push(loc.problem(key, format!("`{value}` must be an http(s) URL with a host")));
            placeholder_url()
        }
        Err(e) => {
            problems.push(loc.problem(key, format!("`{value}` is not a URL: {e}")));
            placeholder_url()
        }
    }
}

fn placeholder_url() -> reqwest::Url {
    // A constant that always parses; only used when a problem was already recorded.
    reqwest::Url::parse("http://invalid.invalid/").unwrap_or_else(|_| unreachable!("constant URL"))
}

fn positive(loc: &Locator<'_>, key: &[&str], d: std::time::Duration, problems: &mut Vec<Problem>) {
    if d.is_zero() {
        problems.push(loc.problem(key, "must be longer than zero"));
    }
}

fn resolve(base: &Path, path: &Path) -> PathBuf {
    // `~/` means the home directory, as in a shell (kubeconfig paths are often written so).
    if let (Ok(rest), Some(home)) = (path.strip_prefix("~"), std::env::var_os("HOME")) {
        return PathBuf::from(home).join(rest);
    }
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn existing_file(
    loc: &Locator<'_>,
    base: &Path,
    key: &[&str],
    path: &Path,
    problems: &mut Vec<Problem>,
) -> PathBuf {
    let resolved = resolve(base, path);
    if !resolved.is_file() {
        problems.push(loc.problem(
            key,
            format!(
                "file {} does not exist (relative paths are resolved against the configuration file's directory)",
                resolved.display()
            ),
        ));
    }
    resolved
}

/// A secret the configuration needs is missing, unless reading it already failed (both the
/// variable and its `_FILE` set, an unreadable file): that problem says what to fix, and a
/// second "is not set" would contradict it.
fn missing_secret(problems: &mut Vec<Problem>, variable: &str, why: &str) {
    let file_variable = format!("{variable}_FILE");
    let already = problems.iter().any(|p| {
        matches!(&p.place, Place::Environment { variable: v } if *v == variable || *v == file_variable)
    });
    if !already {
        problems.push(Problem {
            place: Place::Environment {
                variable: variable.to_string(),
            },
            message: format!(
                "is not set, but {why}; set it (or {variable}_FILE to a file holding it)"
            ),
        });
    }
}

pub(super) fn database_from_url(url: &str, problems: &mut Vec<Problem>) -> DatabaseConfig {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        DatabaseConfig::Postgres {
            url: SecretString::from(url.to_string()),
        }
    } else if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        DatabaseConfig::Sqlite {
            path: PathBuf::from(path),
        }
    } else {
        // Never echo the URL: it may carry a password.
        problems.push(Problem {
            place: Place::Environment {
                variable: "DATABASE_URL".into(),
            },
            message: "must start with postgres://, postgresql:// or sqlite:".into(),
        });
        DatabaseConfig::Sqlite {
            path: PathBuf::from("pitcrew.db"),
        }
    }
}

pub(super) fn serving_problems(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    let need = |var: &str, have: bool, why: &str, problems: &mut Vec<Problem>| {
        if !have {
            missing_secret(problems, var, why);
        }
    };
    need(
        "SLACK_BOT_TOKEN",
        config.secrets.slack_bot_token.is_some(),
        "pitcrew posts and updates messages with it",
        &mut problems,
    );
    match config.server.mode {
        Mode::Http => need(
            "SLACK_SIGNING_SECRET",
            config.secrets.slack_signing_secret.is_some(),
            "mode = \"http\" verifies every Slack request with it",
            &mut problems,
        ),
        Mode::Socket => need(
            "SLACK_APP_TOKEN",
            config.secrets.slack_app_token.is_some(),
            "mode = \"socket\" opens the Socket Mode connection with it",
            &mut problems,
        ),
    }
    problems.extend(audit::serving(config));
    problems
}

#[cfg(test)]
mod tests;
