//! Policy decision latency with 100, 1,000 and 10,000 policy lines, for distinct requests
//! (nothing cached), against a plain casbin-rs `Enforcer` on the same model and policy in the
//! same run (the baseline: it evaluates the matcher against every line). Then decisions while
//! a 10,000-line policy is reloaded over and over: the reload must not stall them.
//!
//!     cargo bench --bench policy

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use casbin::CoreApi;
use pitcrew::policy::{PolicyHandle, Request};

/// A deterministic generator (xorshift64*), so every run measures the same policies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ENVS: &[&str] = &["prod", "staging", "dev", "prod-eu", "qa"];
const ACTIONS: &[&str] = &[
    "restart", "rollback", "promote", "status", "history", "approve",
];

/// A company-shaped policy of `lines` rules: one role per team (10 rules each), users holding
/// one or two team roles, a few denies, channel groups.
fn policy(lines: usize) -> (String, usize, usize) {
    let mut rng = Rng(0x5EED ^ lines as u64);
    let teams = (lines / 10).max(1);
    let users = teams * 3;
    let mut text = String::new();
    for i in 0..lines {
        let team = i % teams;
        let eft = if i % 37 == 0 { "deny" } else { "allow" };
        text.push_str(&format!(
            "p, role:team{team}, {}, *, ns{team}*, deployment/svc{}*, {}, {}, {eft}\n",
            ENVS[rng.below(ENVS.len())],
            rng.below(50),
            ACTIONS[rng.below(ACTIONS.len())],
            if i % 3 == 0 { "chans:incident" } else { "*" },
        ));
    }
    for u in 0..users {
        // Each user's first team is u % teams, so requests can aim at their own namespaces.
        text.push_str(&format!("g, U{u:08}, role:team{}\n", u % teams));
        if u % 4 == 0 {
            text.push_str(&format!("g, U{u:08}, role:team{}\n", rng.below(teams)));
        }
    }
    text.push_str("g2, C01INCIDENT, chans:incident\n");
    (text, teams, users)
}

fn requests(n: usize, teams: usize, users: usize, seed: u64) -> Vec<Request> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let user = rng.below(users);
            // Mostly the user's own team's namespaces, sometimes someone else's.
            let team = if i % 5 == 0 {
                rng.below(teams)
            } else {
                user % teams
            };
            Request {
                sub: format!("U{user:08}"),
                env: ENVS[rng.below(ENVS.len())].into(),
                cluster: "main".into(),
                ns: format!("ns{team}"),
                // Distinct workloads: no two requests are the same.
                obj: format!("deployment/svc{}-{i}", rng.below(50)),
                act: ACTIONS[rng.below(ACTIONS.len())].into(),
                chan: if i % 2 == 0 {
                    "C01INCIDENT"
                } else {
                    "C09OTHER"
                }
                .into(),
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    pitcrew::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/model.conf");
    std::fs::copy(&model, dir.path().join("model.conf")).expect("model");
    println!(
        "| policy lines | pitcrew p50 | pitcrew p99 | casbin-rs p50 | casbin-rs p99 | p99 ratio | allowed |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for lines in [100, 1_000, 10_000] {
        let (text, teams, users) = policy(lines);
        let path = dir.path().join(format!("policy-{lines}.csv"));
        std::fs::write(&path, &text).expect("write");
        let handle =
            PolicyHandle::load(dir.path().join("model.conf"), path.clone()).expect("loads");
        let casbin = rt.block_on(async {
            let m = casbin::DefaultModel::from_file(&model)
                .await
                .expect("model");
            casbin::Enforcer::new(m, casbin::FileAdapter::new(path.clone()))
                .await
                .expect("casbin-rs")
        });
        let reqs = requests(20_000, teams, users, lines as u64);
        let mut ours = Vec::with_capacity(reqs.len());
        let mut allowed = 0usize;
        for r in &reqs {
            let t = Instant::now();
            let policy = handle.current();
            let v = policy.enforcer.decide(r);
            ours.push(t.elapsed());
            allowed += usize::from(v.allowed);
        }
        // casbin-rs is slow at 10,000 lines: fewer samples there, same requests.
        let baseline_n = if lines >= 10_000 { 300 } else { 3_000 };
        let mut theirs = Vec::with_capacity(baseline_n);
        for (i, r) in reqs.iter().take(baseline_n).enumerate() {
            let values: Vec<String> = r.values().iter().map(|v| v.to_string()).collect();
            let t = Instant::now();
            let v = casbin.enforce(values).expect("casbin-rs decides");
            theirs.push(t.elapsed());
            let mine = handle.current().enforcer.decide(r).allowed;
            assert_eq!(v, mine, "request {i}: casbin-rs and pitcrew disagree");
        }
        ours.sort();
        theirs.sort();
        println!(
            "| {lines} | {} | {} | {} | {} | {:.0}× | {:.0}% |",
            micros(percentile(&ours, 0.5)),
            micros(percentile(&ours, 0.99)),
            micros(percentile(&theirs, 0.5)),
            micros(percentile(&theirs, 0.99)),
            percentile(&theirs, 0.99).as_secs_f64() / percentile(&ours, 0.99).as_secs_f64(),
            allowed as f64 * 100.0 / reqs.len() as f64,
        );
    }

    // Decisions on one thread while another reloads a 10,000-line policy as fast as it can.
    let (text_a, teams, users) = policy(10_000);
    let text_b = text_a.replacen("allow\n", "deny\n", 1);
    let path = dir.path().join("reloaded.csv");
    std::fs::write(&path, &text_a).expect("write");
    let handle =
        Arc::new(PolicyHandle::load(dir.path().join("model.conf"), path.clone()).expect("loads"));
    let reqs = requests(200_000, teams, users, 99);
    let measure = |handle: &PolicyHandle| {
        let mut times = Vec::with_capacity(reqs.len());
        for r in &reqs {
            let t = Instant::now();
            let _ = handle.current().enforcer.decide(r);
            times.push(t.elapsed());
        }
        times.sort();
        times
    };
    let quiet = measure(&handle);
    let stop = Arc::new(AtomicBool::new(false));
    let reloader = {
        let (handle, stop, path) = (handle.clone(), stop.clone(), path.clone());
        std::thread::spawn(move || {
            let (mut n, mut total) = (0u32, Duration::ZERO);
            while !stop.load(Ordering::Relaxed) {
                std::fs::write(&path, if n % 2 == 0 { &text_b } else { &text_a }).expect("write");
                let t = Instant::now();
                handle.reload(false).expect("reload");
                total += t.elapsed();
                n += 1;
            }
            (n, total)
        })
    };
    let busy = measure(&handle);
    stop.store(true, Ordering::Relaxed);
    let (reloads, reload_time) = reloader.join().expect("reloader");
    println!();
    println!("| 10,000 lines, 200,000 decisions | p50 | p99 | p99.9 | max |");
    println!("|---|---:|---:|---:|---:|");
    for (label, t) in [("no reload", &quiet), ("reloading continuously", &busy)] {
        println!(
            "| {label} | {} | {} | {} | {} |",
            micros(percentile(t, 0.5)),
            micros(percentile(t, 0.99)),
            micros(percentile(t, 0.999)),
            micros(*t.last().unwrap_or(&Duration::ZERO)),
        );
    }
    println!(
        "\n{reloads} reloads of 10,000 lines during the busy run, {:.1} ms each on average",
        reload_time.as_secs_f64() * 1e3 / f64::from(reloads.max(1))
    );
}
