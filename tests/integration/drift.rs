//! `pitcrew audit drift` on the real cluster: a change through pitcrew (which stamps the
//! workload's `kubernetes.io/change-cause` with its audit id) is accounted for; a `kubectl set
//! image` beside it is listed, even though the object still carried pitcrew's change-cause.

use crate::common::app::TestConfig;
use crate::common::cluster::{TestCluster, revision_of, wait_for_revision_after};

#[tokio::test]
async fn changes_made_beside_pitcrew_are_found_and_pitcrews_own_are_not() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("drift", "checkout").await;
    let (_dir, config) = TestConfig::new("p, U01DEV, staging, *, *, *, *, *, allow\n")
        .set("rollout", "timeout", "60s")
        .cluster(&cluster.kubeconfig)
        .environment("staging", &ns.name)
        .write();
    let run = |args: &[&str]| crate::common::cli::pitcrew(&config, &[], args);

    let (code, out) = crate::common::cli::exec(
        &config,
        &[],
        "U01DEV",
        None,
        true,
        "restart checkout -e staging",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 2);
    let out = cluster.kubectl(&ns.name, &["rollout", "history", "deployment/checkout"]);
    let history = String::from_utf8_lossy(&out.stdout);
    assert!(
        history.contains("pitcrew: restart deployment/checkout -e staging (by U01DEV, audit id"),
        "kubectl rollout history shows who and why: {history}"
    );

    // Only pitcrew's change so far: revision 1 is the fixture's creation, without a cause.
    let (code, out) = run(&[
        "audit", "drift", "-e", "staging", "--since", "1h", "--format", "json",
    ]);
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value =
        serde_json::from_str(out.lines().next().unwrap_or_default()).expect("JSON");
    let listed = |report: &serde_json::Value| -> Vec<i64> {
        report["drift"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["revision"].as_i64())
            .collect()
    };
    assert_eq!(listed(&report), [1], "{out}");

    // A change beside pitcrew: listed, though the Deployment still carries pitcrew's cause.
    let out = cluster.kubectl(
        &ns.name,
        &[
            "set",
            "image",
            "deployment/checkout",
            "app=registry.invalid/app:9",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    wait_for_revision_after(&api, "checkout", 2).await;
    let (code, out) = run(&[
        "audit", "drift", "-e", "staging", "--since", "1h", "--format", "json",
    ]);
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value =
        serde_json::from_str(out.lines().next().unwrap_or_default()).expect("JSON");
    assert_eq!(listed(&report), [1, 3], "{out}");
    let third = report["drift"]
        .as_array()
        .and_then(|d| d.iter().find(|r| r["revision"] == 3))
        .cloned()
        .unwrap_or_default();
    assert!(
        third["why"]
            .as_str()
            .unwrap_or_default()
            .contains("made outside pitcrew command"),
        "{third}"
    );
    assert!(
        third["writers"].to_string().contains("kubectl"),
        "who made it: {third}"
    );
    // The change report (given the configuration, so it can ask the cluster) lists the same,
    // and so does the chat summary's count.
    let (code, json) = run(&[
        "audit",
        "report",
        "--from",
        "1h",
        "--to",
        "2099-01-01",
        "-e",
        "staging",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let revisions: Vec<i64> = report["drift"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["revision"].as_i64())
        .collect();
    assert_eq!(revisions, [1, 3], "{json}");
    let (code, out) = crate::common::cli::exec(
        &config,
        &[],
        "U01DEV",
        None,
        false,
        "audit report --since 1h -e staging",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 change(s) made outside pitcrew"), "{out}");
    let (code, table) = run(&["audit", "drift", "-e", "staging", "--since", "1h"]);
    assert_eq!(code, 1, "{table}");
    assert!(
        table.contains("3 revision(s) of staging's workloads")
            && table.contains("2 not made by a pitcrew command"),
        "{table}"
    );
}
