//! Change freezes end to end through `pitcrew exec` against the real cluster: a freeze set
//! from chat (by someone holding `freeze`) refuses every change until it is lifted, nothing
//! changes meanwhile, `--break-glass` overrides it loudly; a configured recurring window does
//! the same; `status -e ENV` shows what holds and what comes next.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::app::TestConfig;
use crate::common::cluster::{TestCluster, revision_of};
use crate::common::fakes;

const POLICY: &str = "\
g2, C01INCIDENT, channels:incident
p, role:oncall, *, *, *, *, restart, channels:incident, allow
p, role:oncall, *, *, *, *, status, *, allow
p, role:commander, *, *, *, *, break-glass, channels:incident, allow
p, role:commander, *, *, *, *, freeze, channels:incident, allow
p, role:commander, *, *, *, *, unfreeze, channels:incident, allow
p, role:oncall, *, *, payments, *, freeze, channels:incident, allow
g, role:commander, role:oncall
g, U01ALICE, role:oncall
g, U02CAROL, role:commander
";

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn pitcrew(&self, args: &[&str]) -> (i32, String) {
        crate::common::cli::pitcrew(
            &self.dir.path().join("pitcrew.toml"),
            &[("PAGERDUTY_TOKEN", fakes::PD_TOKEN)],
            args,
        )
    }

    /// Runs `text` as `user` from the incident channel; `yes` confirms.
    fn run(&self, user: &str, text: &str, yes: bool) -> (i32, String) {
        crate::common::cli::exec(
            &self.dir.path().join("pitcrew.toml"),
            &[("PAGERDUTY_TOKEN", fakes::PD_TOKEN)],
            user,
            Some("C01INCIDENT"),
            yes,
            text,
        )
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("pitcrew.db")
    }
}

fn events(jsonl: &str) -> Vec<serde_json::Value> {
    jsonl
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test]
async fn a_freeze_from_chat_refuses_every_change_until_lifted_and_break_glass_overrides_it() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("freeze", "checkout").await;
    let pd = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "PSHOP01", None)]).await;
    let (dir, _) = TestConfig::new(POLICY)
        .set("slack", "announce_channel", "C01ONCALL")
        .pagerduty(&pd.uri())
        .set("pagerduty", "timeout", "1s")
        .cluster(&cluster.kubeconfig)
        .protected("prod", &ns.name, 0)
        .set("environments.prod", "channels", ["C01INCIDENT"])
        .set("environments.prod", "timezone", "Europe/Berlin")
        .write();
    let s = Setup { dir };
    let revision = || async { revision_of(&api.get("checkout").await.expect("get")) };

    // Freezing is a right of its own, asked for the whole environment: Alice's `freeze` rule
    // names one namespace, so it does not cover prod as a whole.
    let (code, out) = s.run("U01ALICE", "freeze prod --for 2h --reason CHG-77", true);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("you may not freeze prod"), "{out}");
    let (code, out) = s.run("U01ALICE", "status -e prod", false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no freeze now"), "{out}");

    let (code, out) = s.run(
        "U02CAROL",
        "freeze prod --for 2h --reason \"CHG-77 payment provider migration\"",
        true,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("`prod` is frozen until"), "{out}");
    assert!(
        out.contains(" CET (") || out.contains(" CEST ("),
        "shown in the environment's zone with UTC beside: {out}"
    );

    // Every change is refused, with who froze it and until when; nothing changes.
    let (code, out) = s.run("U01ALICE", "restart checkout -e prod --reason Q1OPEN", true);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("`prod` is frozen until"), "{out}");
    assert!(out.contains("(freeze F-"), "{out}");
    assert!(
        out.contains(" set by <@U02CAROL>: CHG-77 payment provider migration)"),
        "{out}"
    );
    assert!(out.contains("--break-glass"), "says what to do: {out}");
    assert_eq!(revision().await, 1, "nothing changed during the freeze");
    let (code, out) = s.run("U01ALICE", "status -e prod", false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("FROZEN until"), "{out}");
    let (code, out) = s.run("U01ALICE", "status checkout -e prod", false);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("FROZEN until"),
        "a workload's status says it too: {out}"
    );

    // Break-glass goes ahead, and says it overrides the freeze: in the confirmation, then
    // when confirmed.
    let glass = "restart checkout -e prod --break-glass \"checkout down, freeze or not\"";
    let (code, out) = s.run("U02CAROL", glass, false);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("confirming OVERRIDES THE FREEZE"), "{out}");
    assert_eq!(revision().await, 1);
    let (code, out) = s.run("U02CAROL", glass, true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("‼ FREEZE OVERRIDDEN"), "{out}");
    assert_eq!(revision().await, 2);

    // Lifted: changes run again.
    let (code, out) = s.run("U01ALICE", "unfreeze prod", true);
    assert_eq!(code, 3, "{out}");
    let (code, out) = s.run("U02CAROL", "unfreeze prod", true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("`prod` is unfrozen"), "{out}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (code, out) = s.run("U01ALICE", "restart checkout -e prod --reason Q1OPEN", true);
    assert_eq!(code, 0, "{out}");
    assert_eq!(revision().await, 3);

    // The trail: the freeze and unfreeze as commands of their own, the refused restart, the
    // overriding break-glass.
    let (_, out) = s.pitcrew(&["audit", "query", "--action", "freeze", "--format", "jsonl"]);
    let phases: Vec<String> = events(&out)
        .iter()
        .map(|e| e["phase"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        phases,
        ["requested", "denied", "requested", "approved", "succeeded"],
        "{out}"
    );
    let (_, out) = s.pitcrew(&["audit", "query", "--action", "restart", "--format", "jsonl"]);
    let all = events(&out);
    let denied = all
        .iter()
        .find(|e| e["phase"] == "denied")
        .expect("the refused restart");
    assert!(
        denied["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("is frozen until"),
        "{denied}"
    );
    let overridden = all
        .iter()
        .filter(|e| e["phase"] == "approved")
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e["detail"].as_str()?).ok())
        .find(|d| !d["freeze_overridden"].is_null())
        .expect("the break-glass records the freeze it overrode");
    assert_eq!(
        overridden["freeze_overridden"]["origin"]["set_by"], "U02CAROL",
        "{overridden}"
    );

    // Announced to the environment's channel and the announce channel, once each.
    let db = pitcrew::db::Database::open_sqlite(&s.db())
        .await
        .expect("db");
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT target, body FROM outbox WHERE kind = 'slack-announce' AND body LIKE '%\"freeze\"%' ORDER BY id",
    )
    .fetch_all(db.pool())
    .await
    .expect("outbox");
    let channels: Vec<&str> = rows.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        channels,
        ["C01INCIDENT", "C01ONCALL", "C01INCIDENT", "C01ONCALL"],
        "freeze, then unfreeze: {rows:?}"
    );
    assert!(rows[0].1.contains("CHG-77"), "{rows:?}");
}

/// A recurring window from the configuration (RFC 5545, every day, 24 h: always on) refuses
/// changes; `unfreeze` cannot lift it and says where it comes from; `status` shows it.
#[tokio::test]
async fn a_configured_recurring_freeze_refuses_changes_and_status_shows_it() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("calendar", "checkout").await;
    let (dir, _) = TestConfig::new(POLICY)
        .cluster(&cluster.kubeconfig)
        .environment("dev", &ns.name)
        .set(
            "environments.dev.freezes.daily",
            "recurrence",
            "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY",
        )
        .set("environments.dev.freezes.daily", "duration", "24h")
        .write();
    let s = Setup { dir };
    let (code, out) = s.run("U01ALICE", "restart checkout -e dev", true);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("`dev` is frozen until") && out.contains("the configured freeze `daily`"),
        "{out}"
    );
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 1);
    let (code, out) = s.run("U01ALICE", "restart checkout -e dev --dry-run", true);
    assert_eq!(
        code, 0,
        "a dry run changes nothing, so a freeze lets it run: {out}"
    );
    let (code, out) = s.run("U01ALICE", "status -e dev", false);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("FROZEN until") && out.contains("next freeze:"),
        "{out}"
    );
    assert!(out.contains("UTC"), "{out}");
    let (code, out) = s.run("U02CAROL", "unfreeze dev", true);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("no freeze set from chat")
            && out.contains("still holds")
            && out.contains("change the configuration"),
        "{out}"
    );
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 1);
}
