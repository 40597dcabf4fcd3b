//! pitcrew's enforcer against the reference Casbin implementations: pycasbin (Casbin's Python
//! implementation, from PyPI) and casbin-rs, on the shipped model, over generated policies
//! (roles with inheritance, channel groups, patterns, deny rules) and thousands of generated
//! requests. All three must decide every request identically.

use std::path::Path;
use std::process::Command;

use casbin::{CoreApi, Enforcer as Casbin};
use pitcrew::policy::{Policy, Request};

use crate::common::{Part, require_env};

/// A small deterministic generator (xorshift64*), so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const USERS: &[&str] = &["U01A", "U01B", "U01C", "U01D", "U01E", "U01F", "W01G"];
const ROLES: &[&str] = &[
    "role:oncall",
    "role:dev",
    "role:lead",
    "role:rm",
    "role:audit",
];
const ENVS: &[&str] = &["prod", "staging", "dev", "prod-eu"];
const ENV_PATTERNS: &[&str] = &["prod", "staging", "dev", "*", "prod*", "st*"];
const CLUSTERS: &[&str] = &["main", "eu-1", "eu-2"];
const CLUSTER_PATTERNS: &[&str] = &["*", "*", "main", "eu-*"];
const NAMESPACES: &[&str] = &["shop", "payments", "shop-dev", ""];
const NS_PATTERNS: &[&str] = &["*", "*", "shop", "shop*", "payments"];
const OBJECTS: &[&str] = &[
    "deployment/checkout",
    "deployment/cart",
    "statefulset/ledger",
    "statefulset/ledger-0",
    "daemonset/agent",
];
const OBJ_PATTERNS: &[&str] = &[
    "*",
    "*",
    "deployment/*",
    "deployment/checkout",
    "statefulset/ledger*",
    "daemonset/*",
];
const ACTIONS: &[&str] = &[
    "restart",
    "rollback",
    "promote",
    "status",
    "history",
    "audit",
    "approve",
    "break-glass",
];
const CHANNELS: &[&str] = &["C01INC", "C01OPS", "C01REL", "C09RND", "G01PRIV", ""];
const CHANNEL_PATTERNS: &[&str] = &["*", "*", "C01INC", "chans:incident", "chans:release"];

fn policy_text(rng: &mut Rng, rules: usize) -> String {
    let mut text = String::from("# generated\n");
    for _ in 0..rules {
        let sub = if rng.chance(70) {
            rng.pick(ROLES)
        } else {
            rng.pick(USERS)
        };
        let act = if rng.chance(15) {
            "*"
        } else {
            rng.pick(ACTIONS)
        };
        let eft = if rng.chance(20) { "deny" } else { "allow" };
        text.push_str(&format!(
            "p, {sub}, {}, {}, {}, {}, {act}, {}, {eft}\n",
            rng.pick(ENV_PATTERNS),
            rng.pick(CLUSTER_PATTERNS),
            rng.pick(NS_PATTERNS),
            rng.pick(OBJ_PATTERNS),
            rng.pick(CHANNEL_PATTERNS),
        ));
    }
    // Users hold roles; roles inherit along ROLES' order only (no cycles).
    for user in USERS {
        for role in ROLES {
            if rng.chance(25) {
                text.push_str(&format!("g, {user}, {role}\n"));
            }
        }
    }
    for (i, role) in ROLES.iter().enumerate() {
        for parent in &ROLES[i + 1..] {
            if rng.chance(20) {
                text.push_str(&format!("g, {role}, {parent}\n"));
            }
        }
    }
    for chan in ["C01INC", "C01OPS", "G01PRIV"] {
        text.push_str(&format!("g2, {chan}, chans:incident\n"));
    }
    text.push_str("g2, C01REL, chans:release\n");
    text
}

fn requests(rng: &mut Rng, n: usize) -> Vec<Request> {
    (0..n)
        .map(|_| Request {
            // Now and then a role name or a stranger as the subject, as a hostile caller might.
            sub: if rng.chance(5) {
                rng.pick(ROLES)
            } else if rng.chance(5) {
                "U09NOBODY"
            } else {
                rng.pick(USERS)
            }
            .into(),
            env: rng.pick(ENVS).into(),
            cluster: rng.pick(CLUSTERS).into(),
            ns: rng.pick(NAMESPACES).into(),
            obj: rng.pick(OBJECTS).into(),
            act: rng.pick(ACTIONS).into(),
            chan: rng.pick(CHANNELS).into(),
        })
        .collect()
}

#[tokio::test]
async fn pitcrew_decides_exactly_as_pycasbin_and_casbin_rs() {
    let Some(python) = require_env(Part::Tools, "PITCREW_TEST_PYTHON") else {
        return;
    };
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/model.conf");
    let dir = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pycasbin_decide.py");
    let mut total = 0;
    let mut allowed_total = 0;
    // Several policies, from few rules (mostly "no rule matches") to many (deny interplay).
    for (seed, rules, n) in [
        (1u64, 20, 1_500),
        (2, 80, 1_500),
        (3, 250, 1_500),
        (4, 600, 1_500),
    ] {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
        let policy_path = dir.path().join(format!("policy-{seed}.csv"));
        std::fs::write(&policy_path, policy_text(&mut rng, rules)).expect("write policy");
        let requests = requests(&mut rng, n);
        let requests_path = dir.path().join(format!("requests-{seed}.tsv"));
        let lines: Vec<String> = requests.iter().map(|r| r.values().join("\t")).collect();
        std::fs::write(&requests_path, lines.join("\n") + "\n").expect("write requests");

        let out = Command::new(&python)
            .arg(&script)
            .arg(&model)
            .arg(&policy_path)
            .arg(&requests_path)
            .output()
            .expect("run pycasbin");
        assert!(
            out.status.success(),
            "pycasbin failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reference: Vec<bool> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l == "1")
            .collect();
        assert_eq!(
            reference.len(),
            requests.len(),
            "pycasbin answered every request"
        );

        let ours = Policy::load(&model, &policy_path).expect("generated policy loads");
        let casbin_model = casbin::DefaultModel::from_file(&model)
            .await
            .expect("casbin-rs reads the model");
        let casbin_rs = Casbin::new(casbin_model, casbin::FileAdapter::new(policy_path.clone()))
            .await
            .expect("casbin-rs loads the model and policy");

        for (i, r) in requests.iter().enumerate() {
            let mine = ours.enforcer.decide(r).allowed;
            let theirs_rs = casbin_rs
                .enforce(r.values().map(str::to_string).to_vec())
                .expect("casbin-rs decides");
            assert!(
                mine == reference[i] && mine == theirs_rs,
                "seed {seed}, request {i} {:?}: pitcrew {mine}, pycasbin {}, casbin-rs {theirs_rs}\npolicy: {}",
                r.values(),
                reference[i],
                policy_path.display()
            );
            allowed_total += usize::from(mine);
        }
        total += requests.len();
    }
    assert!(total >= 5_000);
    // The generated data exercises both answers substantially, or the test proves little.
    assert!(
        allowed_total > total / 10 && allowed_total < total * 9 / 10,
        "{allowed_total} of {total} allowed"
    );
}
