//! Reloading the policy: whole policies swapped in, broken ones refused, SIGHUP.

use super::*;

fn write_policy(dir: &Path, text: &str) {
    // Written to a temporary name and renamed, as editors and ConfigMap updates do.
    let tmp = dir.join(".policy.csv.tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, dir.join("policy.csv")).expect("rename");
}

fn handle_in(dir: &Path, text: &str) -> PolicyHandle {
    std::fs::copy(shipped().0, dir.join("model.conf")).expect("model");
    write_policy(dir, text);
    PolicyHandle::load(dir.join("model.conf"), dir.join("policy.csv")).expect("loads")
}

fn allowed(handle: &PolicyHandle, sub: &str, act: &str) -> bool {
    let r = request(sub, INCIDENT, act, "prod", "shop", "deployment/checkout");
    handle.current().enforcer.decide(&r).allowed
}

#[test]
fn a_broken_policy_never_replaces_a_working_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let handle = handle_in(
        dir.path(),
        "p, U01ALICE, prod, *, *, *, restart, *, allow\n",
    );
    assert!(allowed(&handle, "U01ALICE", "restart"));

    write_policy(
        dir.path(),
        "p, U01ALICE, prod, *, *, *, restart, *, allow\np, U01BOB, prod, *, *, *, restart, *, allow\n",
    );
    assert!(matches!(
        handle.reload(false),
        Ok(pitcrew::policy::reload::Reloaded::Replaced { rules: 2 })
    ));
    assert!(allowed(&handle, "U01BOB", "restart"));
    assert!(matches!(
        handle.reload(false),
        Ok(pitcrew::policy::reload::Reloaded::Unchanged)
    ));

    // A broken edit (a typo'd action in line 2, a cut-off line 3): the old policy stays.
    write_policy(
        dir.path(),
        "p, U01ALICE, prod, *, *, *, restart, *, allow\np, U01CAROL, prod, *, *, *, restrat, *, allow\np, U01BOB, prod\n",
    );
    let err = handle.reload(false).expect_err("refused");
    let message = err.to_string();
    assert!(
        message.contains("policy.csv:2: error: unknown action `restrat`"),
        "{message}"
    );
    assert!(
        message.contains("policy.csv:3: error: `p` takes 8 values"),
        "{message}"
    );
    assert!(
        allowed(&handle, "U01BOB", "restart"),
        "the previous policy is still in force"
    );
    let status = handle.status();
    assert_eq!((status.rules, status.reloads, status.failures), (2, 1, 1));
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("policy.csv:2")
    );

    // A missing file is refused the same way.
    std::fs::remove_file(dir.path().join("policy.csv")).expect("rm");
    assert!(handle.reload(true).is_err());
    assert!(allowed(&handle, "U01ALICE", "restart"));

    // Fixed: it loads, and the error is cleared.
    write_policy(
        dir.path(),
        "p, U01CAROL, prod, *, *, *, restart, *, allow\n",
    );
    assert!(handle.reload(false).is_ok());
    assert!(allowed(&handle, "U01CAROL", "restart"));
    assert!(!allowed(&handle, "U01ALICE", "restart"));
    assert_eq!(handle.status().last_error, None);
}

/// Two policies that differ in every line: a decision that saw part of one and part of the
/// other would grant one action and not the other.
fn big_policy(user: &str, lines: usize) -> String {
    let mut text = String::new();
    for i in 0..lines {
        text.push_str(&format!(
            "p, role:r{i}, prod, *, *, deployment/w{i}, status, *, allow\n"
        ));
    }
    text.push_str(&format!("p, {user}, prod, *, *, *, restart, *, allow\n"));
    text.insert_str(
        0,
        &format!("p, {user}, prod, *, *, *, rollback, *, allow\n"),
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_swaps_whole_policies_while_decisions_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let handle = Arc::new(handle_in(dir.path(), &big_policy("U01ALICE", 5_000)));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = handle.clone().watch(Duration::from_millis(50), async move {
        let _ = stop_rx.await;
    });
    let deciding = {
        let handle = handle.clone();
        tokio::task::spawn_blocking(move || {
            let mut seen = std::collections::BTreeSet::new();
            let deadline = std::time::Instant::now() + Duration::from_secs(4);
            while std::time::Instant::now() < deadline {
                let policy = handle.current();
                let decide = |sub: &str, act: &str| {
                    let r = request(sub, INCIDENT, act, "prod", "shop", "deployment/checkout");
                    policy.enforcer.decide(&r).allowed
                };
                let alice = (
                    decide("U01ALICE", "rollback"),
                    decide("U01ALICE", "restart"),
                );
                let bob = (decide("U01BOB", "rollback"), decide("U01BOB", "restart"));
                // Exactly one of the two complete policies, never a mix.
                assert!(
                    (alice == (true, true) && bob == (false, false))
                        || (alice == (false, false) && bob == (true, true)),
                    "alice {alice:?}, bob {bob:?}"
                );
                seen.insert(alice.0);
            }
            seen
        })
    };
    for i in 0..6 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let user = if i % 2 == 0 { "U01BOB" } else { "U01ALICE" };
        write_policy(dir.path(), &big_policy(user, 5_000));
    }
    let seen = deciding.await.expect("decisions never panicked");
    assert_eq!(
        seen.len(),
        2,
        "decisions saw both policies: the watcher reloaded"
    );
    assert!(handle.status().reloads >= 2, "{:?}", handle.status());
    let _ = stop_tx.send(());
    watcher.await.expect("watcher stops");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Any policy text either loads or is refused with findings; any request on a policy that
    /// loaded gets a decision. Nothing panics (casbin-rs's keyMatch panics on some of these).
    #[test]
    fn no_policy_text_or_request_panics(
        lines in proptest::collection::vec("[pg2]{1,2}(, ?[a-zé*/:_ -]{0,6}){0,9}", 0..12),
        values in proptest::collection::vec("[a-zé*/:_ -]{0,6}", 7),
    ) {
        let text = lines.join("\n");
        let (source, _) = Source::parse(&text);
        if let Ok(enforcer) = pitcrew::policy::Enforcer::build(&source) {
            let r = Request {
                sub: values[0].clone(), env: values[1].clone(), cluster: values[2].clone(),
                ns: values[3].clone(), obj: values[4].clone(), act: values[5].clone(),
                chan: values[6].clone(),
            };
            let _ = enforcer.decide(&r);
        }
        let _ = pitcrew::policy::lint(&text, None);
    }
}

/// `pitcrew policy watch` runs the server's reload loop: with an hour between polls, only
/// SIGHUP can make it reload, so this shows SIGHUP works, and that a broken file is refused
/// with its line while the old policy stays.
#[test]
fn sighup_reloads_the_policy_and_a_broken_one_is_refused() {
    use std::io::{BufRead, BufReader};
    let ws = Workspace::new();
    let config = ws.path("config/pitcrew.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PAGERDUTY_TOKEN", "pd-token")
        .env("JIRA_EMAIL", "robot@example.com")
        .env("JIRA_API_TOKEN", "jira-token")
        .args(["policy", "watch", "--interval", "1h", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start policy watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = |what: &str| {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no line while waiting for {what}"));
        assert!(line.contains(what), "expected {what:?}, got {line:?}");
        line
    };
    next("loaded 24 rules");
    next("watching");
    let hup = || {
        let status = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .expect("kill -HUP");
        assert!(status.success());
    };
    let policy = ws.path("policies/policy.csv");
    let mut text = std::fs::read_to_string(&policy).expect("read");
    text.push_str("p, U09NEW, staging, *, *, *, status, *, allow\n");
    std::fs::write(&policy, &text).expect("write");
    hup();
    next("reloaded: 25 rules");
    std::fs::write(&policy, "p, U01ALICE, prod, *, *, *, restrat, *, allow\n").expect("write");
    hup();
    next("refused, the previous policy stays in force");
    next("policy.csv:1: error: unknown action `restrat`");
    let _ = child.kill();
    let _ = child.wait();
}
