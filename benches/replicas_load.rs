//! The whole path under load: two `pitcrew serve` replicas on one PostgreSQL, signed slash
//! commands (`restart app-N -e staging --reason Q1OPEN`) sent at a steady rate (open loop:
//! each at its scheduled time, whatever the previous ones are doing), alternating between the
//! replicas. Each command is verified, de-duplicated, parsed, authorized, justified live
//! against a PagerDuty stand-in, locked, audited and patched, then followed while a live
//! Slack message (a Web API stand-in) is updated.
//!
//! Measured: from sending the signed request to the patch being seen by a watch on the
//! Deployments. Baseline, in the same run and at the same rate: a direct PATCH of a twin
//! Deployment by this program's own kube client, seen by the same watch — so the watch's
//! delivery delay is in both, and the gap between them is pitcrew's own cost. Also each
//! replica's memory (VmRSS now, VmHWM peak) idle and after each stage.
//!
//! Needs the test cluster (`KUBECONFIG`) and PostgreSQL (`DATABASE_URL`):
//! `scripts/bench.sh replicas_load`. Stages: `PITCREW_BENCH_RATES` (default "2,10" commands/s),
//! `PITCREW_BENCH_SECONDS` (default 30) each; one Deployment per command, so none waits for
//! a workload lock.

#[allow(dead_code)]
#[path = "../tests/common/fakes.rs"]
mod fakes;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, Namespace, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "bench-signing-secret";
const TEAM: &str = "T0PITCREW";

fn deployment(name: &str) -> Deployment {
    let labels = std::collections::BTreeMap::from([("app".to_string(), name.to_string())]);
    Deployment {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            // No pods: the test cluster's controllers (client-side rate-limited to about 20
            // requests/s) could not keep pods rolling at 10 restarts/s, and a restart of a
            // workload still rolling out is refused by its lock, by design. What is measured
            // is the path to the patch, which pods do not change.
            replicas: Some(0),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "app".into(),
                        image: Some(format!("registry.invalid/{name}:1")),
                        ..Container::default()
                    }],
                    termination_grace_period_seconds: Some(0),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

/// When the watch first saw each (Deployment, generation).
type Seen = Arc<Mutex<HashMap<(String, i64), Instant>>>;

fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_replica(config: &std::path::Path, db_url: &str) -> Replica {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_BOT_TOKEN", "xoxb-bench")
        .env("PAGERDUTY_TOKEN", fakes::PD_TOKEN)
        .env("DATABASE_URL", db_url)
        .env("PITCREW_LOG", "warn")
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pitcrew serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let base = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("pitcrew serve did not start: {first:?}"))
        .to_string();
    Replica { child, base }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let (Ok(kubeconfig), Ok(admin_url)) =
        (std::env::var("KUBECONFIG"), std::env::var("DATABASE_URL"))
    else {
        eprintln!(
            "replicas_load needs KUBECONFIG and DATABASE_URL: run scripts/bench.sh replicas_load"
        );
        std::process::exit(2);
    };
    pitcrew::install_crypto_provider();
    let rates: Vec<f64> = std::env::var("PITCREW_BENCH_RATES")
        .unwrap_or_else(|_| "2,10".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let seconds: f64 = std::env::var("PITCREW_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30.0);
    let client = Client::try_default().await.expect("kube client");
    // One Deployment per command (and a twin for the baseline): none is restarted twice.
    let pool: usize = rates.iter().map(|r| (r * seconds).round() as usize).sum();

    // The workloads: `pool` for pitcrew, `pool` twins for the direct baseline.
    let ns_name = format!("bench-load-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(ns_name.clone()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await
        .expect("create namespace");
    let api: Api<Deployment> = Api::namespaced(client.clone(), &ns_name);
    for i in 0..pool {
        for prefix in ["app", "direct"] {
            api.create(
                &PostParams::default(),
                &deployment(&format!("{prefix}-{i}")),
            )
            .await
            .expect("create deployment");
        }
    }
    let setup = Instant::now();
    loop {
        let list = api.list(&Default::default()).await.expect("list");
        let ready = list
            .items
            .iter()
            .filter(|d| {
                d.status.as_ref().and_then(|s| s.observed_generation) == d.metadata.generation
            })
            .count();
        if ready == 2 * pool {
            break;
        }
        assert!(
            setup.elapsed() < Duration::from_secs(300),
            "{ready} of {} ready",
            2 * pool
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // First sight of each new generation.
    let seen: Seen = Arc::default();
    {
        let (seen, api) = (seen.clone(), api.clone());
        tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default()).boxed();
            while let Some(Ok(event)) = events.next().await {
                let now = Instant::now();
                let objects: Vec<Deployment> = match event {
                    watcher::Event::Apply(d) | watcher::Event::InitApply(d) => vec![d],
                    _ => continue,
                };
                let mut seen = seen.lock().expect("seen");
                for d in objects {
                    if let (Some(name), Some(g)) = (d.metadata.name, d.metadata.generation) {
                        seen.entry((name, g)).or_insert(now);
                    }
                }
            }
        });
    }

    // Local stand-ins: PagerDuty (the official example incident), Slack's Web API and the
    // response_url hooks.
    let pagerduty = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "P1", None)]).await;
    let slack = MockServer::start().await;
    let message = serde_json::json!({"ok": true, "channel": "C01INCIDENT", "ts": "1700000000.000900",
        "message": {"type": "message", "text": "x", "ts": "1700000000.000900", "user": "U0BOT"}});
    for p in ["/api/chat.postMessage", "/api/chat.update"] {
        Mock::given(method("POST"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_json(message.clone()))
            .mount(&slack)
            .await;
    }
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": true})))
        .mount(&slack)
        .await;

    // A fresh database on the PostgreSQL server, and the configuration.
    let db_name = format!("bench_load_{}", std::process::id());
    {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}")))
            .execute(&mut admin)
            .await
            .expect("create database");
    }
    let db_url = match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{db_name}"),
        None => panic!("DATABASE_URL has no database name: {admin_url}"),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/model.conf"),
        dir.path().join("model.conf"),
    )
    .expect("model");
    std::fs::write(
        dir.path().join("policy.csv"),
        "p, U01DEV, staging, *, *, *, *, *, allow\n",
    )
    .expect("policy");
    let config = dir.path().join("pitcrew.toml");
    std::fs::write(
        &config,
        format!(
            "[slack]\napi_base_url = \"{slack}/api/\"\nallowed_teams = [\"{TEAM}\"]\n[pagerduty]\napi_base_url = \"{pd}\"\nfrom_email = \"bot@example.com\"\n[rollout]\ntimeout = \"60s\"\nupdate_interval = \"1s\"\n[policy]\nmodel = \"model.conf\"\npolicy = \"policy.csv\"\n[clusters.main]\nkubeconfig = \"{kubeconfig}\"\n[environments.staging]\ncluster = \"main\"\nnamespaces = [\"{ns_name}\"]\n",
            slack = slack.uri(),
            pd = pagerduty.uri(),
        ),
    )
    .expect("config");
    let replicas = [
        start_replica(&config, &db_url),
        start_replica(&config, &db_url),
    ];
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle: Vec<(u64, u64)> = replicas.iter().map(|r| memory_kib(r.child.id())).collect();

    let http = pitcrew::http_client_builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http");
    let mut generation: HashMap<String, i64> = HashMap::new();
    for d in api.list(&Default::default()).await.expect("list").items {
        if let (Some(n), Some(g)) = (d.metadata.name, d.metadata.generation) {
            generation.insert(n, g);
        }
    }
    println!(
        "\nwhole path under load: 2 replicas on PostgreSQL, {pool} Deployments (one per command, no pods) and {pool} twins"
    );
    println!(
        "{:>6} {:>8} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | {:>7} | replica memory MiB (RSS / peak)",
        "rate/s",
        "commands",
        "p50 ms",
        "p99 ms",
        "max ms",
        "direct50",
        "direct99",
        "directmx",
        "missed"
    );
    println!(
        "{:>6} {:>8} | {:>29} | {:>29} | {:>7} | idle: {}",
        "-",
        "-",
        "",
        "",
        "",
        idle.iter()
            .map(|(rss, hwm)| format!("{:.0} / {:.0}", *rss as f64 / 1024.0, *hwm as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut k_total = 0usize;
    for rate in rates {
        let n = (rate * seconds).round() as usize;
        let every = Duration::from_secs_f64(1.0 / rate);
        let start = tokio::time::Instant::now() + Duration::from_millis(200);
        let mut sends = Vec::new();
        for j in 0..n {
            let k = k_total + j;
            let i = k;
            let (app, direct) = (format!("app-{i}"), format!("direct-{i}"));
            // Each restart is the next generation of its Deployment.
            let mut next = |name: &str| {
                let g = generation.entry(name.to_string()).or_insert(1);
                *g += 1;
                *g
            };
            let (want_app, want_direct) = (next(&app), next(&direct));
            let at = start + every * j as u32;
            let base = replicas[k % 2].base.clone();
            let (http, api, hook) = (
                http.clone(),
                api.clone(),
                format!("{}/hooks/{k}/", slack.uri()),
            );
            sends.push(tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let body = serde_urlencoded::to_string([
                    ("team_id", TEAM),
                    ("channel_id", "C01INCIDENT"),
                    ("user_id", "U01DEV"),
                    ("command", "/pitcrew"),
                    ("text", &format!("restart {app} -e staging --reason Q1OPEN")),
                    ("response_url", &hook),
                    ("trigger_id", &format!("bench.{k}")),
                ])
                .expect("form");
                let ts = chrono::Utc::now().timestamp();
                let signature = pitcrew::chat::verify::sign(SECRET, ts, &body);
                let sent = Instant::now();
                let acked = http
                    .post(format!("{base}/slack/commands"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-slack-request-timestamp", ts.to_string())
                    .header("x-slack-signature", signature)
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                // The baseline right after, at the same rate: what a bare PATCH costs now.
                let direct_sent = Instant::now();
                let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
                    "kubectl.kubernetes.io/restartedAt": chrono::Utc::now().to_rfc3339()}}}}});
                let patched = api
                    .patch(&direct, &PatchParams::default(), &Patch::Strategic(&patch))
                    .await
                    .is_ok();
                (
                    (app, want_app, sent, acked),
                    (direct, want_direct, direct_sent, patched),
                )
            }));
        }
        let mut outcomes = Vec::new();
        for s in sends {
            outcomes.push(s.await.expect("send"));
        }
        // Time for the last patches to land and be seen.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let seen_now = seen.lock().expect("seen").clone();
        let (mut pitcrew, mut direct, mut missed) = (Vec::new(), Vec::new(), 0);
        for ((app, g, sent, acked), (twin, dg, dsent, patched)) in outcomes {
            match seen_now.get(&(app, g)) {
                Some(at) if acked => pitcrew.push(at.saturating_duration_since(sent)),
                _ => missed += 1,
            }
            if let (Some(at), true) = (seen_now.get(&(twin, dg)), patched) {
                direct.push(at.saturating_duration_since(dsent));
            }
        }
        pitcrew.sort();
        direct.sort();
        let mem: Vec<(u64, u64)> = replicas.iter().map(|r| memory_kib(r.child.id())).collect();
        println!(
            "{:>6} {:>8} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | {:>7} | {}",
            rate,
            n,
            ms(percentile(&pitcrew, 0.5)),
            ms(percentile(&pitcrew, 0.99)),
            ms(pitcrew.last().copied().unwrap_or_default()),
            ms(percentile(&direct, 0.5)),
            ms(percentile(&direct, 0.99)),
            ms(direct.last().copied().unwrap_or_default()),
            missed,
            mem.iter()
                .map(|(rss, hwm)| format!(
                    "{:.0} / {:.0}",
                    *rss as f64 / 1024.0,
                    *hwm as f64 / 1024.0
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        k_total += n;
        // Let the rollouts of this stage finish before the next one reuses the workloads.
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    drop(replicas);
    let _ = namespaces.delete(&ns_name, &DeleteParams::default()).await;
    {
        use sqlx::Connection;
        if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {db_name}"
            )))
            .execute(&mut admin)
            .await;
        }
    }
}
