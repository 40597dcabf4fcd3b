//! Domain names that can only hold valid values.
//!
//! Following zero2prod's newtypes: a value of one of these types was checked once, at the edge
//! (config loading, command parsing), so the rest of pitcrew never re-checks it. Each `parse`
//! says exactly what is wrong, because these messages reach users.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name was refused. The message is written for the person who typed the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what}: {reason}")]
pub struct InvalidName {
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

/// Checks an RFC 1123 DNS label, as Kubernetes does for namespaces and most object names
/// (`k8s.io/apimachinery/pkg/util/validation.IsDNS1123Label`): at most 63 characters,
/// lower-case alphanumerics or '-', starting and ending with an alphanumeric.
fn check_dns1123_label(value: &str, what: &'static str) -> Result<(), InvalidName> {
    let fail = |reason: String| InvalidName {
        what,
        value: value.to_string(),
        reason,
    };
    if value.is_empty() {
        return Err(fail("it is empty".into()));
    }
    if value.len() > 63 {
        return Err(fail(format!(
            "it has {} characters, at most 63 are allowed",
            value.len()
        )));
    }
    check_label_chars(value).map_err(fail)
}

fn check_label_chars(label: &str) -> Result<(), String> {
    if let Some(bad) = label
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        // Show non-ASCII characters with their code point: a Cyrillic `с` looks exactly like
        // a Latin `c`, and only the code tells them apart.
        let shown = if bad.is_control() || bad.is_whitespace() {
            format!("`{}`", bad.escape_default())
        } else if bad.is_ascii() {
            format!("`{bad}`")
        } else {
            format!("`{bad}` (U+{:04X})", bad as u32)
        };
        return Err(format!(
            "{shown} is not allowed; use lower-case letters, digits and '-'"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("it must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Checks an RFC 1123 DNS subdomain (`IsDNS1123Subdomain`): at most 253 characters, one or
/// more labels separated by '.'. Deployment, StatefulSet and DaemonSet names are subdomains.
fn check_dns1123_subdomain(value: &str, what: &'static str) -> Result<(), InvalidName> {
    let fail = |reason: String| InvalidName {
        what,
        value: value.to_string(),
        reason,
    };
    if value.is_empty() {
        return Err(fail("it is empty".into()));
    }
    if value.len() > 253 {
        return Err(fail(format!(
            "it has {} characters, at most 253 are allowed",
            value.len()
        )));
    }
    for label in value.split('.') {
        if label.is_empty() {
            return Err(fail("it has an empty part between dots".into()));
        }
        check_label_chars(label).map_err(fail)?;
    }
    Ok(())
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, InvalidName> {
                let check: fn(&str, &'static str) -> Result<(), InvalidName> = $check;
                check(value, $what)?;
                Ok(Self(value.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_name!(
    /// A pitcrew environment name (`prod`, `staging`): an RFC 1123 label, so it can be used
    /// in policy patterns and messages without quoting.
    EnvName,
    "environment name",
    check_dns1123_label
);
validated_name!(
    /// A name for a configured cluster connection: an RFC 1123 label.
    ClusterName,
    "cluster name",
    check_dns1123_label
);
validated_name!(
    /// A Kubernetes namespace: an RFC 1123 label.
    NamespaceName,
    "namespace name",
    check_dns1123_label
);
validated_name!(
    /// A Deployment, StatefulSet or DaemonSet name: an RFC 1123 subdomain.
    WorkloadName,
    "workload name",
    check_dns1123_subdomain
);

/// Slack ids are upper-case letters and digits after a one-letter prefix that says what they
/// are (<https://api.slack.com/changelog/2016-08-11-user-id-format-changes>); length is not
/// fixed, so only a sane bound is enforced.
fn check_slack_id(value: &str, prefixes: &[char], what: &'static str) -> Result<(), InvalidName> {
    let fail = |reason: String| InvalidName {
        what,
        value: value.to_string(),
        reason,
    };
    let mut chars = value.chars();
    match chars.next() {
        Some(first) if prefixes.contains(&first) => {}
        _ => {
            let list: Vec<String> = prefixes.iter().map(|p| format!("`{p}`")).collect();
            return Err(fail(format!(
                "a Slack {what} starts with {} (display names are not accepted: they can change)",
                list.join(" or ")
            )));
        }
    }
    let rest = chars.as_str();
    if rest.len() < 2 || rest.len() > 20 {
        return Err(fail("it should be 3 to 21 characters long".into()));
    }
    if !rest
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(fail(
            "only upper-case letters and digits may follow the prefix".into(),
        ));
    }
    Ok(())
}

validated_name!(
    /// A Slack user id (`U…`, or `W…` on Enterprise Grid). Never a display name.
    SlackUserId,
    "user id",
    |v, w| check_slack_id(v, &['U', 'W'], w)
);
validated_name!(
    /// A Slack conversation id: public (`C…`), private (`G…`) or direct message (`D…`).
    SlackChannelId,
    "channel id",
    |v, w| check_slack_id(v, &['C', 'G', 'D'], w)
);
validated_name!(
    /// A Slack workspace (team) id (`T…`), or an Enterprise Grid organisation (`E…`).
    SlackTeamId,
    "team id",
    |v, w| check_slack_id(v, &['T', 'E'], w)
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_rfc_1123() {
        for ok in ["a", "prod", "shop-1", "0abc", &"a".repeat(63)] {
            assert!(NamespaceName::parse(ok).is_ok(), "{ok} should be valid");
        }
        for bad in ["", "Prod", "-a", "a-", "a_b", "a.b", "ä", &"a".repeat(64)] {
            assert!(
                NamespaceName::parse(bad).is_err(),
                "{bad} should be invalid"
            );
        }
    }

    #[test]
    fn subdomains_allow_dots_but_not_empty_labels() {
        assert!(WorkloadName::parse("checkout.v2").is_ok());
        assert!(WorkloadName::parse("checkout..v2").is_err());
        assert!(WorkloadName::parse(".checkout").is_err());
        assert!(WorkloadName::parse(&"a".repeat(254)).is_err());
        assert!(WorkloadName::parse(&["a".repeat(63), "b".repeat(63)].join(".")).is_ok());
    }

    #[test]
    fn errors_say_what_to_type() {
        let err = EnvName::parse("Prod").unwrap_err().to_string();
        assert_eq!(
            err,
            "`Prod` is not a valid environment name: `P` is not allowed; use lower-case letters, digits and '-'"
        );
    }

    #[test]
    fn slack_ids_are_not_display_names() {
        assert!(SlackUserId::parse("U012ABCDEF").is_ok());
        assert!(SlackUserId::parse("W012ABCDEF").is_ok());
        let err = SlackUserId::parse("alice").unwrap_err().to_string();
        assert!(err.contains("display names are not accepted"), "{err}");
        assert!(SlackUserId::parse("Uabc").is_err());
        assert!(SlackChannelId::parse("C0INCIDENT").is_ok());
        assert!(SlackChannelId::parse("U0INCIDENT").is_err());
        assert!(SlackTeamId::parse("T0001").is_ok());
    }

    #[test]
    fn names_deserialize_only_when_valid() {
        let ok: Result<EnvName, _> = serde_json::from_str("\"prod\"");
        assert!(ok.is_ok());
        let bad: Result<EnvName, _> = serde_json::from_str("\"PROD\"");
        assert!(bad.is_err());
    }
}
