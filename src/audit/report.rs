//! The change report compliance asks for (SOC 2 CC8.1, ISO 27001 A.8.32, PCI DSS 10): for a
//! period, one row per command that changed something — who asked, the justification as
//! verified then, who confirmed and approved (an approval by the requester flagged), what
//! changed, how it ended, break-glass with its after-the-fact review — then the refused
//! attempts and the break-glass commands still unreviewed. Built from the trail's events
//! alone (a pure function, so the CLI and the chat summary share it); `report_html.rs` renders
//! it as one self-contained page.

use serde::Serialize;
use serde_json::Value;

use super::Record;
use super::render::csv_cell;

/// One command that changed something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeRow {
    pub correlation: String,
    /// When it was asked for (its `requested` event).
    pub at: String,
    pub requester: String,
    pub command: String,
    pub action: String,
    pub env: String,
    pub target: String,
    pub namespace: String,
    /// The justification as verified at the time (the incident or issue and its state), or
    /// the break-glass text.
    pub justification: String,
    /// `verified`, `unverified` or `break-glass`.
    pub justification_result: String,
    /// Who confirmed it (the requester, in a protected environment), when it was confirmed.
    pub confirmed_by: Option<String>,
    pub approvers: Vec<String>,
    /// An approver who is the requester: there should never be one.
    pub approved_by_requester: bool,
    /// What changed, before → after.
    pub changed: String,
    /// How it ended: `succeeded`, `failed` or `interrupted`.
    pub outcome: String,
    /// The outcome's words (the rollout's result).
    pub result: String,
    pub break_glass: bool,
    /// `reviewed by U at T: note`, for a break-glass command reviewed after the fact.
    pub review: Option<String>,
}

/// One command refused before it changed anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedRow {
    pub correlation: String,
    pub at: String,
    pub requester: String,
    pub command: String,
    pub env: String,
    pub target: String,
    pub why: String,
}

/// A revision of a workload that no pitcrew command made (`pitcrew audit drift`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftRow {
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub revision: i64,
    pub created: Option<String>,
    /// Why the trail does not account for it.
    pub why: String,
    pub images: Vec<String>,
    /// The field managers that wrote the workload around then.
    pub writers: Vec<String>,
}

impl DriftRow {
    /// One line for people.
    pub fn line(&self) -> String {
        format!(
            "{}/{} in {} revision {} at {}: {}; images {}; written by {}",
            self.kind.to_lowercase(),
            self.name,
            self.namespace,
            self.revision,
            self.created.as_deref().unwrap_or("?"),
            self.why,
            self.images.join(", "),
            if self.writers.is_empty() {
                "(not recorded)".to_string()
            } else {
                self.writers.join(", ")
            }
        )
    }
}

/// What the chain's verification said when the report was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainCheck {
    pub intact: bool,
    pub events: u64,
    /// The hash of the trail's last event (the chain head).
    pub head: String,
    pub first_problem: Option<String>,
    /// What the RFC 3161 anchors say (`None`: not asked).
    pub anchors: Option<super::anchors::AnchorReport>,
}

impl ChainCheck {
    /// The chain verifies and every anchor holds.
    pub fn holds(&self) -> bool {
        self.intact && self.anchors.as_ref().is_none_or(|a| a.problems.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub env: Option<String>,
    pub generated_at: String,
    pub changes: Vec<ChangeRow>,
    pub refused: Vec<RefusedRow>,
    /// Break-glass changes of the period nobody has reviewed yet.
    pub unreviewed: Vec<ChangeRow>,
    /// The last event of the period: its id and hash.
    pub period_head: Option<(i64, String)>,
    /// Filled in by the CLI, which verifies the whole chain.
    pub chain: Option<ChainCheck>,
    /// Revisions no pitcrew command made, when a cluster was asked (`None`: not checked, and
    /// `drift_note` says why).
    pub drift: Option<Vec<DriftRow>>,
    pub drift_note: Option<String>,
}

fn detail(r: &Record) -> Value {
    serde_json::from_str(&r.detail).unwrap_or(Value::Null)
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Builds the report from every event of the period (in id order).
pub fn build(
    records: &[Record],
    from: &str,
    to: &str,
    env: Option<&str>,
    generated_at: &str,
) -> Report {
    let mut order: Vec<&str> = Vec::new();
    let mut stories: std::collections::HashMap<&str, Vec<&Record>> = Default::default();
    for r in records {
        let story = stories.entry(r.correlation.as_str()).or_default();
        if story.is_empty() {
            order.push(r.correlation.as_str());
        }
        story.push(r);
    }
    let mut changes = Vec::new();
    let mut refused = Vec::new();
    for correlation in order {
        let story = &stories[correlation];
        let Some(requested) = story.iter().find(|r| r.phase == "requested") else {
            continue;
        };
        if let Some(denied) = story.iter().find(|r| r.phase == "denied") {
            refused.push(RefusedRow {
                correlation: correlation.to_string(),
                at: requested.at.clone(),
                requester: requested.actor_id.clone(),
                command: requested.command_text.clone(),
                env: requested.env.clone().unwrap_or_default(),
                target: requested.target(),
                why: text(detail(denied).pointer("/outcome/message")),
            });
            continue;
        }
        if let Some(row) = change_row(correlation, requested, story) {
            changes.push(row);
        }
    }
    let unreviewed = changes
        .iter()
        .filter(|c| c.break_glass && c.review.is_none())
        .cloned()
        .collect();
    Report {
        from: from.to_string(),
        to: to.to_string(),
        env: env.map(str::to_string),
        generated_at: generated_at.to_string(),
        changes,
        refused,
        unreviewed,
        period_head: records.last().map(|r| (r.id, r.hash.clone())),
        chain: None,
        drift: None,
        drift_note: None,
    }
}

/// A command that got as far as `started` (not a dry run) and ended changing something.
fn change_row(correlation: &str, requested: &Record, story: &[&Record]) -> Option<ChangeRow> {
    let started = story.iter().find(|r| r.phase == "started")?;
    let started_detail = detail(started);
    if started_detail.get("dry_run") == Some(&Value::Bool(true)) {
        return None;
    }
    let end = story
        .iter()
        .rev()
        .find(|r| matches!(r.phase.as_str(), "succeeded" | "failed" | "interrupted"))?;
    let end_detail = detail(end);
    let approved = story
        .iter()
        .find(|r| r.phase == "approved")
        .map(|r| detail(r))
        .unwrap_or(Value::Null);
    let justification = approved
        .get("justification")
        .cloned()
        .unwrap_or(Value::Null);
    let result = text(justification.get("result"));
    let words = match result.as_str() {
        "verified" => text(justification.get("summary")),
        "unverified" => text(justification.get("reason")),
        "break-glass" => text(justification.get("text")),
        _ => String::new(),
    };
    let requester = requested.actor_id.clone();
    let approvers: Vec<String> = story
        .iter()
        .filter(|r| r.phase == "approval")
        .map(|r| r.actor_id.clone())
        .collect();
    let confirmed = started_detail.get("confirmed") == Some(&Value::Bool(true))
        || story.iter().any(|r| r.phase == "pending");
    let review = story.iter().find(|r| r.phase == "reviewed").map(|r| {
        let note = text(detail(r).get("note"));
        format!("reviewed by {} at {}: {note}", r.actor_id, r.at)
    });
    Some(ChangeRow {
        correlation: correlation.to_string(),
        at: requested.at.clone(),
        approved_by_requester: approvers.contains(&requester),
        confirmed_by: confirmed.then(|| requester.clone()),
        requester,
        command: requested.command_text.clone(),
        action: requested.action.clone().unwrap_or_default(),
        env: requested.env.clone().unwrap_or_default(),
        target: requested.target(),
        namespace: requested.namespace.clone().unwrap_or_default(),
        justification: words,
        break_glass: result == "break-glass",
        justification_result: result,
        approvers,
        changed: changed(&end_detail),
        outcome: end.phase.clone(),
        result: text(end_detail.pointer("/outcome/message")),
        review,
    })
}

/// The changes an outcome event's detail records: its `change`, or each of its `changes`.
pub fn recorded_changes(detail: &Value) -> Vec<Value> {
    match (detail.get("change"), detail.get("changes")) {
        (Some(one), _) => vec![one.clone()],
        (None, Some(Value::Array(many))) => many.clone(),
        _ => Vec::new(),
    }
}

/// `kind/name in ns: revision a → b; container: image → image` for each change recorded.
fn changed(end: &Value) -> String {
    recorded_changes(end)
        .iter()
        .map(|c| {
            let mut parts = vec![format!(
                "{}/{} in {}",
                text(c.get("kind")).to_lowercase(),
                text(c.get("name")),
                text(c.get("namespace"))
            )];
            let (before, after) = (c.get("before"), c.get("after"));
            let revision =
                |s: Option<&Value>| s.and_then(|s| s.get("revision")).and_then(Value::as_i64);
            if let (Some(a), Some(b)) = (revision(before), revision(after))
                && a != b
            {
                parts.push(format!("revision {a} → {b}"));
            }
            let images = |s: Option<&Value>| -> Vec<(String, String)> {
                s.and_then(|s| s.get("images"))
                    .and_then(|i| serde_json::from_value(i.clone()).ok())
                    .unwrap_or_default()
            };
            let was = images(before);
            for (container, image) in images(after) {
                let old = was
                    .iter()
                    .find(|(c, _)| *c == container)
                    .map(|(_, i)| i.as_str());
                if old != Some(image.as_str()) {
                    parts.push(format!("{container}: {} → {image}", old.unwrap_or("(new)")));
                }
            }
            match c.get("operation") {
                Some(Value::String(op)) => parts.insert(0, op.clone()),
                Some(Value::Object(op)) => {
                    if let Some((name, v)) = op.iter().next() {
                        parts.insert(0, format!("{name} {v}"));
                    }
                }
                _ => {}
            }
            parts.join("; ")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

impl Report {
    /// The counts a chat answer gives.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.changes.len(),
            self.refused.len(),
            self.unreviewed.len(),
        )
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// One row per command, changes then refused attempts (a `section` column says which),
    /// cells defused for spreadsheets; the chain check and head in the last rows.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "section,at,correlation,requester,command,action,env,target,namespace,justification,justification_result,confirmed_by,approvers,approved_by_requester,changed,outcome,result,break_glass,review\n",
        );
        let line = |cells: Vec<String>| {
            cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        };
        for c in &self.changes {
            out.push_str(&line(vec![
                "change".into(),
                c.at.clone(),
                c.correlation.clone(),
                c.requester.clone(),
                c.command.clone(),
                c.action.clone(),
                c.env.clone(),
                c.target.clone(),
                c.namespace.clone(),
                c.justification.clone(),
                c.justification_result.clone(),
                c.confirmed_by.clone().unwrap_or_default(),
                c.approvers.join(" "),
                c.approved_by_requester.to_string(),
                c.changed.clone(),
                c.outcome.clone(),
                c.result.clone(),
                c.break_glass.to_string(),
                c.review.clone().unwrap_or_default(),
            ]));
        }
        for r in &self.refused {
            let mut cells = vec![
                "refused".into(),
                r.at.clone(),
                r.correlation.clone(),
                r.requester.clone(),
                r.command.clone(),
                String::new(),
                r.env.clone(),
                r.target.clone(),
            ];
            cells.extend(std::iter::repeat_n(String::new(), 8));
            cells.push(r.why.clone());
            cells.extend(std::iter::repeat_n(String::new(), 2));
            out.push_str(&line(cells));
        }
        for d in self.drift.iter().flatten() {
            let mut cells = vec![
                "drift".into(),
                d.created.clone().unwrap_or_default(),
                String::new(),
                d.writers.join(" "),
                String::new(),
                String::new(),
                String::new(),
                format!("{}/{}", d.kind.to_lowercase(), d.name),
                d.namespace.clone(),
            ];
            cells.extend(std::iter::repeat_n(String::new(), 5));
            cells.push(format!("revision {}: {}", d.revision, d.images.join(", ")));
            cells.push(String::new());
            cells.push(d.why.clone());
            cells.extend(std::iter::repeat_n(String::new(), 2));
            out.push_str(&line(cells));
        }
        if let Some(chain) = &self.chain {
            let mut cells = vec!["chain".into(), self.generated_at.clone()];
            cells.push(if chain.intact { "intact" } else { "BROKEN" }.into());
            cells.push(chain.events.to_string());
            cells.push(chain.head.clone());
            cells.push(chain.first_problem.clone().unwrap_or_default());
            if let Some(a) = &chain.anchors {
                cells.push(super::report_html::anchors_line(a));
            }
            cells.extend(std::iter::repeat_n(String::new(), 13));
            out.push_str(&line(cells));
        }
        out
    }
}
