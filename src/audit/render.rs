//! Rendering audit events for people (a table) and tools (JSON, JSON lines, CSV), safely: the
//! command text is stored as typed, so terminal escapes are removed from tables and cells
//! that a spreadsheet would run as a formula are defused in CSV.

use super::Record;

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

fn target(r: &Record) -> String {
    match (&r.kind, &r.name) {
        (Some(k), Some(n)) => format!("{k}/{n}"),
        _ => String::new(),
    }
}

pub fn render(records: &[Record], format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(records)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")),
        Format::Jsonl => records
            .iter()
            .filter_map(|r| serde_json::to_string(r).ok())
            .map(|l| l + "\n")
            .collect(),
        Format::Csv => {
            let mut out = super::FIELDS.join(",") + ",hash\n";
            for r in records {
                let v = serde_json::to_value(r).unwrap_or_default();
                let cells: Vec<String> = super::FIELDS
                    .iter()
                    .chain(std::iter::once(&"hash"))
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
        Format::Table => {
            let mut out = format!(
                "{:>6}  {:<24} {:<11} {:<12} {:<9} {:<28} {}\n",
                "ID", "TIME", "PHASE", "ACTOR", "ENV", "TARGET", "COMMAND"
            );
            for r in records {
                out.push_str(&format!(
                    "{:>6}  {:<24} {:<11} {:<12} {:<9} {:<28} {}\n",
                    r.id,
                    r.at,
                    r.phase,
                    terminal_safe(&r.actor_id),
                    terminal_safe(r.env.as_deref().unwrap_or("")),
                    terminal_safe(&target(r)),
                    terminal_safe(&r.command_text)
                ));
            }
            out
        }
    }
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
}
