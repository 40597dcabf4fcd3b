//! `pitcrew identity USER [-e ENV]`: whom a Slack user acts as in Kubernetes, environment by
//! environment, and why (the `[identity]` mapping, their pitcrew roles, the environment's
//! groups).

use super::*;

pub(super) fn identity(config: &Config, user: &str, env: Option<&str>) -> Result<ExitCode> {
    let user = crate::names::SlackUserId::parse(user)
        .map_err(|e| Error::Usage(format!("`{user}` is not a Slack user id: {e}")))?;
    let handle = crate::policy::PolicyHandle::load(
        config.policy.model.clone(),
        config.policy.policy.clone(),
    )?;
    let policy = handle.current();
    let wanted = env
        .map(crate::names::EnvName::parse)
        .transpose()
        .map_err(|e| Error::Usage(format!("-e: {e}")))?;
    if let Some(w) = &wanted
        && !config.environments.contains_key(w)
    {
        return Err(Error::Usage(format!(
            "no environment `{w}` in the configuration"
        )));
    }
    // With `from_slack_email`, users not in the table are looked up as `serve` would.
    let bot = crate::chat::SlackBot::from_config(config, &crate::metrics::Metrics::new().outside)?;
    let directory = bot.web.clone().map(|w| {
        std::sync::Arc::new(w) as std::sync::Arc<dyn crate::workflow::identity::Directory>
    });
    let cache = crate::workflow::identity::EmailCache::default();
    let roles = policy.enforcer.roles_of(user.as_str());
    println!(
        "{user}: pitcrew roles {}",
        if roles.is_empty() {
            "none".to_string()
        } else {
            roles.join(", ")
        }
    );
    for (name, environment) in &config.environments {
        if wanted.as_ref().is_some_and(|w| w != name) {
            continue;
        }
        if !environment.impersonate {
            println!("{name}: pitcrew's own Kubernetes account acts (impersonate = false)");
            continue;
        }
        let who = runtime()?.block_on(crate::workflow::identity::identity(
            config,
            &policy,
            directory.as_deref(),
            &cache,
            &user,
            environment,
        ));
        match who {
            Ok(who) => println!("{name}: acts as {who}"),
            Err(why) => println!("{name}: refused: {why}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
