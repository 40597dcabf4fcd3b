//! The trail posted to a SIEM as OCSF JSON (API Activity, class 6003) over HTTP(S) to a local
//! receiver: a receiver that fails at first is tried again with backoff and gets every event,
//! in order, once the answers are 2xx; the bearer token is sent and nothing else is told about
//! it. Both back-ends.

use std::time::{Duration, Instant};

use pitcrew::audit::{AuditStore, NewEvent};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::databases::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_an_https_receiver_as_ocsf_through_its_failures() {
    for t in TestDb::all().await {
        let label = t.label();
        t.db().migrate().await.expect("migrate");
        let store = AuditStore::new(t.db().clone());
        let events: Vec<NewEvent> = (0..120)
            .map(|i| NewEvent {
                correlation: format!("c-{i}"),
                phase: if i % 5 == 0 { "denied" } else { "succeeded" }.into(),
                actor_id: "U01ALICE".into(),
                command_text: format!("restart deployment/web-{i} -e prod"),
                action: Some("restart".into()),
                env: Some("prod".into()),
                kind: Some("deployment".into()),
                name: Some(format!("web-{i}")),
                ..NewEvent::default()
            })
            .collect();
        store.append_many(events).await.expect("append");

        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/ingest"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/ingest"))
            .and(header("authorization", "Bearer s3cret-token"))
            .respond_with(ResponseTemplate::new(202))
            .with_priority(2)
            .mount(&server)
            .await;
        let url = reqwest::Url::parse(&format!("{}/ingest", server.uri())).expect("url");
        let sink = pitcrew::siem::HttpsSink::new(url, Some("s3cret-token".to_string().into()))
            .expect("client");
        let (metrics, stop_tx, stream) = crate::siem::spawn_stream(t.db(), sink);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = server
                .received_requests()
                .await
                .unwrap_or_default()
                .iter()
                .filter(|r| r.headers.get("authorization").is_some())
                .count();
            if ok >= 3 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{label}: the receiver was not retried"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = stop_tx.send(());
        let _ = stream.await;

        let requests = server.received_requests().await.unwrap_or_default();
        assert_eq!(
            requests.len(),
            3,
            "{label}: two refusals, then the batch delivered"
        );
        let delivered: Vec<serde_json::Value> =
            serde_json::from_slice(&requests[2].body).expect("a JSON array");
        let ids: Vec<i64> = delivered
            .iter()
            .filter_map(|e| e["metadata"]["uid"].as_str()?.parse().ok())
            .collect();
        assert_eq!(
            ids,
            (1..=120).collect::<Vec<_>>(),
            "{label}: every event, in order"
        );
        let stored = store.query(&Default::default()).await.expect("query");
        for (e, r) in delivered.iter().zip(&stored) {
            assert_eq!(e["class_uid"], 6003, "{label}");
            assert_eq!(
                e["unmapped"]["hash"],
                r.hash.as_str(),
                "{label}: the hash intact"
            );
            assert_eq!(e["actor"]["user"]["uid"], "U01ALICE", "{label}");
        }
        assert_eq!(
            delivered[0]["status_id"], 2,
            "{label}: a refusal is a failure"
        );
        assert_eq!(delivered[1]["status_id"], 1, "{label}");
        let text = metrics.render();
        assert!(
            text.contains("pitcrew_siem_backlog{destination=\"https\"} 0")
                && text.contains("pitcrew_siem_events_sent_total 120"),
            "{label}: {text}"
        );
        assert!(!text.contains("s3cret"), "{label}: no secret in /metrics");
        t.cleanup().await;
    }
}
