//! The `[clusters]` and `[environments]` sections: each cluster's kubeconfig found, each
//! environment's cluster, namespaces, channels and PagerDuty services valid and resolved.

use super::*;

pub(super) fn clusters(
    loc: &Locator<'_>,
    base: &Path,
    file: &FileConfig,
    problems: &mut Vec<Problem>,
) -> BTreeMap<ClusterName, ClusterConnection> {
    let mut out = BTreeMap::new();
    for (raw_name, c) in &file.clusters {
        let key = ["clusters", raw_name.as_str()];
        let Some(cluster_name) = name(loc, &key, raw_name, ClusterName::parse, problems) else {
            continue;
        };
        let connection = match (&c.kubeconfig, c.in_cluster) {
            (Some(_), true) => {
                problems.push(loc.problem(
                    &key,
                    "set either `kubeconfig` or `in_cluster = true`, not both",
                ));
                continue;
            }
            (None, false) => {
                problems.push(loc.problem(
                    &key,
                    "say how to reach this cluster: `kubeconfig = \"path\"` (with an optional `context`) or `in_cluster = true`",
                ));
                continue;
            }
            (None, true) => {
                if c.context.is_some() {
                    problems.push(loc.problem(
                        &["clusters", raw_name, "context"],
                        "`context` only applies with `kubeconfig`",
                    ));
                }
                ClusterConnection::InCluster
            }
            (Some(path), false) => ClusterConnection::Kubeconfig {
                path: existing_file(
                    loc,
                    base,
                    &["clusters", raw_name, "kubeconfig"],
                    path,
                    problems,
                ),
                context: c.context.clone(),
            },
        };
        out.insert(cluster_name, connection);
    }
    out
}

pub(super) fn environments(
    loc: &Locator<'_>,
    file: &FileConfig,
    clusters: &BTreeMap<ClusterName, ClusterConnection>,
    can_justify: bool,
    problems: &mut Vec<Problem>,
) -> BTreeMap<EnvName, Environment> {
    if file.environments.is_empty() {
        problems.push(loc.problem(
            &["environments"],
            "no environment is defined; add at least one [environments.NAME] with its `cluster` and `namespaces`",
        ));
    }
    let mut out = BTreeMap::new();
    for (raw_name, e) in &file.environments {
        let key = |k: &'static str| ["environments", raw_name.as_str(), k];
        let env_name = name(
            loc,
            &["environments", raw_name],
            raw_name,
            EnvName::parse,
            problems,
        );
        let cluster = if e.cluster.is_empty() {
            problems.push(loc.problem(
                &["environments", raw_name],
                "`cluster` is required: the name of a [clusters.NAME] section",
            ));
            None
        } else {
            match ClusterName::parse(&e.cluster) {
                Ok(c) if clusters.contains_key(&c) => Some(c),
                _ => {
                    let known: Vec<&str> = file.clusters.keys().map(String::as_str).collect();
                    let hint = suggestion_suffix(&e.cluster, known.iter().copied());
                    let hint = if hint.is_empty() {
                        format!(
                            "; defined clusters: {}",
                            if known.is_empty() {
                                "none".into()
                            } else {
                                known.join(", ")
                            }
                        )
                    } else {
                        hint
                    };
                    problems.push(loc.problem(
                        &key("cluster"),
                        format!("unknown cluster `{}`{hint}", e.cluster),
                    ));
                    None
                }
            }
        };
        if e.namespaces.is_empty() {
            problems.push(loc.problem(
                &["environments", raw_name],
                "`namespaces` is required: the namespaces pitcrew may act on in this environment",
            ));
        }
        let mut seen = BTreeSet::new();
        let namespaces: Vec<NamespaceName> = e
            .namespaces
            .iter()
            .filter_map(|n| {
                if !seen.insert(n.as_str()) {
                    problems
                        .push(loc.problem(&key("namespaces"), format!("`{n}` is listed twice")));
                    return None;
                }
                name(loc, &key("namespaces"), n, NamespaceName::parse, problems)
            })
            .collect();
        let channels: Vec<SlackChannelId> = e
            .channels
            .iter()
            .filter_map(|c| name(loc, &key("channels"), c, SlackChannelId::parse, problems))
            .collect();
        for s in &e.pagerduty_services {
            let valid =
                !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_alphanumeric());
            if !valid {
                problems.push(loc.problem(
                    &key("pagerduty_services"),
                    format!(
                        "`{s}` is not a PagerDuty service id (letters and digits, like PSVC123)"
                    ),
                ));
            }
        }
        if e.approvals > 0 && !e.protected {
            problems.push(loc.problem(
                &key("approvals"),
                "approvals only apply to protected environments; set `protected = true` or remove `approvals`",
            ));
        }
        if e.approvals > 5 {
            problems.push(loc.problem(&key("approvals"), "at most 5 approvals can be required"));
        }
        if e.protected && !can_justify {
            problems.push(loc.problem(
                &key("protected"),
                "a protected environment needs a verified reason, but neither [pagerduty] nor [jira] is configured",
            ));
        }
        let timezone = super::freezes::timezone(loc, raw_name, e.timezone.as_deref(), problems);
        let freezes = super::freezes::freezes(loc, raw_name, &e.freezes, problems);
        let approvers = super::approvers::approvers(loc, raw_name, e, file, problems);
        let gitops = gitops(loc, raw_name, &e.gitops, problems);
        if let (Some(env_name), Some(cluster)) = (env_name, cluster) {
            out.insert(
                env_name,
                Environment {
                    cluster,
                    namespaces,
                    protected: e.protected,
                    approvals: e.approvals,
                    channels,
                    allow_gitops: e.allow_gitops,
                    pagerduty_services: e.pagerduty_services.clone(),
                    impersonate: e.impersonate,
                    impersonate_groups: e.impersonate_groups.clone(),
                    timezone,
                    freezes,
                    approvers,
                    gitops,
                },
            );
        }
    }
    out
}

/// `[environments.ENV.gitops]`: namespace names, and a ceiling within the language's week.
fn gitops(
    loc: &Locator<'_>,
    env: &str,
    g: &crate::config::file::GitopsSection,
    problems: &mut Vec<Problem>,
) -> crate::config::GitopsSettings {
    let key = |k: &'static str| ["environments", env, "gitops", k];
    let namespace = |k: &'static str, value: &str, problems: &mut Vec<Problem>| {
        name(loc, &key(k), value, NamespaceName::parse, problems).unwrap_or_else(|| {
            NamespaceName::parse("invalid").unwrap_or_else(|_| unreachable!("constant namespace"))
        })
    };
    let argocd_namespace = namespace("argocd_namespace", &g.argocd_namespace, problems);
    let flux_namespace = namespace("flux_namespace", &g.flux_namespace, problems);
    let longest = crate::command::GITOPS_LONGEST;
    if g.max_suspend < std::time::Duration::from_secs(60) || g.max_suspend > longest {
        problems.push(loc.problem(
            &key("max_suspend"),
            "between a minute and a week (\"4h\", \"1d\"): pitcrew resumes every suspension by then",
        ));
    }
    crate::config::GitopsSettings {
        argocd_namespace,
        flux_namespace,
        max_suspend: g.max_suspend,
    }
}
