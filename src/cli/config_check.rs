//! `pitcrew config check`: every problem of a configuration, each on its own line.

use super::*;

/// `pitcrew config check`: every problem on its own line on stdout, then a count.
pub(super) fn config_check(path: &Path, without_slack: bool) -> ExitCode {
    let mut problems = Vec::new();
    let config = match Config::load(path, &config::process_env) {
        Ok(c) => Some(c),
        Err(errors) => {
            problems = errors.0;
            None
        }
    };
    if let (Some(c), false) = (&config, without_slack) {
        problems.extend(c.problems_for_serving());
    }
    if !problems.is_empty() {
        for p in &problems {
            println!("{p}");
        }
        let n = problems.len();
        println!(
            "{n} problem{} found; nothing was changed.",
            if n == 1 { "" } else { "s" }
        );
        return ExitCode::from(2);
    }
    let Some(c) = config else {
        return ExitCode::from(2);
    };
    tracing::debug!(config = ?c, "configuration checked");
    println!("{}: OK", path.display());
    println!("  database: {}", describe_database(&c.database));
    println!(
        "  policy: {} + {}",
        c.policy.model.display(),
        c.policy.policy.display()
    );
    for (name, conn) in &c.clusters {
        let how = match conn {
            config::ClusterConnection::Kubeconfig { path, context } => format!(
                "kubeconfig {}{}",
                path.display(),
                context
                    .as_ref()
                    .map(|c| format!(" (context {c})"))
                    .unwrap_or_default()
            ),
            config::ClusterConnection::InCluster => "in-cluster service account".into(),
        };
        println!("  cluster {name}: {how}");
    }
    for (name, env) in &c.environments {
        let ns: Vec<&str> = env.namespaces.iter().map(|n| n.as_str()).collect();
        println!(
            "  environment {name}: cluster {}, namespaces {}{}{}",
            env.cluster,
            ns.join(", "),
            if env.protected { ", protected" } else { "" },
            match env.approvals {
                0 => String::new(),
                1 => ", 1 approval".into(),
                n => format!(", {n} approvals"),
            }
        );
    }
    ExitCode::SUCCESS
}

pub(super) fn describe_database(db: &DatabaseConfig) -> String {
    match db {
        DatabaseConfig::Sqlite { path } => format!("SQLite file {}", path.display()),
        DatabaseConfig::Postgres { .. } => "PostgreSQL from DATABASE_URL".into(),
    }
}
