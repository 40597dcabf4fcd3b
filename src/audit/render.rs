//! Rendering audit events for people (a table) and tools (JSON, JSON lines, CSV), safely: the
//! command text is stored as typed, so terminal escapes are removed from tables and cells
//! that a spreadsheet would run as a formula are defused in CSV.

use std::collections::HashMap;

use super::{Parties, Record};

/// Each event's command's requester and approvers, by correlation id
/// (`AuditStore::parties`): shown beside every event, so a reviewer sees who asked and who
/// approved without reading the detail.
pub type PartiesByCommand = HashMap<String, Parties>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

/// Text safe to print on a terminal: control characters (ESC sequences, bells, carriage
/// returns) become `�`.
pub fn terminal_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// A CSV cell that spreadsheets will not evaluate: a leading `=`, `+`, `-`, `@`, tab or CR
/// gets a `'` in front (OWASP's advice), then the cell is quoted.
pub fn csv_cell(s: &str) -> String {
    let defused = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

/// The event as JSON, with its command's `requester` and `approvers` added.
fn with_parties(r: &Record, parties: &PartiesByCommand) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    let p = parties.get(&r.correlation).cloned().unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("requester".into(), p.requester.into());
        o.insert("approvers".into(), p.approvers.into());
    }
    v
}

pub fn render(records: &[Record], parties: &PartiesByCommand, format: Format) -> String {
    match format {
        Format::Json => {
            let all: Vec<serde_json::Value> =
                records.iter().map(|r| with_parties(r, parties)).collect();
            serde_json::to_string_pretty(&all).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        }
        Format::Jsonl => records
            .iter()
            .filter_map(|r| serde_json::to_string(&with_parties(r, parties)).ok())
            .map(|l| l + "\n")
            .collect(),
        Format::Csv => {
            let mut out = super::FIELDS.join(",") + ",hash,requester,approvers\n";
            for r in records {
                let mut v = with_parties(r, parties);
                // One cell: the approvers' ids separated by spaces.
                let approvers = v["approvers"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                v["approvers"] = if approvers.is_empty() {
                    serde_json::Value::Null
                } else {
                    approvers.into()
                };
                let cells: Vec<String> = super::FIELDS
                    .iter()
                    .chain(&["hash", "requester", "approvers"])
                    .map(|f| match &v[*f] {
                        serde_json::Value::String(s) => csv_cell(s),
                        serde_json::Value::Null => String::new(),
                        other => csv_cell(&other.to_string()),
                    })
                    .collect();
                out.push_str(&cells.join(","));
                out.push('\n');
            }
            out
        }
        Format::Table => table(records),
    }
}

/// A table whose columns are as wide as their widest cell (user ids, environments and targets
/// vary in length: enterprise user ids are longer than a fixed column), the command last.
fn table(records: &[Record]) -> String {
    const HEADER: [&str; 7] = ["ID", "TIME", "PHASE", "ACTOR", "ENV", "TARGET", "COMMAND"];
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|r| {
            [
                r.id.to_string(),
                r.at.to_string(),
                r.phase.to_string(),
                terminal_safe(&r.actor_id),
                terminal_safe(r.env.as_deref().unwrap_or("")),
                terminal_safe(&r.target()),
                terminal_safe(&r.command_text),
            ]
        })
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 7]| {
        let mut out = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = width.saturating_sub(cell.chars().count());
            match i {
                // Ids right-aligned; the last column is not padded.
                0 => out.push_str(&format!("{}{cell}  ", " ".repeat(pad))),
                6 => out.push_str(cell),
                _ => out.push_str(&format!("{cell}{}  ", " ".repeat(pad))),
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(HEADER);
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_defused() {
        assert_eq!(
            terminal_safe("ok\u{1b}[2Jgone\r"),
            "ok\u{FFFD}[2Jgone\u{FFFD}"
        );
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1+1"), "\"'-1+1\"");
        assert_eq!(csv_cell("restart x"), "\"restart x\"");
    }

    fn record(id: i64, actor: &str, env: &str, name: &str) -> Record {
        Record {
            id,
            at: "2026-12-04T17:00:00.000000Z".into(),
            correlation: "c".into(),
            phase: "started".into(),
            actor_id: actor.into(),
            actor_name: None,
            team: None,
            channel: None,
            command_text: format!("restart {name} -e {env}"),
            action: Some("restart".into()),
            env: Some(env.into()),
            cluster: None,
            namespace: None,
            kind: Some("deployment".into()),
            name: Some(name.into()),
            reason: None,
            detail: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    /// CSV and JSON carry the command's requester and approvers beside every event.
    #[test]
    fn csv_and_json_show_requester_and_approvers() {
        let mut approval = record(8, "U02CAROL", "prod", "checkout");
        approval.phase = "approval".into();
        let records = [record(7, "U01ALICE", "prod", "checkout"), approval];
        let parties = PartiesByCommand::from([(
            "c".to_string(),
            Parties {
                requester: Some("U01ALICE".into()),
                approvers: vec!["U02CAROL".into(), "U03DAN".into()],
            },
        )]);
        let csv = render(&records, &parties, Format::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].ends_with(",hash,requester,approvers"), "{csv}");
        for line in &lines[1..] {
            assert!(line.ends_with(r#","U01ALICE","U02CAROL U03DAN""#), "{csv}");
        }
        let json: serde_json::Value =
            serde_json::from_str(&render(&records, &parties, Format::Json)).unwrap();
        assert_eq!(json[1]["requester"], "U01ALICE");
        assert_eq!(
            json[1]["approvers"],
            serde_json::json!(["U02CAROL", "U03DAN"])
        );
        let none = render(&records, &PartiesByCommand::new(), Format::Csv);
        assert!(none.lines().nth(1).unwrap().ends_with(",,"), "{none}");
    }

    /// Every column starts at the same place on every line, however long a cell (an
    /// enterprise user id is longer than the 12 characters the ACTOR column once had).
    #[test]
    fn table_columns_line_up_whatever_the_cell_lengths() {
        let records = [
            record(7, "U01", "prod", "checkout"),
            record(
                1234,
                "W0123456789ABCDEFGHIJ",
                "production-eu-west",
                "a-very-long-workload-name-of-sixty-characters-or-close-to-it",
            ),
        ];
        let text = render(&records, &PartiesByCommand::new(), Format::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        for column in ["PHASE", "ACTOR", "ENV", "TARGET", "COMMAND"] {
            let at = lines[0].find(column).expect("header");
            let header_prefix = lines[0][..at].chars().count();
            for line in &lines[1..] {
                let before: String = line.chars().take(header_prefix).collect();
                assert!(
                    before.ends_with("  ") || header_prefix == 0,
                    "{column} does not start at column {header_prefix}:\n{text}"
                );
                let cell = line.chars().nth(header_prefix).expect("cell");
                assert_ne!(
                    cell, ' ',
                    "{column} does not start at column {header_prefix}:\n{text}"
                );
            }
        }
        assert!(
            lines[2].contains("W0123456789ABCDEFGHIJ  production-eu-west  deployment/a-very-long"),
            "{text}"
        );
    }
}
