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
    read_all(&["src", "crates"])
}

/// Every `.rs` file under `dirs` (relative to the repository), with its path and text.
fn read_all(dirs: &[&str]) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(&root.join(dir), &mut files);
    }
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
    let long: Vec<String> = read_all(&["src", "crates", "tests", "benches", "fuzz/fuzz_targets"])
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

/// The layer order ARCHITECTURE.md declares, in its fenced ```layers block: one line per
/// layer, lowest first. A module may use modules of lower layers only.
fn declared_layers() -> Vec<Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let block = doc
        .split("```layers\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md declares the layer order in a ```layers block");
    block
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The top-level modules of `crate::` a file names (`use crate::a::b`, `use crate::{a, b::c}`,
/// `crate::a::f()`), comments aside.
fn crate_modules(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines().map(str::trim_start) {
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let preceded_by_ident = rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            if !preceded_by_ident {
                if let Some(group) = after.strip_prefix('{') {
                    // A group: its top-level names (a group spanning lines is read to its line end).
                    let mut depth = 0;
                    let mut name = String::new();
                    for c in group.chars() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => break,
                            '}' => depth -= 1,
                            ',' if depth == 0 => {
                                found.push(std::mem::take(&mut name));
                                continue;
                            }
                            _ => {}
                        }
                        if depth == 0 {
                            name.push(c);
                        }
                    }
                    found.push(name);
                } else {
                    found.push(after.to_string());
                }
            }
            rest = after;
        }
    }
    found
        .into_iter()
        .map(|n| {
            n.trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

#[test]
fn modules_use_only_lower_layers() {
    let layers = declared_layers();
    let layer_of = |module: &str| layers.iter().position(|l| l.iter().any(|m| m == module));
    let mut wrong = Vec::new();
    let mut unplaced = std::collections::BTreeSet::new();
    for (path, text) in sources() {
        let Some(rel) = path.strip_prefix("src/") else {
            continue;
        };
        if rel == "lib.rs" || rel == "main.rs" {
            continue;
        }
        let module = rel.split('/').next().unwrap_or(rel).trim_end_matches(".rs");
        let Some(own) = layer_of(module) else {
            unplaced.insert(module.to_string());
            continue;
        };
        for used in crate_modules(&text) {
            if used == module {
                continue;
            }
            match layer_of(&used) {
                Some(layer) if layer < own => {}
                Some(_) => wrong.push(format!(
                    "{path}: `{module}` uses `crate::{used}`, which is not in a lower layer"
                )),
                // The crate root's own items (Error, Result, http_client_builder, …) and the
                // re-exported small crates (`command`, `names`) are below every layer.
                None => {}
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "place these modules in ARCHITECTURE.md's layers block: {unplaced:?}"
    );
    assert!(
        wrong.is_empty(),
        "imports against the layer order (ARCHITECTURE.md, \"Layers\"): move the shared piece down, or put it behind a trait the lower layer owns:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_layer_check_reads_imports_as_written() {
    assert_eq!(crate_modules("use crate::chat::web::SlackWeb;"), ["chat"]);
    assert_eq!(
        crate_modules("use crate::{audit, cluster::Change, workflow::{a, b}};"),
        ["audit", "cluster", "workflow"]
    );
    assert_eq!(
        crate_modules("    let x = crate::db::stored_time(t);"),
        ["db"]
    );
    assert!(crate_modules("// crate::chat in a comment").is_empty());
    assert!(crate_modules("use pitcrew_crate::x;").is_empty());
    assert!(declared_layers().len() >= 5);
}

/// README's command list is what `help` prints: a new command shows up in both or the test
/// says which line is missing.
#[test]
fn the_readme_lists_the_commands_as_help_prints_them() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let help = pitcrew::command::Help { topic: None }.text();
    for line in help.lines() {
        assert!(
            readme.lines().any(|l| l == line),
            "README.md lacks this line of `help`'s output (update its command list):\n{line}"
        );
    }
}
