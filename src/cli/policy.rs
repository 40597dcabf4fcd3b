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
}

/// Decides one request exactly as the workflow would (the environment's channel restriction,
/// then the policy) and prints why: exit 0 allowed, 3 denied.
pub fn check(config: &Config, a: &CheckArgs<'_>, json: bool) -> Result<ExitCode> {
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
    let target = Target::parse(a.target).map_err(|e| usage("--target", &e))?;
    let place = crate::resolve::place(config, Some(&env), namespace.as_ref())
        .map_err(|e| Error::Usage(e.to_string()))?;
    let handle = PolicyHandle::load(config.policy.model.clone(), config.policy.policy.clone())?;
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
    let decision = authorizer.decide(&request, place.environment);
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
pub fn lint(config: &Config, policy: Option<PathBuf>, model: Option<PathBuf>) -> ExitCode {
    let policy = policy.unwrap_or_else(|| config.policy.policy.clone());
    let model = model.unwrap_or_else(|| config.policy.model.clone());
    let mut findings = Vec::new();
    for (path, check) in [
        (
            &model,
            &(|t: &str| crate::policy::source::check_model(t)) as &dyn Fn(&str) -> _,
        ),
        (&policy, &|t: &str| crate::policy::lint(t, Some(config))),
    ] {
        match std::fs::read_to_string(path) {
            Ok(text) => findings.extend(check(&text).into_iter().map(|f| (path, f))),
            Err(e) => {
                println!("{}: error: cannot read it: {e}", path.display());
                return ExitCode::from(1);
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
        ExitCode::SUCCESS
    } else {
        println!(
            "{errors} error{} (the policy would not load), {warnings} warning{} (it loads, but does not do what it says)",
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" }
        );
        ExitCode::from(1)
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
