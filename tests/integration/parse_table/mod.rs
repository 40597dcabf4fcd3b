//! The command language, case by case: what is accepted (and what it means, through its
//! canonical text) and what is refused (and what the message tells the user to do).

use pitcrew::command::{self, Command};

enum Expect {
    /// Accepted; the canonical text of the parsed command.
    Ok(&'static str),
    /// Refused; a part of the message the user sees.
    Err(&'static str),
}
use Expect::{Err, Ok};

const PD: &str = "https://acme.pagerduty.com/incidents/Q1W2E3R4T5Y6U7";

/// The accepted half of the table (the refused half is in `refused.rs`).
const CASES: &[(&str, Expect)] = &[
    // --- restart: targets, kinds, aliases, defaults
    ("restart checkout", Ok("restart deployment/checkout")),
    ("restart deploy/checkout", Ok("restart deployment/checkout")),
    (
        "restart deployment/checkout",
        Ok("restart deployment/checkout"),
    ),
    (
        "restart deployments/checkout",
        Ok("restart deployment/checkout"),
    ),
    (
        "restart deployment.apps/checkout",
        Ok("restart deployment/checkout"),
    ),
    ("restart Deploy/checkout", Ok("restart deployment/checkout")),
    ("restart sts/orders-db", Ok("restart statefulset/orders-db")),
    (
        "restart statefulset/orders-db",
        Ok("restart statefulset/orders-db"),
    ),
    (
        "restart statefulsets.apps/orders-db",
        Ok("restart statefulset/orders-db"),
    ),
    ("restart ds/log-agent", Ok("restart daemonset/log-agent")),
    (
        "restart daemonset/log-agent",
        Ok("restart daemonset/log-agent"),
    ),
    (
        "restart daemonsets/log-agent",
        Ok("restart daemonset/log-agent"),
    ),
    ("restart checkout.v2", Ok("restart deployment/checkout.v2")),
    ("restart a", Ok("restart deployment/a")),
    ("restart 0web", Ok("restart deployment/0web")),
    (
        "restart checkout -e prod",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart checkout --env prod",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart checkout --env=prod",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart checkout -e=prod",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart checkout -n shop",
        Ok("restart deployment/checkout -n shop"),
    ),
    (
        "restart checkout --namespace shop -e prod",
        Ok("restart deployment/checkout -e prod -n shop"),
    ),
    (
        "restart -e prod checkout",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart -e prod -n shop deploy/checkout",
        Ok("restart deployment/checkout -e prod -n shop"),
    ),
    (
        "restart checkout --dry-run",
        Ok("restart deployment/checkout --dry-run"),
    ),
    (
        "restart --dry-run checkout -e staging",
        Ok("restart deployment/checkout -e staging --dry-run"),
    ),
    (
        "restart checkout --reason CHG-123",
        Ok("restart deployment/checkout --reason CHG-123"),
    ),
    (
        "restart checkout --reason chg-123",
        Ok("restart deployment/checkout --reason CHG-123"),
    ),
    (
        "restart checkout --reason OPS_2-9",
        Ok("restart deployment/checkout --reason OPS_2-9"),
    ),
    (
        "restart checkout --reason PT4KHL9",
        Ok("restart deployment/checkout --reason PT4KHL9"),
    ),
    (
        "restart checkout --reason q1w2e3r4t5y6u7",
        Ok("restart deployment/checkout --reason Q1W2E3R4T5Y6U7"),
    ),
    (
        "restart checkout --reason https://acme.pagerduty.com/incidents/Q1W2E3R4T5Y6U7",
        Ok(
            "restart deployment/checkout --reason https://acme.pagerduty.com/incidents/Q1W2E3R4T5Y6U7",
        ),
    ),
    (
        "restart checkout --reason https://acme.pagerduty.com/incidents/Q1W2E3R4T5Y6U7/timeline",
        Ok(
            "restart deployment/checkout --reason https://acme.pagerduty.com/incidents/Q1W2E3R4T5Y6U7/timeline",
        ),
    ),
    (
        "restart checkout --reason https://acme.atlassian.net/browse/CHG-9",
        Ok("restart deployment/checkout --reason https://acme.atlassian.net/browse/CHG-9"),
    ),
    (
        "restart checkout --reason https://jira.acme.internal/browse/OPS-12",
        Ok("restart deployment/checkout --reason https://jira.acme.internal/browse/OPS-12"),
    ),
    (
        "restart checkout --reason https://acme.atlassian.net/jira/software/projects/OPS/boards/1?selectedIssue=OPS-7&x=1",
        Ok(
            "restart deployment/checkout --reason https://acme.atlassian.net/jira/software/projects/OPS/boards/1?selectedIssue=OPS-7&amp;x=1",
        ),
    ),
    (
        "restart checkout --break-glass \"PagerDuty API is down\"",
        Ok("restart deployment/checkout --break-glass \"PagerDuty API is down\""),
    ),
    (
        "restart checkout --break-glass 'Jira is down since 9:00'",
        Ok("restart deployment/checkout --break-glass \"Jira is down since 9:00\""),
    ),
    (
        "restart checkout --break-glass \"PD is down;   see  status\"",
        Ok("restart deployment/checkout --break-glass \"PD is down; see status\""),
    ),
    (
        "restart checkout --break-glass \"quote \\\"this\\\" please\"",
        Ok("restart deployment/checkout --break-glass \"quote \\\"this\\\" please\""),
    ),
    (
        "restart checkout --break-glass \"a < b & c > d, PD down\"",
        Err("cannot be used in a command"),
    ),
    (
        "restart checkout --break-glass \"—dashes in text are kept\"",
        Ok("restart deployment/checkout --break-glass \"—dashes in text are kept\""),
    ),
    // --- what Slack and phones do to text
    (
        "/pitcrew restart checkout",
        Ok("restart deployment/checkout"),
    ),
    (
        "pitcrew restart checkout",
        Ok("restart deployment/checkout"),
    ),
    (
        "/PITCREW restart checkout",
        Ok("restart deployment/checkout"),
    ),
    ("Restart checkout", Ok("restart deployment/checkout")),
    ("RESTART checkout", Ok("restart deployment/checkout")),
    (
        "restart checkout —env prod",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart checkout –env prod",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart checkout —dry-run",
        Ok("restart deployment/checkout --dry-run"),
    ),
    (
        "restart checkout —reason CHG-1",
        Ok("restart deployment/checkout --reason CHG-1"),
    ),
    (
        "restart checkout —namespace shop",
        Ok("restart deployment/checkout -n shop"),
    ),
    (
        "restart checkout ―env prod",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart checkout −−env prod",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart checkout —-env prod",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart\u{a0}checkout\u{a0}-e\u{a0}prod",
        Ok("restart deployment/checkout -e prod"),
    ),
    ("restart\u{202f}checkout", Ok("restart deployment/checkout")),
    ("restart\u{2003}checkout", Ok("restart deployment/checkout")),
    ("restart\u{3000}checkout", Ok("restart deployment/checkout")),
    (
        "  restart    checkout   -e   prod  ",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart\tcheckout\n-e prod",
        Ok("restart deployment/checkout -e prod"),
    ),
    (
        "restart checkout --break-glass “PagerDuty is down”",
        Ok("restart deployment/checkout --break-glass \"PagerDuty is down\""),
    ),
    (
        "restart checkout --break-glass „PagerDuty is down“",
        Ok("restart deployment/checkout --break-glass \"PagerDuty is down\""),
    ),
    (
        "restart checkout --break-glass ‘PagerDuty is down’",
        Ok("restart deployment/checkout --break-glass \"PagerDuty is down\""),
    ),
    (
        "restart checkout --break-glass «PagerDuty is down»",
        Ok("restart deployment/checkout --break-glass \"PagerDuty is down\""),
    ),
    (
        "restart checkout --reason <https://acme.pagerduty.com/incidents/Q1W2E3R4T5Y6U7|INC 42: checkout down>",
        Ok(
            "restart deployment/checkout --reason https://acme.pagerduty.com/incidents/Q1W2E3R4T5Y6U7",
        ),
    ),
    (
        "restart checkout --reason <https://acme.atlassian.net/browse/CHG-9>",
        Ok("restart deployment/checkout --reason https://acme.atlassian.net/browse/CHG-9"),
    ),
    (
        "restart checkout --reason <https://acme.atlassian.net/jira/software/projects/OPS/boards/1?selectedIssue=OPS-7&amp;x=1|OPS-7>",
        Ok(
            "restart deployment/checkout --reason https://acme.atlassian.net/jira/software/projects/OPS/boards/1?selectedIssue=OPS-7&amp;x=1",
        ),
    ),
    (
        "restart checkout --break-glass \"PD &lt;down&gt; &amp; Jira too\"",
        Ok("restart deployment/checkout --break-glass \"PD &lt;down&gt; &amp; Jira too\""),
    ),
    (
        "restart checkout -e prod --reason=CHG-5",
        Ok("restart deployment/checkout -e prod --reason CHG-5"),
    ),
    // --- rollback
    ("rollback checkout", Ok("rollback deployment/checkout")),
    (
        "rollback checkout -e prod -n shop",
        Ok("rollback deployment/checkout -e prod -n shop"),
    ),
    (
        "rollback sts/orders-db --to-revision 3",
        Ok("rollback statefulset/orders-db --to-revision 3"),
    ),
    (
        "rollback ds/log-agent --to-revision=12",
        Ok("rollback daemonset/log-agent --to-revision 12"),
    ),
    (
        "rollback checkout --to-revision 1 --dry-run",
        Ok("rollback deployment/checkout --to-revision 1 --dry-run"),
    ),
    (
        "rollback checkout --reason CHG-1 --to-revision 2",
        Ok("rollback deployment/checkout --to-revision 2 --reason CHG-1"),
    ),
    (
        "rollback checkout —to-revision 2",
        Ok("rollback deployment/checkout --to-revision 2"),
    ),
    (
        "Rollback deploy/checkout -e prod",
        Ok("rollback deployment/checkout -e prod"),
    ),
    (
        "rollback checkout --to-revision 18446744073709551615",
        Ok("rollback deployment/checkout --to-revision 18446744073709551615"),
    ),
    // --- promote
    (
        "promote checkout --from staging --to prod",
        Ok("promote checkout --from staging --to prod"),
    ),
    (
        "promote deploy/checkout --from staging --to prod",
        Ok("promote deployment/checkout --from staging --to prod"),
    ),
    (
        "promote sts/orders-db --from staging --to prod",
        Ok("promote statefulset/orders-db --from staging --to prod"),
    ),
    (
        "promote checkout --to prod --from staging",
        Ok("promote checkout --from staging --to prod"),
    ),
    (
        "promote checkout --from=staging --to=prod --dry-run",
        Ok("promote checkout --from staging --to prod --dry-run"),
    ),
    (
        "promote checkout --from staging --to prod --reason CHG-77",
        Ok("promote checkout --from staging --to prod --reason CHG-77"),
    ),
    (
        "promote checkout —from staging —to prod",
        Ok("promote checkout --from staging --to prod"),
    ),
    // --- status, history
    ("status checkout", Ok("status deployment/checkout")),
    ("status", Ok("status")),
    ("status -e prod", Ok("status -e prod")),
    ("Status —env prod", Ok("status -e prod")),
    // --- scale
    (
        "scale checkout --replicas 5 -e prod",
        Ok("scale deployment/checkout -e prod --replicas 5"),
    ),
    (
        "Scale sts/db —replicas 0 -n data --reason CHG-9 --dry-run",
        Ok("scale statefulset/db -n data --replicas 0 --reason CHG-9 --dry-run"),
    ),
    (
        "scale checkout --hpa --replicas 12",
        Ok("scale deployment/checkout --replicas 12 --hpa"),
    ),
    // --- pause, resume
    (
        "pause checkout -e prod",
        Ok("pause deployment/checkout -e prod"),
    ),
    (
        "Resume deploy/checkout -n shop --reason CHG-7 --dry-run",
        Ok("resume deployment/checkout -n shop --reason CHG-7 --dry-run"),
    ),
    (
        "pause checkout --break-glass “pagerduty down, pausing”",
        Ok("pause deployment/checkout --break-glass \"pagerduty down, pausing\""),
    ),
    // --- Argo Rollouts
    ("advance web -e prod", Ok("advance rollout/web -e prod")),
    (
        "Advance ro/web —full --reason CHG-7 --dry-run",
        Ok("advance rollout/web --full --reason CHG-7 --dry-run"),
    ),
    (
        "abort rollouts.argoproj.io/web -n shop",
        Ok("abort rollout/web -n shop"),
    ),
    ("retry rollout/web", Ok("retry rollout/web")),
    ("restart ro/web -e prod", Ok("restart rollout/web -e prod")),
    (
        "rollback rollout/web --to-revision 2",
        Ok("rollback rollout/web --to-revision 2"),
    ),
    ("pause rollout/web", Ok("pause rollout/web")),
    // --- gitops suspend, resume
    (
        "gitops suspend checkout -e prod --for 2h --reason CHG-7",
        Ok("gitops suspend application/checkout -e prod --for 2h --reason CHG-7"),
    ),
    (
        "GitOps Suspend ks/apps -n flux-system —for 90m --break-glass “argo down”",
        Ok(
            "gitops suspend kustomization/apps -n flux-system --for \"1h 30m\" --break-glass \"argo down\"",
        ),
    ),
    (
        "gitops resume helmreleases.helm.toolkit.fluxcd.io/podinfo -e prod --dry-run",
        Ok("gitops resume helmrelease/podinfo -e prod --dry-run"),
    ),
    (
        "can-i gitops app/checkout -e prod",
        Ok("can-i gitops application/checkout -e prod"),
    ),
    // --- freeze, unfreeze
    (
        "freeze prod --until 2026-12-27T08:00Z --reason CHG-77",
        Ok("freeze prod --until 2026-12-27T08:00:00Z --reason CHG-77"),
    ),
    (
        "freeze prod --until 2026-12-27T09:00:00+01:00 --reason CHG-77",
        Ok("freeze prod --until 2026-12-27T08:00:00Z --reason CHG-77"),
    ),
    (
        "Freeze prod —for 2h —reason “year-end   freeze”",
        Ok("freeze prod --for 2h --reason \"year-end freeze\""),
    ),
    (
        "freeze prod --reason <https://acme.atlassian.net/browse/CHG-77|CHG-77> --for 1d",
        Ok("freeze prod --for 1day --reason https://acme.atlassian.net/browse/CHG-77"),
    ),
    ("unfreeze prod", Ok("unfreeze prod")),
    ("/pitcrew UNFREEZE prod", Ok("unfreeze prod")),
    (
        "status sts/orders-db -e prod",
        Ok("status statefulset/orders-db -e prod"),
    ),
    (
        "status ds/log-agent -n kube-system",
        Ok("status daemonset/log-agent -n kube-system"),
    ),
    (
        "Status checkout -e prod",
        Ok("status deployment/checkout -e prod"),
    ),
    ("history checkout", Ok("history deployment/checkout")),
    (
        "history deploy/checkout -e prod -n shop",
        Ok("history deployment/checkout -e prod -n shop"),
    ),
    // --- can-i
    (
        "can-i restart checkout",
        Ok("can-i restart deployment/checkout"),
    ),
    (
        "can-i rollback sts/orders-db -e prod",
        Ok("can-i rollback statefulset/orders-db -e prod"),
    ),
    (
        "can-i break-glass checkout -e prod",
        Ok("can-i break-glass deployment/checkout -e prod"),
    ),
    (
        "can-i approve checkout -e prod -n shop",
        Ok("can-i approve deployment/checkout -e prod -n shop"),
    ),
    (
        "can-i Restart checkout",
        Ok("can-i restart deployment/checkout"),
    ),
    (
        "CAN-I status checkout",
        Ok("can-i status deployment/checkout"),
    ),
    // --- audit
    ("audit", Ok("audit")),
    ("audit --since 24h", Ok("audit --since 1day")),
    (
        "audit report --since 7d -e prod",
        Ok("audit report --since 7days --env prod"),
    ),
    ("audit --since 7d", Ok("audit --since 7days")),
    ("audit --since 90m", Ok("audit --since \"1h 30m\"")),
    (
        "audit --since 2026-11-23T09:00:00Z",
        Ok("audit --since 2026-11-23T09:00:00Z"),
    ),
    (
        "audit --since 2026-11-23T10:00:00+01:00",
        Ok("audit --since 2026-11-23T09:00:00Z"),
    ),
    (
        "audit --env prod --action restart",
        Ok("audit --env prod --action restart"),
    ),
    ("audit -e prod", Ok("audit --env prod")),
    (
        "audit --actor <@U012ABCDEF|alice>",
        Ok("audit --actor @U012ABCDEF"),
    ),
    ("audit --actor @U012ABCDEF", Ok("audit --actor @U012ABCDEF")),
    ("audit --actor W012ABCDEF", Ok("audit --actor @W012ABCDEF")),
    (
        "audit --target sts/orders-db --outcome failed",
        Ok("audit --target statefulset/orders-db --outcome failed"),
    ),
    (
        "audit --outcome Interrupted",
        Ok("audit --outcome interrupted"),
    ),
    (
        "audit --action break-glass",
        Ok("audit --action break-glass"),
    ),
    // --- help
    ("help", Ok("help")),
    ("help restart", Ok("help restart")),
    ("help can-i", Ok("help can-i")),
    ("HELP Rollback", Ok("help rollback")),
];

#[test]
fn every_case_in_the_table() {
    let cases: Vec<&(&str, Expect)> = CASES.iter().chain(refused::REFUSED).collect();
    assert!(cases.len() >= 150, "the table holds {} cases", cases.len());
    let mut failures = Vec::new();
    for (input, expect) in cases.iter().copied() {
        match (command::parse(input), expect) {
            (Result::Ok(cmd), Ok(canonical)) => {
                if cmd.to_string() != *canonical {
                    failures.push(format!(
                        "{input:?}: parsed as `{cmd}`, expected `{canonical}`"
                    ));
                }
                // The canonical text means the same command.
                match command::parse(&cmd.to_string()) {
                    Result::Ok(again) if again == cmd => {}
                    other => failures.push(format!(
                        "{input:?}: canonical text `{cmd}` re-parses as {other:?}"
                    )),
                }
            }
            (Result::Err(e), Err(part)) => {
                if !e.to_string().contains(part) {
                    failures.push(format!(
                        "{input:?}: refused with `{e}`, expected it to contain `{part}`"
                    ));
                }
            }
            (Result::Ok(cmd), Err(part)) => failures.push(format!(
                "{input:?}: accepted as `{cmd}`, expected refusal `{part}`"
            )),
            (Result::Err(e), Ok(canonical)) => failures.push(format!(
                "{input:?}: refused with `{e}`, expected `{canonical}`"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn a_parsed_reason_keeps_the_system_and_the_id() {
    let Result::Ok(Command::Restart(r)) =
        command::parse(&format!("restart checkout --reason {PD}"))
    else {
        panic!("restart parses");
    };
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["justification"]["kind"], "reason");
    assert_eq!(json["justification"]["system"], "pager-duty");
    assert_eq!(json["justification"]["incident"], "Q1W2E3R4T5Y6U7");
    assert_eq!(json["target"]["kind"], "Deployment");
}

mod refused;
