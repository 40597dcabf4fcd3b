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

const INCIDENT: &str = "C01INCIDENT";
const OPS: &str = "C01OPS";
const RELEASES: &str = "C01RELEASES";
const RANDOM: &str = "C09RANDOM";

/// Each promise of `policies/policy.csv`, as (who, channel, action, env, namespace, workload,
/// allowed, text of the deciding rule or "" for "no rule").
type Promise = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static str,
);

const PROMISES: &[Promise] = &[
    // On-call may restart and roll back in prod, from the incident channels only.
    (
        "U01ALICE",
        INCIDENT,
        "restart",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:oncall, prod, *, *, *, restart, channels:incident",
    ),
    (
        "U01BOB",
        OPS,
        "rollback",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:oncall, prod, *, *, *, rollback, channels:incident",
    ),
    (
        "U01ALICE",
        RANDOM,
        "restart",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    (
        "U01ALICE",
        "",
        "restart",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    // ... but not promote, approve or break-glass, and not in staging.
    (
        "U01ALICE",
        INCIDENT,
        "promote",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    (
        "U01ALICE",
        INCIDENT,
        "approve",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    (
        "U01ALICE",
        INCIDENT,
        "break-glass",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    (
        "U01ALICE",
        INCIDENT,
        "restart",
        "staging",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    // Read-only commands are governed too: on-call reads everywhere, from anywhere.
    (
        "U01ALICE",
        "",
        "status",
        "staging",
        "shop",
        "deployment/checkout",
        true,
        "role:oncall, *, *, *, *, status",
    ),
    (
        "U01ALICE",
        RANDOM,
        "history",
        "prod",
        "payments",
        "statefulset/ledger",
        true,
        "role:oncall, *, *, *, *, history",
    ),
    (
        "U01ALICE",
        INCIDENT,
        "audit",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    // The ledger database is never restarted or rolled back from chat: the deny wins.
    (
        "U01ALICE",
        INCIDENT,
        "restart",
        "prod",
        "payments",
        "statefulset/ledger",
        false,
        "statefulset/ledger*, restart, *, deny",
    ),
    (
        "U02CAROL",
        INCIDENT,
        "rollback",
        "prod",
        "payments",
        "statefulset/ledger-replica",
        false,
        "statefulset/ledger*, rollback, *, deny",
    ),
    (
        "U01ALICE",
        INCIDENT,
        "restart",
        "prod",
        "payments",
        "deployment/ledger-api",
        true,
        "role:oncall, prod, *, *, *, restart",
    ),
    // Incident commanders inherit on-call, and may approve and break the glass in prod.
    (
        "U02CAROL",
        OPS,
        "restart",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:oncall, prod, *, *, *, restart",
    ),
    (
        "U02CAROL",
        INCIDENT,
        "approve",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:incident-commander, prod, *, *, *, approve",
    ),
    (
        "U02CAROL",
        INCIDENT,
        "break-glass",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:incident-commander, prod, *, *, *, break-glass",
    ),
    (
        "U02CAROL",
        INCIDENT,
        "break-glass",
        "staging",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    // Developers: everything in dev and staging, from any channel; read-only in prod.
    (
        "U03DAVE",
        RANDOM,
        "restart",
        "staging",
        "shop",
        "deployment/checkout",
        true,
        "role:developer, staging, *, *, *, *, *",
    ),
    (
        "U03DAVE",
        "",
        "rollback",
        "dev",
        "shop-dev",
        "daemonset/agent",
        true,
        "role:developer, dev, *, *, *, *, *",
    ),
    (
        "U03DAVE",
        "",
        "promote",
        "staging",
        "shop",
        "deployment/checkout",
        true,
        "role:developer, staging",
    ),
    (
        "U03DAVE",
        INCIDENT,
        "status",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:developer, prod, *, *, *, status",
    ),
    (
        "U03DAVE",
        INCIDENT,
        "restart",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    (
        "U03DAVE",
        INCIDENT,
        "approve",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    // Release managers promote into prod from #releases only, and approve.
    (
        "U03ERIN",
        RELEASES,
        "promote",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:release-manager, prod, *, *, *, promote, channels:release",
    ),
    (
        "U03ERIN",
        INCIDENT,
        "promote",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    (
        "U03ERIN",
        RANDOM,
        "approve",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:release-manager, prod, *, *, *, approve",
    ),
    (
        "U03ERIN",
        RELEASES,
        "restart",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    // Compliance reads the audit trail, for any environment, and nothing else.
    (
        "U04FRANK",
        "",
        "audit",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:compliance, *, *, *, *, audit",
    ),
    (
        "U04FRANK",
        "",
        "audit",
        "*",
        "*",
        "*",
        true,
        "role:compliance, *, *, *, *, audit",
    ),
    (
        "U04FRANK",
        INCIDENT,
        "status",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    (
        "U04FRANK",
        INCIDENT,
        "restart",
        "staging",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    // A suspended developer loses everything at once.
    (
        "U05GRACE",
        RANDOM,
        "restart",
        "staging",
        "shop",
        "deployment/checkout",
        false,
        "role:suspended, *, *, *, *, *, *, deny",
    ),
    (
        "U05GRACE",
        "",
        "status",
        "dev",
        "shop-dev",
        "deployment/checkout",
        false,
        "role:suspended",
    ),
    // Compliance reviews break-glass commands afterwards; on-call does not review.
    (
        "U04FRANK",
        "",
        "review",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:compliance, *, *, *, *, review",
    ),
    (
        "U01ALICE",
        "",
        "review",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    // On call scales prod from the incident channels.
    (
        "U01ALICE",
        INCIDENT,
        "scale",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:oncall, prod, *, *, *, scale",
    ),
    (
        "U01ALICE",
        RANDOM,
        "scale",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    // Freezes: the whole environment (namespace and workload `*`).
    (
        "U02CAROL",
        INCIDENT,
        "freeze",
        "prod",
        "*",
        "*",
        true,
        "role:incident-commander, prod, *, *, *, freeze",
    ),
    (
        "U02CAROL",
        INCIDENT,
        "unfreeze",
        "prod",
        "*",
        "*",
        true,
        "unfreeze, channels:incident",
    ),
    ("U02CAROL", RANDOM, "unfreeze", "prod", "*", "*", false, ""),
    // Commanders suspend GitOps reconciliation in prod, from the incident channels; on-call
    // alone may not.
    (
        "U02CAROL",
        INCIDENT,
        "gitops",
        "prod",
        "argocd",
        "application/checkout",
        true,
        "role:incident-commander, prod, *, *, *, gitops, channels:incident",
    ),
    (
        "U01ALICE",
        INCIDENT,
        "gitops",
        "prod",
        "argocd",
        "application/checkout",
        false,
        "",
    ),
    (
        "U02CAROL",
        RANDOM,
        "gitops",
        "prod",
        "argocd",
        "kustomization/apps",
        false,
        "",
    ),
    ("U01ALICE", INCIDENT, "freeze", "prod", "*", "*", false, ""),
    (
        "U03ERIN",
        RELEASES,
        "freeze",
        "prod",
        "*",
        "*",
        true,
        "role:release-manager, prod, *, *, *, freeze",
    ),
    ("U03ERIN", RELEASES, "unfreeze", "prod", "*", "*", false, ""),
    (
        "U03DAVE",
        "",
        "unfreeze",
        "staging",
        "*",
        "*",
        true,
        "role:developer, staging",
    ),
    // Nobody else anything; display names are not subjects.
    (
        "U09STRANGER",
        INCIDENT,
        "status",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    (
        "alice",
        INCIDENT,
        "status",
        "prod",
        "shop",
        "deployment/checkout",
        false,
        "",
    ),
    (
        "role:oncall",
        INCIDENT,
        "restart",
        "prod",
        "shop",
        "deployment/checkout",
        true,
        "role:oncall, prod",
    ),
];

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
mod reload;
