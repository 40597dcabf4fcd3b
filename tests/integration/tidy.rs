//! Tidy checks over pitcrew's own sources (in the spirit of rust-analyzer's): no source file
//! over 600 lines, Slack's client library only in `chat/` and the Slack wire crate, and the
//! Kubernetes crates only in `cluster/`. They keep ARCHITECTURE.md's invariants true as the
//! code grows; each failure names the file and what to do.

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file of the product: `src/` and the workspace's crates.
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("crates"), &mut files);
    files.sort();
    assert!(files.len() > 50, "found only {} source files", files.len());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read a source file");
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            (rel, text)
        })
        .collect()
}

/// Code lines that name `crate_name` (`use kube::…`, `kube::Api`), comments aside.
fn names_crate(text: &str, crate_name: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//"))
        .any(|l| {
            l.contains(&format!("{crate_name}::"))
                && !l.contains(&format!("_{crate_name}::"))
                && !l.contains(&format!("pitcrew_{crate_name}"))
        })
}

#[test]
fn no_source_file_is_over_600_lines() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.lines().count() > MAX_LINES)
        .map(|(path, text)| format!("{path}: {} lines", text.lines().count()))
        .collect();
    assert!(
        long.is_empty(),
        "split these by job (one module per job, see ARCHITECTURE.md): {long:?}"
    );
}

#[test]
fn outside_crates_stay_in_their_layer() {
    let rules: [(&str, &[&str]); 3] = [
        ("slack_morphism", &["src/chat/", "crates/slack-wire/"]),
        ("kube", &["src/cluster/"]),
        ("k8s_openapi", &["src/cluster/"]),
    ];
    let mut wrong = Vec::new();
    for (path, text) in sources() {
        for (krate, allowed) in rules {
            if names_crate(&text, krate) && !allowed.iter().any(|a| path.starts_with(a)) {
                wrong.push(format!("{path} uses {krate} (allowed only in {allowed:?})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_checks_see_what_they_look_for() {
    // The rules would pass vacuously if the matcher missed real uses.
    assert!(names_crate("use kube::Api;", "kube"));
    assert!(names_crate("    let c: kube::Client = x;", "kube"));
    assert!(!names_crate("// kube::Api in a comment", "kube"));
    assert!(!names_crate("use pitcrew_kube::x;", "kube"));
    let cluster_uses_kube = sources()
        .iter()
        .any(|(p, t)| p.starts_with("src/cluster/") && names_crate(t, "kube"));
    assert!(cluster_uses_kube);
}
