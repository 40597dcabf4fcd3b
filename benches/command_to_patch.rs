//! Command-to-patch latency: from the moment pitcrew receives command text to the moment the
//! API server has accepted the restart patch (the `Planned` event, reported right after the
//! PATCH returns), side by side in the same run with the wall time of
//! `kubectl rollout restart` on an identical twin Deployment, and of a whole `pitcrew exec`
//! process for completeness. Iterations alternate between the three so that noise on this
//! shared machine hits all of them alike.
//!
//! Run with `scripts/bench.sh` (starts the test cluster); the numbers go to BENCHMARKS.md.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pitcrew::config::Config;
use pitcrew::names::SlackUserId;
use pitcrew::workflow::{self, Event, Request};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn kubectl(kubectl: &str, args: &[&str]) {
    let out = Command::new(kubectl)
        .args(args)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `text` through the whole pipeline (following the rollout to the end) and returns the
/// time from receiving the text to the patch being accepted.
fn time_to_patch(
    rt: &tokio::runtime::Runtime,
    ctx: &workflow::Context,
    actor: &SlackUserId,
    text: &str,
) -> Duration {
    let patched_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let seen = patched_at.clone();
    let report = move |e: Event| {
        if matches!(e, Event::Planned { .. })
            && let Ok(mut s) = seen.lock()
        {
            s.get_or_insert_with(Instant::now);
        }
    };
    // From the text: parsing (at the edge, as every transport does) is part of the time.
    let start = Instant::now();
    let command = pitcrew::command::parse(text).expect("a valid command");
    let request = Request {
        confirmed: true,
        ..Request::new(actor.clone(), command)
    };
    let outcome = rt.block_on(workflow::run(ctx, &request, &report));
    assert_eq!(outcome.exit_code(), 0, "{outcome:?}");
    let patched = patched_at
        .lock()
        .ok()
        .and_then(|g| *g)
        .expect("a patch happened");
    patched - start
}

/// Sleeps into the next second of the wall clock.
fn next_second() {
    let into = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0);
    std::thread::sleep(Duration::from_millis(u64::from(1_020 - into)));
}

fn main() {
    let Ok(kubeconfig) = std::env::var("KUBECONFIG") else {
        eprintln!("command_to_patch needs the test cluster: run scripts/bench.sh");
        std::process::exit(2);
    };
    let kubectl_bin = std::env::var("PITCREW_TEST_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let iterations: usize = std::env::var("PITCREW_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    pitcrew::install_crypto_provider();

    let ns = format!("bench-{}", std::process::id());
    kubectl(&kubectl_bin, &["create", "namespace", &ns]);
    for name in ["ours", "twin", "stock"] {
        kubectl(
            &kubectl_bin,
            &[
                "-n",
                &ns,
                "create",
                "deployment",
                name,
                "--image=registry.invalid/bench:1",
                "--replicas=2",
            ],
        );
        kubectl(
            &kubectl_bin,
            &[
                "-n",
                &ns,
                "rollout",
                "status",
                &format!("deployment/{name}"),
                "--timeout=60s",
            ],
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // The real model and a small policy: the decision is part of the measured path.
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/model.conf"),
        dir.path().join("model.conf"),
    )
    .expect("model");
    std::fs::write(
        dir.path().join("policy.csv"),
        "p, role:bench, bench, *, *, *, *, *, allow\ng, U0BENCH01, role:bench\n",
    )
    .expect("policy");
    let config_path = dir.path().join("pitcrew.toml");
    let text = format!(
        "[policy]\nmodel = \"model.conf\"\npolicy = \"policy.csv\"\n[clusters.bench]\nkubeconfig = \"{kubeconfig}\"\n[environments.bench]\ncluster = \"bench\"\nnamespaces = [\"{ns}\"]\n"
    );
    std::fs::write(&config_path, &text).expect("write config");

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let config = Config::load(&config_path, &|_| None).expect("config");
    let ctx = rt
        .block_on(workflow::Context::new(config))
        .expect("context");
    let actor = SlackUserId::parse("U0BENCH01").expect("id");

    // Baseline for the TCP_NODELAY finding: kube's stock client, same restart.
    let kube_config = rt
        .block_on(kube::Config::from_kubeconfig(
            &kube::config::KubeConfigOptions::default(),
        ))
        .expect("kube config");
    let _runtime = rt.enter(); // the client spawns its buffer task on this runtime
    let stock = kube::Client::try_from(kube_config).expect("stock client");
    let stock_config = Config::load(&config_path, &|_| None).expect("config");
    let cluster_name = pitcrew::names::ClusterName::parse("bench").expect("name");
    // Its own SQLite audit trail, like the main context's (each writes durable events).
    let stock_db = rt
        .block_on(pitcrew::db::Database::open_sqlite(
            &dir.path().join("stock.db"),
        ))
        .expect("stock database");
    rt.block_on(stock_db.migrate()).expect("migrate");
    let stock_ctx = workflow::Context::with_parts(
        stock_config,
        Arc::new(pitcrew::cluster::Clusters::from_clients(
            [(cluster_name, stock)].into_iter().collect(),
        )),
        Box::new(pitcrew::audit::AuditStore::new(stock_db)),
    )
    .expect("stock context");

    let (mut ours, mut theirs, mut whole, mut stock_times) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..=iterations {
        // kubectl (and, like it, pitcrew) refuses a second restart of one workload within the
        // same second (`restartedAt` has second precision): each restart of a workload starts
        // in a new second.
        next_second();
        // pitcrew in-process: text in → patch accepted.
        let ours_time = time_to_patch(&rt, &ctx, &actor, "restart ours -e bench");

        // kubectl, the same restart on the twin, as a process.
        let k_start = Instant::now();
        kubectl(
            &kubectl_bin,
            &["-n", &ns, "rollout", "restart", "deployment/twin"],
        );
        let k = k_start.elapsed();
        kubectl(
            &kubectl_bin,
            &[
                "-n",
                &ns,
                "rollout",
                "status",
                "deployment/twin",
                "--timeout=60s",
            ],
        );

        // The same pipeline over kube's stock client (no TCP_NODELAY), on its own Deployment.
        let s = time_to_patch(&rt, &stock_ctx, &actor, "restart stock -e bench");

        // A whole `pitcrew exec` process (start, config, connect, act, follow to completion).
        next_second();
        let e_start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
            .args([
                "exec",
                "--config",
                config_path.to_str().expect("utf-8"),
                "--as",
                "U0BENCH01",
                "--",
                "restart ours -e bench",
            ])
            .env("PITCREW_LOG", "warn")
            .output()
            .expect("pitcrew exec");
        let e = e_start.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );

        if i > 0 {
            // Iteration 0 warms connections and caches for all three; it is not counted.
            ours.push(ours_time);
            theirs.push(k);
            whole.push(e);
            stock_times.push(s);
        }
    }
    kubectl(&kubectl_bin, &["delete", "namespace", &ns, "--wait=false"]);
    for v in [&mut ours, &mut theirs, &mut whole, &mut stock_times] {
        v.sort();
    }
    println!("command-to-patch, {iterations} iterations each, interleaved (ms):");
    println!("{:<58} {:>7} {:>7} {:>7}", "", "p50", "p90", "max");
    for (label, v) in [
        ("pitcrew: text received → restart patch accepted", &ours),
        ("kubectl rollout restart (process wall time)", &theirs),
        (
            "pitcrew exec (process wall time, incl. following rollout)",
            &whole,
        ),
        (
            "same pipeline over kube's stock client (no TCP_NODELAY)",
            &stock_times,
        ),
    ] {
        println!(
            "{label:<58} {:>7} {:>7} {:>7}",
            ms(percentile(v, 0.5)),
            ms(percentile(v, 0.9)),
            ms(percentile(v, 1.0))
        );
    }
    let ratio = percentile(&theirs, 0.5).as_secs_f64() / percentile(&ours, 0.5).as_secs_f64();
    println!("p50 ratio kubectl / pitcrew command-to-patch: {ratio:.1}x");
}
