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
    // A subject's role name is not a user: the last row shows why the enforcer must only ever
    // be handed validated Slack user ids (the workflow and `policy check` do).
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
        let config = include_str!("../../config/pitcrew.example.toml").replace(
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

#[test]
fn policy_check_explains_with_the_rule_and_the_exact_request() {
    let ws = Workspace::new();
    let args = |user: &str, chan: &str, action: &str, ns: &str, target: &str| {
        vec![
            "policy".to_string(),
            "check".into(),
            "--json".into(),
            "--as".into(),
            user.into(),
            "--channel".into(),
            chan.into(),
            "--action".into(),
            action.into(),
            "--env".into(),
            "prod".into(),
            "--namespace".into(),
            ns.into(),
            "--target".into(),
            target.into(),
        ]
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        ws.pitcrew(&refs)
    };

    let (code, out, err) = run(args(
        "U01ALICE",
        INCIDENT,
        "restart",
        "shop",
        "deploy/checkout",
    ));
    assert_eq!(code, 0, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["allowed"], true);
    assert_eq!(
        json["rule"],
        "policy.csv:17: p, role:oncall, prod, *, *, *, restart, channels:incident, allow"
    );
    assert_eq!(
        json["request"],
        serde_json::json!([
            "U01ALICE",
            "prod",
            "main",
            "shop",
            "deployment/checkout",
            "restart",
            "C01INCIDENT"
        ])
    );

    let (code, out, _) = run(args(
        "U01ALICE",
        INCIDENT,
        "restart",
        "payments",
        "sts/ledger",
    ));
    assert_eq!(code, 3, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["allowed"], false);
    assert!(
        json["rule"]
            .as_str()
            .unwrap_or_default()
            .ends_with("statefulset/ledger*, restart, *, deny"),
        "{json}"
    );

    let (code, out, _) = run(args("U09STRANGER", INCIDENT, "status", "shop", "checkout"));
    assert_eq!(code, 3, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["rule"], serde_json::Value::Null);

    // Without --json: one line a person reads.
    let mut human = args("U03DAVE", INCIDENT, "restart", "shop", "checkout");
    human.remove(2);
    let (code, out, _) = run(human);
    assert_eq!(code, 3);
    assert_eq!(
        out.trim(),
        "no rule grants `restart` on deployment/checkout in prod (namespace shop) to U03DAVE (roles: role:developer) from channel C01INCIDENT; ask the platform team to change the policy if you need it"
            .replace("no rule", "denied: no rule")
    );

    // Bad input is a usage error (2) that says what is wrong.
    let (code, _, err) = run(args("U01ALICE", INCIDENT, "restrat", "shop", "checkout"));
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `restart`?"), "{err}");
    let (code, _, err) = run(args("@alice", INCIDENT, "restart", "shop", "checkout"));
    assert_eq!(code, 2);
    assert!(err.contains("--as"), "{err}");
}

#[test]
fn policy_lint_reports_problems_with_their_lines() {
    let ws = Workspace::new();
    let (code, out, err) = ws.pitcrew(&["policy", "lint"]);
    assert_eq!(
        code, 0,
        "the shipped policy is clean against the example config:\n{out}{err}"
    );
    assert!(out.contains("no problems found"), "{out}");

    let candidate = ws.path("policies/candidate.csv");
    std::fs::write(
        &candidate,
        "\
p, role:oncall, prod, *, *, *, restart, *, allow
p, role:oncall, prdo, *, *, *, restart, *, allow
p, role:oncall, prod, *, shpo, *, restart, *, allow
p, role:oncall, prod, *, *, *, reboot, *, allow
p, role:oncall, prod, *, *, *, restart, *, deny
p, Alice Smith, prod, *, *, *, status, *, allow
p, role:oncall, prod, *, *
g, U01ALICE, role:oncall
",
    )
    .expect("write");
    let (code, out, _) = ws.pitcrew(&[
        "policy",
        "lint",
        "--policy",
        candidate.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 1, "{out}");
    let file = candidate.display().to_string();
    for (line, needle) in [
        (1, "shadowed by the deny at line 5"),
        (2, "no environment matches `prdo`; did you mean `prod`?"),
        (
            3,
            "no namespace of the matching environments matches `shpo`",
        ),
        (4, "error: unknown action `reboot`"),
        (6, "subject `Alice Smith` is neither a Slack user id"),
        (7, "error: `p` takes 8 values"),
    ] {
        let prefix = format!("{file}:{line}: ");
        assert!(
            out.lines()
                .any(|l| l.starts_with(&prefix) && l.contains(needle)),
            "line {line} should report {needle:?}:\n{out}"
        );
    }
    assert!(out.contains("errors (the policy would not load)"), "{out}");
}

fn write_policy(dir: &Path, text: &str) {
    // Written to a temporary name and renamed, as editors and ConfigMap updates do.
    let tmp = dir.join(".policy.csv.tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, dir.join("policy.csv")).expect("rename");
}

fn handle_in(dir: &Path, text: &str) -> PolicyHandle {
    std::fs::copy(shipped().0, dir.join("model.conf")).expect("model");
    write_policy(dir, text);
    PolicyHandle::load(dir.join("model.conf"), dir.join("policy.csv")).expect("loads")
}

fn allowed(handle: &PolicyHandle, sub: &str, act: &str) -> bool {
    let r = request(sub, INCIDENT, act, "prod", "shop", "deployment/checkout");
    handle.current().enforcer.decide(&r).allowed
}

#[test]
fn a_broken_policy_never_replaces_a_working_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let handle = handle_in(
        dir.path(),
        "p, U01ALICE, prod, *, *, *, restart, *, allow\n",
    );
    assert!(allowed(&handle, "U01ALICE", "restart"));

    write_policy(
        dir.path(),
        "p, U01ALICE, prod, *, *, *, restart, *, allow\np, U01BOB, prod, *, *, *, restart, *, allow\n",
    );
    assert!(matches!(
        handle.reload(false),
        Ok(pitcrew::policy::reload::Reloaded::Replaced { rules: 2 })
    ));
    assert!(allowed(&handle, "U01BOB", "restart"));
    assert!(matches!(
        handle.reload(false),
        Ok(pitcrew::policy::reload::Reloaded::Unchanged)
    ));

    // A broken edit (a typo'd action in line 2, a cut-off line 3): the old policy stays.
    write_policy(
        dir.path(),
        "p, U01ALICE, prod, *, *, *, restart, *, allow\np, U01CAROL, prod, *, *, *, restrat, *, allow\np, U01BOB, prod\n",
    );
    let err = handle.reload(false).expect_err("refused");
    let message = err.to_string();
    assert!(
        message.contains("policy.csv:2: error: unknown action `restrat`"),
        "{message}"
    );
    assert!(
        message.contains("policy.csv:3: error: `p` takes 8 values"),
        "{message}"
    );
    assert!(
        allowed(&handle, "U01BOB", "restart"),
        "the previous policy is still in force"
    );
    let status = handle.status();
    assert_eq!((status.rules, status.reloads, status.failures), (2, 1, 1));
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("policy.csv:2")
    );

    // A missing file is refused the same way.
    std::fs::remove_file(dir.path().join("policy.csv")).expect("rm");
    assert!(handle.reload(true).is_err());
    assert!(allowed(&handle, "U01ALICE", "restart"));

    // Fixed: it loads, and the error is cleared.
    write_policy(
        dir.path(),
        "p, U01CAROL, prod, *, *, *, restart, *, allow\n",
    );
    assert!(handle.reload(false).is_ok());
    assert!(allowed(&handle, "U01CAROL", "restart"));
    assert!(!allowed(&handle, "U01ALICE", "restart"));
    assert_eq!(handle.status().last_error, None);
}

/// Two policies that differ in every line: a decision that saw part of one and part of the
/// other would grant one action and not the other.
fn big_policy(user: &str, lines: usize) -> String {
    let mut text = String::new();
    for i in 0..lines {
        text.push_str(&format!(
            "p, role:r{i}, prod, *, *, deployment/w{i}, status, *, allow\n"
        ));
    }
    text.push_str(&format!("p, {user}, prod, *, *, *, restart, *, allow\n"));
    text.insert_str(
        0,
        &format!("p, {user}, prod, *, *, *, rollback, *, allow\n"),
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_swaps_whole_policies_while_decisions_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let handle = Arc::new(handle_in(dir.path(), &big_policy("U01ALICE", 5_000)));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = handle.clone().watch(Duration::from_millis(50), async move {
        let _ = stop_rx.await;
    });
    let deciding = {
        let handle = handle.clone();
        tokio::task::spawn_blocking(move || {
            let mut seen = std::collections::BTreeSet::new();
            let deadline = std::time::Instant::now() + Duration::from_secs(4);
            while std::time::Instant::now() < deadline {
                let policy = handle.current();
                let decide = |sub: &str, act: &str| {
                    let r = request(sub, INCIDENT, act, "prod", "shop", "deployment/checkout");
                    policy.enforcer.decide(&r).allowed
                };
                let alice = (
                    decide("U01ALICE", "rollback"),
                    decide("U01ALICE", "restart"),
                );
                let bob = (decide("U01BOB", "rollback"), decide("U01BOB", "restart"));
                // Exactly one of the two complete policies, never a mix.
                assert!(
                    (alice == (true, true) && bob == (false, false))
                        || (alice == (false, false) && bob == (true, true)),
                    "alice {alice:?}, bob {bob:?}"
                );
                seen.insert(alice.0);
            }
            seen
        })
    };
    for i in 0..6 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let user = if i % 2 == 0 { "U01BOB" } else { "U01ALICE" };
        write_policy(dir.path(), &big_policy(user, 5_000));
    }
    let seen = deciding.await.expect("decisions never panicked");
    assert_eq!(
        seen.len(),
        2,
        "decisions saw both policies: the watcher reloaded"
    );
    assert!(handle.status().reloads >= 2, "{:?}", handle.status());
    let _ = stop_tx.send(());
    watcher.await.expect("watcher stops");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Any policy text either loads or is refused with findings; any request on a policy that
    /// loaded gets a decision. Nothing panics (casbin-rs's keyMatch panics on some of these).
    #[test]
    fn no_policy_text_or_request_panics(
        lines in proptest::collection::vec("[pg2]{1,2}(, ?[a-zé*/:_ -]{0,6}){0,9}", 0..12),
        values in proptest::collection::vec("[a-zé*/:_ -]{0,6}", 7),
    ) {
        let text = lines.join("\n");
        let (source, _) = Source::parse(&text);
        if let Ok(enforcer) = pitcrew::policy::Enforcer::build(&source) {
            let r = Request {
                sub: values[0].clone(), env: values[1].clone(), cluster: values[2].clone(),
                ns: values[3].clone(), obj: values[4].clone(), act: values[5].clone(),
                chan: values[6].clone(),
            };
            let _ = enforcer.decide(&r);
        }
        let _ = pitcrew::policy::lint(&text, None);
    }
}

/// `pitcrew policy watch` runs the server's reload loop: with an hour between polls, only
/// SIGHUP can make it reload, so this shows SIGHUP works, and that a broken file is refused
/// with its line while the old policy stays.
#[test]
fn sighup_reloads_the_policy_and_a_broken_one_is_refused() {
    use std::io::{BufRead, BufReader};
    let ws = Workspace::new();
    let config = ws.path("config/pitcrew.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PAGERDUTY_TOKEN", "pd-token")
        .env("JIRA_EMAIL", "robot@example.com")
        .env("JIRA_API_TOKEN", "jira-token")
        .args(["policy", "watch", "--interval", "1h", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start policy watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = |what: &str| {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no line while waiting for {what}"));
        assert!(line.contains(what), "expected {what:?}, got {line:?}");
        line
    };
    next("loaded 18 rules");
    next("watching");
    let hup = || {
        let status = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .expect("kill -HUP");
        assert!(status.success());
    };
    let policy = ws.path("policies/policy.csv");
    let mut text = std::fs::read_to_string(&policy).expect("read");
    text.push_str("p, U09NEW, staging, *, *, *, status, *, allow\n");
    std::fs::write(&policy, &text).expect("write");
    hup();
    next("reloaded: 19 rules");
    std::fs::write(&policy, "p, U01ALICE, prod, *, *, *, restrat, *, allow\n").expect("write");
    hup();
    next("refused, the previous policy stays in force");
    next("policy.csv:1: error: unknown action `restrat`");
    let _ = child.kill();
    let _ = child.wait();
}
