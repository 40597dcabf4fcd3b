//! Acknowledgement benchmark: signed slash commands sent to `pitcrew serve` and to a minimal
//! slack-bolt (Python) app side by side, in the same run, on the same machine.
//!
//! - pitcrew runs its real path: body limit, v0 signature, team allow-list, de-duplication
//!   recorded in its SQLite database (`synchronous = FULL`), parsing, and the command's work
//!   in the background (here `help`, answered at a local `response_url` stand-in).
//! - slack-bolt (`benches/slack_bolt/app.py`) verifies the same signature and acks: once on
//!   bolt's built-in server (`App.start`, what a minimal bolt app runs), once through bolt's
//!   WSGI adapter under gunicorn (2 workers × 8 threads), the way bolt is served in production.
//!   The throughput ratio is taken against the faster of the two.
//!
//! Two phases per server:
//! - fixed rate: `RATE` requests/s for `SECS` s, open loop. Each request has a scheduled send
//!   time and its latency is measured from that time, so a stalled server cannot hide its
//!   queue (no coordinated omission). Requests still unanswered when `MAX_IN_FLIGHT` are
//!   outstanding count as late.
//! - saturation: `CONCURRENCY` clients sending back to back for `SAT_SECS` s.
//!
//! Memory: the peak resident set (`VmHWM`) of each server process at the end.
//!
//! Run with `scripts/bench.sh slack_ack`, or directly:
//! `PITCREW_BENCH_PYTHON=…/venv/bin/python cargo bench --bench slack_ack`
//! (knobs: `PITCREW_BENCH_RATE`, `PITCREW_BENCH_SECS`, `PITCREW_BENCH_SAT_SECS`,
//! `PITCREW_BENCH_CONCURRENCY`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SECRET: &str = "bench-signing-secret";
const TEAM: &str = "T0BENCH";
const MAX_IN_FLIGHT: usize = 2048;
/// A request not answered by then counts as failed (a server that drops connections must not
/// hang the benchmark).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Server {
    name: &'static str,
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak resident set (`VmHWM`) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A process and all its descendants (gunicorn's workers are children of its master).
fn process_tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let p = all[i];
        let tasks = std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten();
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
        i += 1;
    }
    all
}

impl Server {
    /// Peak resident set of the server's processes added up, in MiB (from /proc; Linux only).
    fn peak_rss_mib(&self) -> Option<f64> {
        let kib: f64 = process_tree(self.child.id())
            .into_iter()
            .filter_map(peak_rss_kib)
            .sum();
        (kib > 0.0).then_some(kib / 1024.0)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_for_port(name: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{name} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the child's "listening on URL" line.
fn listening(name: &'static str, mut child: Child, path: &str) -> Server {
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let base = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{name} did not start: {first:?}"))
        .to_string();
    // Keep reading so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        name,
        child,
        url: format!("{base}{path}"),
    }
}

/// `pitcrew serve` (SQLite in `dir`, or PostgreSQL at `database_url`).
fn start_pitcrew(dir: &Path, sink: &str, database_url: Option<&str>, name: &'static str) -> Server {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("policies/model.conf"), dir.join("model.conf")).expect("model");
    std::fs::write(
        dir.join("policy.csv"),
        "p, U01BENCH, staging, *, *, *, *, *, allow\n",
    )
    .expect("policy");
    // Never contacted: `help` needs no cluster.
    std::fs::write(
        dir.join("kubeconfig"),
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:9\"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n",
    )
    .expect("kubeconfig");
    let config = dir.join("pitcrew.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nsqlite_path = \"pitcrew.db\"\n[slack]\napi_base_url = \"{sink}/api/\"\nallowed_teams = [\"{TEAM}\"]\n[policy]\nmodel = \"model.conf\"\npolicy = \"policy.csv\"\n[clusters.main]\nkubeconfig = \"kubeconfig\"\n[environments.staging]\ncluster = \"main\"\nnamespaces = [\"shop\"]\n"
        ),
    )
    .expect("config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_pitcrew"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("PITCREW_LOG", "error");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    // PITCREW_BENCH_SHOW_LOG=1 shows the server's errors (they are hidden from the table).
    let stderr = if knob("PITCREW_BENCH_SHOW_LOG", 0) == 1 {
        Stdio::inherit()
    } else {
        Stdio::null()
    };
    let child = command
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start pitcrew serve");
    listening(name, child, "/slack/commands")
}

fn start_bolt(python: &str) -> Server {
    let port = free_port();
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/slack_bolt/app.py");
    let child = Command::new(python)
        .arg(app)
        .arg(port.to_string())
        .arg(SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the slack-bolt app");
    let server = listening("slack-bolt, built-in server", child, "/slack/commands");
    // Bolt prints before it binds: wait for the port.
    wait_for_port(server.name, port);
    server
}

/// The same bolt app through its WSGI adapter under gunicorn: one worker per core, threads
/// so that a slow client does not hold a worker.
fn start_bolt_gunicorn(python: &str) -> Server {
    let port = free_port();
    let gunicorn = Path::new(python).with_file_name("gunicorn");
    let child = Command::new(gunicorn)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .args([
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "8",
        ])
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--log-level",
            "warning",
        ])
        .arg("--chdir")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/slack_bolt"))
        .arg("app:application")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gunicorn (is it in the benchmark's venv?)");
    let name = "slack-bolt, gunicorn 2×8";
    wait_for_port(name, port);
    Server {
        name,
        child,
        url: format!("http://127.0.0.1:{port}/slack/commands"),
    }
}

/// bolt's AsyncApp with `process_before_response=True` through its Starlette adapter under
/// uvicorn, one worker per core: slack-bolt's fastest served form.
fn start_bolt_async(python: &str) -> Server {
    let port = free_port();
    let uvicorn = Path::new(python).with_file_name("uvicorn");
    let child = Command::new(uvicorn)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .args([
            "--workers",
            "2",
            "--log-level",
            "warning",
            "--no-access-log",
        ])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--app-dir")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/slack_bolt"))
        .arg("async_app:api")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start uvicorn (is it in the benchmark's venv?)");
    let name = "slack-bolt AsyncApp, uvicorn 2 workers";
    wait_for_port(name, port);
    Server {
        name,
        child,
        url: format!("http://127.0.0.1:{port}/slack/commands"),
    }
}

/// A `response_url` stand-in that accepts pitcrew's replies and counts them.
async fn start_sink(count: Arc<AtomicU64>) -> String {
    let app = axum::Router::new().fallback(move || {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::Relaxed);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sink");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A signed slash command, as Slack sends it; each with its own trigger id (made of the run's
/// label, kept to the characters a Slack trigger id holds, and `n`).
fn signed(sink: &str, n: u64, run: &str) -> (String, String, String) {
    let run: String = run
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let body = serde_urlencoded::to_string([
        ("token", "deprecated"),
        ("team_id", TEAM),
        ("team_domain", "bench"),
        ("channel_id", "C01BENCH"),
        ("channel_name", "bench"),
        ("user_id", "U01BENCH"),
        ("user_name", "bench"),
        ("command", "/pitcrew"),
        ("text", "help"),
        ("api_app_id", "A0BENCH"),
        ("response_url", &format!("{sink}/commands/{TEAM}/{n}/bench")),
        ("trigger_id", &format!("{run}.{n}")),
    ])
    .expect("form");
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = pitcrew::chat::verify::sign(SECRET, ts.parse().unwrap_or_default(), &body);
    (body, ts, sig)
}

async fn send(
    http: &reqwest::Client,
    url: &str,
    (body, ts, sig): (String, String, String),
) -> bool {
    http.post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

struct FixedRate {
    sent: u64,
    ok: u64,
    late: u64,
    /// Latency from the scheduled send time, in microseconds, sorted.
    latencies: Vec<u64>,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

async fn fixed_rate(url: &str, sink: &str, rate: u64, secs: u64, run: &str) -> FixedRate {
    let http = pitcrew::http_client_builder()
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client");
    let total = rate * secs;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<u64>>();
    let start = tokio::time::Instant::now();
    let mut late = 0;
    for n in 0..total {
        let at = start + Duration::from_nanos(n * 1_000_000_000 / rate);
        tokio::time::sleep_until(at).await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            late += 1;
            continue;
        };
        let (http, url, tx, request) = (
            http.clone(),
            url.to_string(),
            tx.clone(),
            signed(sink, n, run),
        );
        tokio::spawn(async move {
            let ok = send(&http, &url, request).await;
            let took = tokio::time::Instant::now().duration_since(at);
            let _ = tx.send(ok.then_some(took.as_micros() as u64));
            drop(permit);
        });
    }
    drop(tx);
    let mut latencies = Vec::with_capacity(total as usize);
    while let Some(r) = rx.recv().await {
        // A failed or timed-out request has no latency; it shows as acked < sent.
        if let Some(us) = r {
            latencies.push(us);
        }
    }
    latencies.sort_unstable();
    FixedRate {
        sent: total,
        ok: latencies.len() as u64,
        late,
        latencies,
    }
}

/// Acknowledged requests per second with `clients` sending back to back.
async fn saturation(url: &str, sink: &str, clients: u64, secs: u64, run: &str) -> (f64, u64) {
    let http = pitcrew::http_client_builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client");
    let counter = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, url, sink, run) = (
            http.clone(),
            url.to_string(),
            sink.to_string(),
            run.to_string(),
        );
        let (counter, failed) = (counter.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = c * 100_000_000;
            while Instant::now() < deadline {
                n += 1;
                if send(&http, &url, signed(&sink, n, &run)).await {
                    counter.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    (
        counter.load(Ordering::Relaxed) as f64 / secs,
        failed.load(Ordering::Relaxed),
    )
}

struct Row {
    name: &'static str,
    fixed: FixedRate,
    saturated: f64,
    saturated_failed: u64,
    rss: Option<f64>,
}

async fn measure(server: &Server, sink: &str, rate: u64, secs: u64, sat: u64, conc: u64) -> Row {
    let mut row = measure_url(server.name, &server.url, sink, rate, secs, sat, conc).await;
    row.rss = server.peak_rss_mib();
    row
}

async fn measure_url(
    name: &'static str,
    url: &str,
    sink: &str,
    rate: u64,
    secs: u64,
    sat: u64,
    conc: u64,
) -> Row {
    // Warm up connections and caches.
    let _ = fixed_rate(url, sink, 200, 1, &format!("{name}-warm")).await;
    let fixed = fixed_rate(url, sink, rate, secs, &format!("{name}-fixed")).await;
    let (saturated, saturated_failed) =
        saturation(url, sink, conc, sat, &format!("{name}-sat")).await;
    Row {
        name,
        fixed,
        saturated,
        saturated_failed,
        rss: None,
    }
}

fn main() {
    pitcrew::install_crypto_provider();
    let Some(python) = std::env::var("PITCREW_BENCH_PYTHON")
        .ok()
        .or_else(|| std::env::var("PITCREW_TEST_PYTHON").ok())
    else {
        eprintln!(
            "slack_ack needs PITCREW_BENCH_PYTHON: a Python with slack-bolt (scripts/bench.sh slack_ack installs one)"
        );
        std::process::exit(2);
    };
    let rate = knob("PITCREW_BENCH_RATE", 1000);
    let secs = knob("PITCREW_BENCH_SECS", 60);
    let sat = knob("PITCREW_BENCH_SAT_SECS", 15);
    let conc = knob("PITCREW_BENCH_CONCURRENCY", 32);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let replies = Arc::new(AtomicU64::new(0));
        let sink = start_sink(replies.clone()).await;
        let dir = tempfile::tempdir().expect("tempdir");
        // The ceiling of this measurement on this machine: the load generator against a
        // server in its own process that answers 200 and does nothing (no signature check).
        let ceiling = measure_url(
            "ceiling: no-op server in the load generator",
            &format!("{sink}/noop"),
            &sink,
            rate,
            secs.min(10),
            sat,
            conc,
        )
        .await;
        replies.store(0, Ordering::Relaxed);
        let mut rows = Vec::new();
        // bolt's development server takes minutes to get through the fixed-rate phase it
        // cannot sustain; PITCREW_BENCH_BOLT_BUILTIN=0 leaves it out.
        if knob("PITCREW_BENCH_BOLT_BUILTIN", 1) == 1 {
            let bolt = start_bolt(&python);
            rows.push(measure(&bolt, &sink, rate, secs, sat, conc).await);
        }
        {
            let bolt = start_bolt_gunicorn(&python);
            rows.push(measure(&bolt, &sink, rate, secs, sat, conc).await);
        }
        {
            let bolt = start_bolt_async(&python);
            rows.push(measure(&bolt, &sink, rate, secs, sat, conc).await);
        }
        let bolts = rows.len();
        let postgres = std::env::var("DATABASE_URL").ok();
        let pitcrews = [
            (None, "pitcrew (SQLite)"),
            (postgres.as_deref(), "pitcrew (PostgreSQL)"),
        ];
        for (i, (url, name)) in pitcrews.into_iter().enumerate() {
            if i == 1 && url.is_none() {
                println!("no DATABASE_URL: pitcrew on PostgreSQL not measured");
                continue;
            }
            let sub = dir.path().join(format!("pitcrew-{i}"));
            std::fs::create_dir_all(&sub).expect("dir");
            replies.store(0, Ordering::Relaxed);
            let pitcrew = start_pitcrew(&sub, &sink, url, name);
            rows.push(measure(&pitcrew, &sink, rate, secs, sat, conc).await);
            // Give the background work a moment to answer, to report how much of it did.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let done = replies.load(Ordering::Relaxed);
            println!("{name} answered {done} commands at the response_url stand-in");
            if let Some(r) = rows.last_mut() {
                r.rss = pitcrew.peak_rss_mib();
            }
        }
        println!(
            "\nsigned slash commands, {rate}/s for {secs} s (open loop), then {conc} clients for {sat} s"
        );
        println!(
            "| server | acked at {rate}/s | late | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | saturation acks/s | peak RSS MiB |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for r in std::iter::once(&ceiling).chain(&rows) {
            let l = &r.fixed.latencies;
            println!(
                "| {} | {}/{} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0}{} | {} |",
                r.name,
                r.fixed.ok,
                r.fixed.sent,
                r.fixed.late,
                percentile(l, 0.50),
                percentile(l, 0.90),
                percentile(l, 0.99),
                percentile(l, 0.999),
                l.last().map_or(f64::NAN, |m| *m as f64 / 1000.0),
                r.saturated,
                if r.saturated_failed > 0 {
                    format!(" ({} failed)", r.saturated_failed)
                } else {
                    String::new()
                },
                r.rss.map_or("?".into(), |m| format!("{m:.1}")),
            );
        }
        let (bolt_rows, pitcrew_rows) = rows.split_at(bolts);
        let best = bolt_rows
            .iter()
            .max_by(|a, b| a.saturated.total_cmp(&b.saturated));
        if let Some(best) = best {
            for p in pitcrew_rows {
                println!(
                    "throughput ratio at saturation: {} / {} (the fastest slack-bolt) = {:.1}x; the load generator's ceiling is {:.0} acks/s",
                    p.name,
                    best.name,
                    p.saturated / best.saturated,
                    ceiling.saturated
                );
            }
        }
    });
}
