//! Who approved is first-class in the trail: `approval` events name each approver, a query by
//! approver finds the commands they approved, and each event carries its command's requester
//! and approvers (both back-ends).

use pitcrew::audit::{AuditStore, Filter, NewEvent, Parties};

use crate::common::databases::TestDb;

fn event(correlation: &str, phase: &str, actor: &str) -> NewEvent {
    NewEvent {
        correlation: correlation.into(),
        phase: phase.into(),
        actor_id: actor.into(),
        command_text: "restart checkout -e prod --reason CHG-1".into(),
        action: Some("restart".into()),
        env: Some("prod".into()),
        ..NewEvent::default()
    }
}

#[tokio::test]
async fn commands_are_found_by_approver_with_requester_and_approvers_beside_each_event() {
    for t in TestDb::all().await {
        let label = t.label();
        t.db().migrate().await.expect("migrate");
        let s = AuditStore::new(t.db().clone());
        // c1: Alice asks, Carol and Dan approve. c2: Bob asks, Dan approves. c3: nobody
        // approves. Carol's id also appears as a requester in c3: not an approval.
        let story = [
            ("c1", "requested", "U01ALICE"),
            ("c2", "requested", "U01BOB"),
            ("c1", "pending", "U01ALICE"),
            ("c1", "approval", "U02CAROL"),
            ("c2", "approval", "U03DAN"),
            ("c1", "approval", "U03DAN"),
            ("c3", "requested", "U02CAROL"),
            ("c1", "approved", "U01ALICE"),
            ("c1", "succeeded", "U01ALICE"),
        ];
        for (c, phase, actor) in story {
            s.append(event(c, phase, actor)).await.expect("append");
        }
        let by_approver = |who: &str| {
            let s = s.clone();
            let who = who.to_string();
            async move {
                s.query(&Filter {
                    approver: Some(who),
                    ..Filter::default()
                })
                .await
                .expect("query")
            }
        };
        let carol = by_approver("U02CAROL").await;
        assert!(carol.iter().all(|r| r.correlation == "c1"), "{label}");
        assert_eq!(carol.len(), 6, "{label}: c1's whole story");
        let dan = by_approver("U03DAN").await;
        let commands: std::collections::BTreeSet<&str> =
            dan.iter().map(|r| r.correlation.as_str()).collect();
        assert_eq!(commands, ["c1", "c2"].into(), "{label}");
        assert_eq!(dan.len(), 8, "{label}: both commands' whole stories");
        assert!(by_approver("U01ALICE").await.is_empty(), "{label}");
        // Values are bound, not formatted: a quote is just a character.
        assert!(by_approver("U0' OR '1'='1").await.is_empty(), "{label}");

        let all = s.query(&Filter::default()).await.expect("query");
        let parties = s.parties(&all).await.expect("parties");
        assert_eq!(
            parties.get("c1"),
            Some(&Parties {
                requester: Some("U01ALICE".into()),
                approvers: vec!["U02CAROL".into(), "U03DAN".into()],
            }),
            "{label}"
        );
        assert_eq!(parties["c2"].approvers, ["U03DAN"], "{label}");
        assert_eq!(
            parties["c3"].requester.as_deref(),
            Some("U02CAROL"),
            "{label}"
        );
        assert!(parties["c3"].approvers.is_empty(), "{label}");
        t.cleanup().await;
    }
}
