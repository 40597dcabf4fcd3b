//! The trail streamed to a real rsyslog (Debian's package, started here on a free port): every
//! event arrives, in order, once per id, fields intact; rsyslog stopped mid-stream and started
//! again loses nothing, and `/metrics` shows the backlog growing and draining. Both back-ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use pitcrew::audit::{AuditStore, NewEvent};

use crate::common::databases::TestDb;
use crate::common::{Part, require_env};

struct Rsyslog {
    bin: String,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    /// Listen with TLS (rsyslog's gtls driver), with a certificate for 127.0.0.1.
    tls: bool,
}

impl Rsyslog {
    fn out(&self) -> PathBuf {
        self.dir.path().join("received.log")
    }

    fn start(&mut self) {
        let conf = self.dir.path().join("rsyslog.conf");
        let d = self.dir.path().display();
        let (global, module) = if self.tls {
            (
                format!(
                    " DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"{d}/ca.pem\" \
                     DefaultNetstreamDriverCertFile=\"{d}/server.pem\" DefaultNetstreamDriverKeyFile=\"{d}/server.key\""
                ),
                " StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\"",
            )
        } else {
            (String::new(), "")
        };
        std::fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{dir}\"{global})\n\
                 module(load=\"imtcp\"{module})\n\
                 template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
                 ruleset(name=\"siem\") {{ action(type=\"omfile\" file=\"{out}\" template=\"raw\") }}\n\
                 input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\" ruleset=\"siem\")\n",
                dir = self.dir.path().display(),
                out = self.out().display(),
                port = self.port
            ),
        )
        .expect("rsyslog.conf");
        let child = Command::new(&self.bin)
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(self.dir.path().join("rsyslogd.pid"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        // Listening once a connection is accepted.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    /// The events received so far, by id, as (hash, the whole message), in arrival order of
    /// each id's first copy; and how many lines came.
    fn received(&self) -> (Vec<(i64, String)>, usize) {
        let text = std::fs::read_to_string(self.out()).unwrap_or_default();
        let mut seen = BTreeMap::new();
        let mut order = Vec::new();
        for line in text.lines() {
            let field = |name: &str| {
                line.split_once(&format!(" {name}=\""))
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(v, _)| v.to_string())
            };
            let (Some(id), Some(hash)) = (
                field("id").and_then(|i| i.parse::<i64>().ok()),
                field("hash"),
            ) else {
                continue;
            };
            if seen.insert(id, hash.clone()).is_none() {
                order.push((id, hash));
            }
        }
        (order, text.lines().count())
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running stream of the trail in `db` to `sink`: its metrics, the switch that stops it, and
/// its task.
pub(crate) fn spawn_stream(
    db: &pitcrew::db::Database,
    sink: impl pitcrew::siem::Sink + 'static,
) -> (
    pitcrew::metrics::Metrics,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let metrics = pitcrew::metrics::Metrics::new();
    let gauges = pitcrew::siem::Gauges {
        backlog: metrics
            .siem_backlog
            .get_or_create(&pitcrew::metrics::DestinationLabels {
                destination: sink.name().into(),
            })
            .clone(),
        sent: metrics.siem_sent.clone(),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(pitcrew::siem::stream(
        db.clone(),
        sink,
        gauges,
        async move {
            let _ = stop_rx.await;
        },
    ));
    (metrics, stop_tx, task)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn events(from: usize, n: usize) -> Vec<NewEvent> {
    (from..from + n)
        .map(|i| NewEvent {
            correlation: format!("c-{i}"),
            phase: if i % 7 == 0 { "denied" } else { "requested" }.into(),
            actor_id: "U01ALICE".into(),
            command_text: format!(
                "restart deployment/web-{i} -e prod --break-glass \"quote\\\" ] {i}\""
            ),
            env: Some("prod".into()),
            ..NewEvent::default()
        })
        .collect()
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");

        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn backlog(metrics: &pitcrew::metrics::Metrics) -> String {
    metrics
        .render()
        .lines()
        .find(|l| l.starts_with("pitcrew_siem_backlog{destination=\"syslog\"}"))
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_rsyslog_once_per_id_in_order_through_an_outage() {
    let Some(bin) = require_env(Part::Tools, "PITCREW_TEST_RSYSLOGD") else {
        return;
    };
    for t in TestDb::all().await {
        let label = t.label();
        t.db().migrate().await.expect("migrate");
        let store = AuditStore::new(t.db().clone());
        store.append_many(events(1, 200)).await.expect("append");
        let mut rsyslog = Rsyslog {
            bin: bin.clone(),
            dir: tempfile::tempdir().expect("tempdir"),
            port: free_port(),
            child: None,
            tls: false,
        };
        rsyslog.start();
        let cfg = pitcrew::config::SyslogConfig {
            address: format!("127.0.0.1:{}", rsyslog.port),
            app_name: "pitcrew".into(),
            hostname: Some("replica-1".into()),
            facility: 13,
            tls: false,
            ca_file: None,
        };
        let (metrics, stop_tx, stream) = spawn_stream(t.db(), pitcrew::siem::SyslogSink::new(cfg));
        until("the first 200 events", || rsyslog.received().0.len() == 200).await;
        // Delivered is when the connection was still open a moment after the write.
        until("the first batch confirmed", || {
            backlog(&metrics) == "pitcrew_siem_backlog{destination=\"syslog\"} 0"
        })
        .await;

        // rsyslog goes away; the trail grows; the backlog shows it.
        rsyslog.stop();
        store.append_many(events(201, 100)).await.expect("append");
        until("the backlog of 100", || {
            backlog(&metrics) == "pitcrew_siem_backlog{destination=\"syslog\"} 100"
        })
        .await;

        // Back: everything arrives, the backlog drains.
        rsyslog.start();
        until("all 300 events", || rsyslog.received().0.len() == 300).await;
        until("the drained backlog", || {
            backlog(&metrics) == "pitcrew_siem_backlog{destination=\"syslog\"} 0"
        })
        .await;
        let _ = stop_tx.send(());
        let _ = stream.await;

        let (got, lines) = rsyslog.received();
        let ids: Vec<i64> = got.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            (1..=300).collect::<Vec<_>>(),
            "{label}: in order, none missing"
        );
        let stored = store.query(&Default::default()).await.expect("query");
        for (r, (id, hash)) in stored.iter().zip(&got) {
            assert_eq!((r.id, &r.hash), (*id, hash), "{label}: id and hash intact");
        }
        assert!(lines >= 300, "{label}: at least once ({lines} lines)");
        let text = std::fs::read_to_string(rsyslog.out()).unwrap_or_default();
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("<109>1 ")
                && first.contains(" replica-1 pitcrew - requested [pitcrew@32473 id=\"1\""),
            "{label}: RFC 5424 header: {first}"
        );
        let seventh = text
            .lines()
            .find(|l| l.contains(" id=\"7\" "))
            .unwrap_or_default();
        assert!(
            seventh.starts_with("<108>1 "),
            "{label}: a refusal is a warning: {seventh}"
        );
        assert!(
            seventh.contains(r#"\"quote\\\" ] 7\""#),
            "{label}: user text escaped in the JSON body: {seventh}"
        );
        check_file_is_ours(&rsyslog.out(), label);
        t.cleanup().await;
    }
}

/// Nothing but pitcrew's messages reached the file (rsyslog's own start-up lines go elsewhere).
fn check_file_is_ours(path: &Path, label: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.lines().all(|l| l.contains("[pitcrew@32473 ")),
        "{label}: unexpected lines in {}",
        path.display()
    );
}

/// A CA and a certificate for 127.0.0.1 signed by it (openssl), in `dir`; and a second CA that
/// signed nothing.
fn certificates(dir: &Path) {
    use crate::common::openssl;
    openssl::ca(dir, "ca");
    openssl::ca(dir, "other-ca");
    openssl::issue(
        dir,
        "ca",
        "server",
        &["rsa:2048"],
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_events_arrive_and_an_untrusted_receiver_gets_nothing() {
    let Some(bin) = require_env(Part::Tools, "PITCREW_TEST_RSYSLOGD") else {
        return;
    };
    let t = TestDb::sqlite().await;
    t.db().migrate().await.expect("migrate");
    let store = AuditStore::new(t.db().clone());
    store.append_many(events(1, 50)).await.expect("append");
    let mut rsyslog = Rsyslog {
        bin,
        dir: tempfile::tempdir().expect("tempdir"),
        port: free_port(),
        child: None,
        tls: true,
    };
    certificates(rsyslog.dir.path());
    rsyslog.start();
    let stream_with = |ca: &str| {
        let cfg = pitcrew::config::SyslogConfig {
            address: format!("127.0.0.1:{}", rsyslog.port),
            app_name: "pitcrew".into(),
            hostname: None,
            facility: 13,
            tls: true,
            ca_file: Some(rsyslog.dir.path().join(ca)),
        };
        spawn_stream(t.db(), pitcrew::siem::SyslogSink::new(cfg))
    };
    // A receiver whose certificate does not chain to the configured CA: nothing is sent.
    let (metrics, stop, task) = stream_with("other-ca.pem");
    until("the backlog of 50", || {
        backlog(&metrics) == "pitcrew_siem_backlog{destination=\"syslog\"} 50"
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        rsyslog.received().1,
        0,
        "nothing reaches an untrusted receiver"
    );
    let _ = stop.send(());
    let _ = task.await;
    // Its own CA: every event arrives, over TLS.
    let (metrics, stop, task) = stream_with("ca.pem");
    until("all 50 events over TLS", || {
        rsyslog.received().0.len() == 50
    })
    .await;
    until("the drained backlog", || {
        backlog(&metrics) == "pitcrew_siem_backlog{destination=\"syslog\"} 0"
    })
    .await;
    let _ = stop.send(());
    let _ = task.await;
    let ids: Vec<i64> = rsyslog.received().0.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (1..=50).collect::<Vec<_>>());
    t.cleanup().await;
}
