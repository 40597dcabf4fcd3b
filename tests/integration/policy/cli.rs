//! `pitcrew policy check` and `policy lint`, as a platform engineer runs them.

use super::*;

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
        "policy.csv:19: p, role:oncall, prod, *, *, *, restart, channels:incident, allow"
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

/// A policy repository's CI has the policy and the model, and no deployment configuration or
/// secrets: lint and check run on the files alone.
#[test]
fn policy_tools_run_on_the_files_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["model.conf", "policy.csv"] {
        std::fs::copy(root.join("policies").join(f), dir.path().join(f)).expect("copy");
    }
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
            .env_clear()
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("run pitcrew");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + String::from_utf8_lossy(&out.stderr).as_ref(),
        )
    };
    let (code, out) = run(&[
        "policy",
        "lint",
        "--policy",
        "policy.csv",
        "--model",
        "model.conf",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no problems found"), "{out}");
    std::fs::write(
        dir.path().join("broken.csv"),
        "p, role:oncall, prod, *, *, *, restrat, *, allow\n",
    )
    .expect("write");
    let (code, out) = run(&["policy", "lint", "--policy", "broken.csv"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("broken.csv:1: error") && out.contains("restrat"),
        "{out}"
    );
    let (code, out) = run(&["policy", "lint"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("give the policy to lint: --policy"), "{out}");

    let check = |extra: &[&str]| {
        let mut args = vec![
            "policy",
            "check",
            "--policy",
            "policy.csv",
            "--model",
            "model.conf",
            "--as",
            "U01ALICE",
            "--channel",
            "C01INCIDENT",
            "--action",
            "restart",
            "--env",
            "prod",
            "--target",
            "deploy/checkout",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let (code, out) = check(&["--namespace", "shop"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("allowed by policy.csv:19: p, role:oncall, prod"),
        "{out}"
    );
    assert!(
        out.contains("no configuration: the policy alone decided"),
        "{out}"
    );
    let (code, out) = check(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("say the namespace"), "{out}");
}
