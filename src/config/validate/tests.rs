//! Unit tests of the configuration checks.

use super::*;

/// Both `JIRA_EMAIL` and `JIRA_EMAIL_FILE` set: one problem saying to set only one, not a
/// second one claiming the variable is not set.
#[test]
fn a_secret_set_twice_is_one_problem() {
    let text = "[policy]\nmodel = \"m\"\npolicy = \"p\"\n[jira]\nbase_url = \"https://x.atlassian.net\"\nallowed_projects = [\"CHG\"]\napproved_statuses = [\"Approved\"]\n";
    let env = |name: &str| match name {
        "JIRA_EMAIL" | "JIRA_EMAIL_FILE" | "JIRA_API_TOKEN" => Some("x".to_string()),
        _ => None,
    };
    let Err(errors) = load(Path::new("/nonexistent/pitcrew.toml"), text, &env) else {
        panic!("accepted");
    };
    let about_email: Vec<&Problem> = errors
        .0
        .iter()
        .filter(|p| matches!(&p.place, Place::Environment { variable } if variable == "JIRA_EMAIL"))
        .collect();
    assert_eq!(about_email.len(), 1, "{about_email:?}");
    assert!(
        about_email[0].message.contains("set only one"),
        "{about_email:?}"
    );
}
