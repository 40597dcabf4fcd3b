//! `pitcrew policy check` and `pitcrew policy lint`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::command::{Action, Target};
use crate::config::Config;
use crate::names::{EnvName, NamespaceName, SlackChannelId, SlackUserId};
use crate::policy::{PolicyHandle, Severity};
use crate::workflow::gates::{AccessRequest, Authorizer, PolicyAuthorizer};
use crate::{Error, Result};

pub struct CheckArgs<'a> {
    pub user: &'a str,
    pub channel: Option<&'a str>,
    pub action: &'a str,
    pub env: &'a str,
    pub namespace: Option<&'a str>,
    pub target: &'a str,
    /// Without a configuration: the cluster asked about (default `*`).
    pub cluster: Option<&'a str>,
    /// The policy and model files, instead of the configuration's.
    pub policy: Option<PathBuf>,
    pub model: Option<PathBuf>,
}

/// Decides one request exactly as the workflow would (the environment's channel restriction,
/// then the policy) and prints why: exit 0 allowed, 3 denied. Without a configuration the
/// policy alone decides, for the cluster and namespace given.
pub fn check(config: Option<&Config>, a: &CheckArgs<'_>, json: bool) -> Result<ExitCode> {
    let usage = |flag: &str, e: &dyn std::fmt::Display| Error::Usage(format!("{flag}: {e}"));
    let actor = SlackUserId::parse(a.user).map_err(|e| usage("--as", &e))?;
    let channel = a
        .channel
        .map(SlackChannelId::parse)
        .transpose()
        .map_err(|e| usage("--channel", &e))?;
    let action = Action::parse(a.action).map_err(|e| usage("--action", &e))?;
    let env = EnvName::parse(a.env).map_err(|e| usage("--env", &e))?;
    let namespace = a
        .namespace
        .map(NamespaceName::parse)
        .transpose()
        .map_err(|e| usage("--namespace", &e))?;
    let target = Target::parse_any(a.target).map_err(|e| usage("--target", &e))?;
    let files = |config: Option<&Config>| -> Result<(PathBuf, PathBuf)> {
        match (a.policy.clone(), a.model.clone(), config) {
            (Some(p), Some(m), _) => Ok((p, m)),
            (p, m, Some(c)) => Ok((
                p.unwrap_or_else(|| c.policy.policy.clone()),
                m.unwrap_or_else(|| c.policy.model.clone()),
            )),
            _ => Err(Error::Usage(
                "without a configuration, give the policy and the model: --policy policy.csv --model model.conf".into(),
            )),
        }
    };
    let (policy_file, model_file) = files(config)?;
    let handle = PolicyHandle::load(model_file, policy_file)?;
    let decision = match config {
        Some(config) => {
            let place = crate::resolve::place(config, Some(&env), namespace.as_ref())
                .map_err(|e| Error::Usage(e.to_string()))?;
            let authorizer = PolicyAuthorizer {
                policy: std::sync::Arc::new(handle),
            };
            let request = AccessRequest {
                actor,
                channel,
                action,
                env: place.env.clone(),
                cluster: place.cluster.clone(),
                namespace: Some(place.namespace.clone()),
                target: Some(target),
            };
            authorizer.decide(&request, place.environment)
        }
        None => {
            let Some(namespace) = namespace else {
                return Err(Error::Usage(
                    "without a configuration, say the namespace: --namespace NAME".into(),
                ));
            };
            let request = crate::policy::Request {
                sub: actor.to_string(),
                env: env.to_string(),
                cluster: a.cluster.unwrap_or("*").to_string(),
                ns: namespace.to_string(),
                obj: target.to_string(),
                act: action.to_string(),
                chan: channel.map(|c| c.to_string()).unwrap_or_default(),
            };
            let policy = handle.current();
            let (verdict, explanation) = policy.explain(&request);
            eprintln!(
                "(no configuration: the policy alone decided; an environment's `channels` restriction was not applied)"
            );
            crate::workflow::gates::Decision {
                allowed: verdict.allowed,
                explanation,
                rule: verdict.rule.as_ref().map(|rule| policy.cite(rule)),
                request: request.values().iter().map(|v| v.to_string()).collect(),
            }
        }
    };
    if json {
        let out = serde_json::json!({
            "allowed": decision.allowed,
            "rule": decision.rule,
            "request": decision.request,
            "explanation": decision.explanation,
        });
        println!("{out}");
    } else {
        // Policy explanations start with "allowed by"/"denied by"; others need the verdict.
        let e = &decision.explanation;
        if e.starts_with("allowed") || e.starts_with("denied") {
            println!("{e}");
        } else {
            let verdict = if decision.allowed {
                "allowed"
            } else {
                "denied"
            };
            println!("{verdict}: {e}");
        }
    }
    Ok(ExitCode::from(if decision.allowed { 0 } else { 3 }))
}

/// Prints every finding as `file:line: severity: message`, then a count; exit 1 if any.
/// Without a configuration: the policy given (and the model, when given), without the checks
/// against environments.
pub fn lint(
    config: Option<&Config>,
    policy: Option<PathBuf>,
    model: Option<PathBuf>,
) -> Result<ExitCode> {
    let Some(policy) = policy.or_else(|| config.map(|c| c.policy.policy.clone())) else {
        return Err(Error::Usage(
            "without a configuration, give the policy to lint: --policy policy.csv (and --model model.conf)".into(),
        ));
    };
    let model = model.or_else(|| config.map(|c| c.policy.model.clone()));
    let mut findings = Vec::new();
    let model_check = |t: &str| crate::policy::source::check_model(t);
    let policy_check = |t: &str| crate::policy::lint(t, config);
    type Check<'c> = &'c dyn Fn(&str) -> Vec<crate::policy::Finding>;
    let mut files: Vec<(&PathBuf, Check<'_>)> = Vec::new();
    if let Some(model) = &model {
        files.push((model, &model_check));
    }
    files.push((&policy, &policy_check));
    for (path, check) in files {
        match std::fs::read_to_string(path) {
            Ok(text) => findings.extend(check(&text).into_iter().map(|f| (path, f))),
            Err(e) => {
                println!("{}: error: cannot read it: {e}", path.display());
                return Ok(ExitCode::from(1));
            }
        }
    }
    for (path, f) in &findings {
        println!("{}:{f}", path.display());
    }
    let errors = findings
        .iter()
        .filter(|(_, f)| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    if findings.is_empty() {
        println!("{}: no problems found", policy.display());
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{errors} error{} (the policy would not load), {warnings} warning{} (it loads, but does not do what it says)",
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" }
        );
        Ok(ExitCode::from(1))
    }
}

/// `pitcrew policy watch`: the server's reload loop in the foreground, printing what it does.
pub async fn watch(config: &Config, interval: std::time::Duration) -> Result<ExitCode> {
    use std::io::Write;
    let handle = std::sync::Arc::new(PolicyHandle::load(
        config.policy.model.clone(),
        config.policy.policy.clone(),
    )?);
    let short = |f: &str| f.get(..12).unwrap_or(f).to_string();
    let status = handle.status();
    println!(
        "loaded {} rules (fingerprint {})",
        status.rules,
        short(&status.fingerprint)
    );
    let watcher = handle.clone().watch(interval, async {
        let _ = tokio::signal::ctrl_c().await;
    });
    println!(
        "watching {} and {} every {}; SIGHUP reloads now, Ctrl-C stops",
        config.policy.model.display(),
        config.policy.policy.display(),
        humantime::format_duration(interval)
    );
    let _ = std::io::stdout().flush();
    let mut last = status;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    while !watcher.is_finished() {
        tick.tick().await;
        let now = handle.status();
        if now.reloads != last.reloads {
            println!(
                "reloaded: {} rules (fingerprint {})",
                now.rules,
                short(&now.fingerprint)
            );
        }
        if now.failures != last.failures {
            println!(
                "refused, the previous policy stays in force: {}",
                now.last_error.as_deref().unwrap_or("unknown error")
            );
        }
        let _ = std::io::stdout().flush();
        last = now;
    }
    Ok(ExitCode::SUCCESS)
}
