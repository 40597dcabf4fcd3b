//! Authorization: the shipped example policy keeps each of its promises, `pitcrew policy
//! check|lint` explain and find problems, reloads replace the policy only with a complete,
//! valid one, and no policy text or request can panic the enforcer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use pitcrew::policy::{Policy, PolicyHandle, Request, Source};
use proptest::prelude::*;

fn shipped() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    (root.join("model.conf"), root.join("policy.csv"))
}

fn request(sub: &str, chan: &str, act: &str, env: &str, ns: &str, obj: &str) -> Request {
    Request {
        sub: sub.into(),
        env: env.into(),
        cluster: "main".into(),
        ns: ns.into(),
        obj: obj.into(),
        act: act.into(),
        chan: chan.into(),
    }
}

use promises::{INCIDENT, PROMISES};

#[test]
fn the_example_policy_keeps_each_of_its_promises() {
    let (model, policy) = shipped();
    let policy = Policy::load(&model, &policy).expect("the shipped policy loads");
    let mut failures = Vec::new();
    for &(sub, chan, act, env, ns, obj, allowed, rule) in PROMISES {
        let r = request(sub, chan, act, env, ns, obj);
        let (verdict, explanation) = policy.explain(&r);
        let text = verdict
            .rule
            .as_ref()
            .map(|r| r.text.clone())
            .unwrap_or_default();
        let rule_ok = if rule.is_empty() {
            verdict.rule.is_none()
        } else {
            text.contains(rule)
        };
        if verdict.allowed != allowed || !rule_ok {
            failures.push(format!(
                "{sub} {act} {obj} in {env}/{ns} from {chan:?}: expected {} by {rule:?}, got {} ({explanation})",
                if allowed { "allowed" } else { "denied" },
                if verdict.allowed { "allowed" } else { "denied" },
            ));
        }
    }
    // The last row: the enforcer must only be handed validated Slack user ids (as it is).
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A workspace laid out like the repository with the example config and the shipped policy.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(dir.path().join("config")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("policies")).expect("mkdir");
        for f in ["model.conf", "policy.csv"] {
            std::fs::copy(
                root.join("policies").join(f),
                dir.path().join("policies").join(f),
            )
            .expect("copy");
        }
        let kubeconfig = dir.path().join("kubeconfig.yaml");
        std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\n").expect("kubeconfig");
        let config = include_str!("../../../config/pitcrew.example.toml").replace(
            "/etc/pitcrew/kubeconfigs/staging-eu.yaml",
            kubeconfig.to_str().expect("utf-8"),
        );
        std::fs::write(dir.path().join("config/pitcrew.toml"), config).expect("config");
        Workspace { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn pitcrew(&self, args: &[&str]) -> (i32, String, String) {
        let config = self.path("config/pitcrew.toml");
        let out = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PAGERDUTY_TOKEN", "pd-token")
            .env("JIRA_EMAIL", "robot@example.com")
            .env("JIRA_API_TOKEN", "jira-token")
            .env("PITCREW_CONFIG", config)
            .args(args)
            .output()
            .expect("run pitcrew");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

mod cli;
mod promises;
mod reload;
