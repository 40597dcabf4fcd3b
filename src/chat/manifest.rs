//! The Slack app manifest: what to paste into https://api.slack.com/apps → "Create New App" →
//! "From a manifest" to create pitcrew's app with the fewest scopes that work.

use serde_json::{Value, json};

use crate::config::Mode;

/// Scopes, and why each is needed.
pub const SCOPES: &[(&str, &str)] = &[
    ("commands", "the /pitcrew slash command"),
    (
        "chat:write",
        "replies, rollout messages, break-glass announcements",
    ),
    ("app_mentions:read", "commands typed as @pitcrew mentions"),
];

/// Scopes only `[identity].from_slack_email` needs: people's e-mails, to act as them in
/// Kubernetes (`users.info`).
pub const EMAIL_SCOPES: &[(&str, &str)] = &[
    (
        "users:read",
        "users.info, for mapping people to Kubernetes users",
    ),
    ("users:read.email", "the e-mail users.info shows"),
];

/// Scopes only approver rules with `slack_groups` need.
pub const GROUP_SCOPES: &[(&str, &str)] = &[(
    "usergroups:read",
    "usergroups.users.list, for approver rules naming Slack user groups",
)];

/// What the configuration asks of Slack beyond the basics.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    /// People's e-mails: `[identity].from_slack_email`, or on-call approver rules (PagerDuty
    /// knows people by e-mail).
    pub read_email: bool,
    /// User group members: approver rules with `slack_groups`.
    pub read_groups: bool,
}

impl Needs {
    pub fn of(config: &crate::config::Config) -> Needs {
        let rules = config.environments.values().map(|e| &e.approvers);
        Needs {
            read_email: config.identity.from_slack_email
                || rules
                    .clone()
                    .any(|r| r.on_call || r.requester_on_call_level.is_some()),
            read_groups: config
                .environments
                .values()
                .any(|e| !e.approvers.slack_groups.is_empty()),
        }
    }
}

/// The manifest for `mode` at `url`, with the scopes `needs` adds.
pub fn manifest(mode: Mode, url: Option<&str>, needs: Needs) -> crate::Result<Value> {
    let base = match (mode, url) {
        (Mode::Http, Some(u)) => {
            let parsed = reqwest::Url::parse(u)
                .map_err(|e| crate::Error::Usage(format!("--url `{u}` is not a URL: {e}")))?;
            if parsed.scheme() != "https" {
                return Err(crate::Error::Usage(format!(
                    "--url `{u}` must be https: Slack only calls HTTPS endpoints"
                )));
            }
            Some(u.trim_end_matches('/').to_string())
        }
        (Mode::Http, None) => {
            return Err(crate::Error::Usage(
                "give --url with pitcrew's public HTTPS address (e.g. https://pitcrew.example.com), or set [server].mode = \"socket\"".into(),
            ));
        }
        (Mode::Socket, _) => None,
    };
    let endpoint = |path: &str| base.as_ref().map(|b| format!("{b}{path}"));
    let mut command = json!({
        "command": "/pitcrew",
        "description": "Restart, roll back, promote and inspect Kubernetes workloads, with policy, justification and audit",
        "usage_hint": "restart deploy/checkout -e prod --reason <PagerDuty or Jira link>",
        // Mentions arrive as <@U…> ids, which the parser understands (display names change).
        "should_escape": true,
    });
    let mut settings = json!({
        "org_deploy_enabled": false,
        "socket_mode_enabled": base.is_none(),
        "token_rotation_enabled": false,
        "event_subscriptions": {"bot_events": ["app_mention"]},
    });
    if let Some(url) = endpoint("/slack/commands") {
        command["url"] = url.into();
    }
    if let Some(url) = endpoint("/slack/events") {
        settings["event_subscriptions"]["request_url"] = url.into();
    }
    settings["interactivity"] = match endpoint("/slack/interactions") {
        Some(url) => json!({"is_enabled": true, "request_url": url}),
        None => json!({"is_enabled": true}),
    };
    Ok(json!({
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "pitcrew",
            "description": "Incident-response ChatOps for Kubernetes",
            "background_color": "#1d2b3a",
        },
        "features": {
            "bot_user": {"display_name": "pitcrew", "always_online": true},
            "slash_commands": [command],
        },
        "oauth_config": {
            "scopes": {"bot": SCOPES
                .iter()
                .chain(if needs.read_email { EMAIL_SCOPES } else { &[] })
                .chain(if needs.read_groups { GROUP_SCOPES } else { &[] })
                .map(|(s, _)| *s)
                .collect::<Vec<_>>()},
        },
        "settings": settings,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_mode_points_slack_at_the_endpoints_with_the_fewest_scopes() {
        let m = manifest(
            Mode::Http,
            Some("https://pitcrew.example.com/"),
            Needs::default(),
        )
        .expect("manifest");
        assert_eq!(
            m["features"]["slash_commands"][0]["url"],
            "https://pitcrew.example.com/slack/commands"
        );
        assert_eq!(
            m["settings"]["event_subscriptions"]["request_url"],
            "https://pitcrew.example.com/slack/events"
        );
        assert_eq!(m["settings"]["socket_mode_enabled"], false);
        assert_eq!(
            m["settings"]["interactivity"]["request_url"],
            "https://pitcrew.example.com/slack/interactions"
        );
        assert_eq!(
            m["oauth_config"]["scopes"]["bot"],
            json!(["commands", "chat:write", "app_mentions:read"])
        );
        assert!(manifest(Mode::Http, None, Needs::default()).is_err());
        assert!(
            manifest(
                Mode::Http,
                Some("http://pitcrew.example.com"),
                Needs::default()
            )
            .is_err()
        );
        let needs = Needs {
            read_email: true,
            read_groups: true,
        };
        let with_email =
            manifest(Mode::Http, Some("https://pitcrew.example.com/"), needs).expect("manifest");
        assert_eq!(
            with_email["oauth_config"]["scopes"]["bot"],
            json!([
                "commands",
                "chat:write",
                "app_mentions:read",
                "users:read",
                "users:read.email",
                "usergroups:read"
            ])
        );
    }

    #[test]
    fn socket_mode_needs_no_public_address() {
        let m = manifest(Mode::Socket, None, Needs::default()).expect("manifest");
        assert_eq!(m["settings"]["socket_mode_enabled"], true);
        assert!(m["features"]["slash_commands"][0].get("url").is_none());
        assert!(
            m["settings"]["event_subscriptions"]
                .get("request_url")
                .is_none()
        );
    }
}
