//! The change report as one self-contained HTML page: no scripts, fonts, images or styles
//! from anywhere else (a Content-Security-Policy that allows none says so to the browser),
//! readable on a screen and printable (tables repeat their heads, rows do not split). Every
//! value from the trail is escaped.

use super::report::{ChangeRow, Report};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.5rem;margin:0 0 .25rem} h2{font-size:1.15rem;margin:2rem 0 .5rem}
.meta{color:#57606a} .counts span{display:inline-block;margin-right:1.5rem}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{border:1px solid #d0d7de;padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:#f6f8fa} tr{page-break-inside:avoid} thead{display:table-header-group}
code{font:12px ui-monospace,monospace;word-break:break-all}
.bad{color:#cf222e;font-weight:600} .ok{color:#1a7f37;font-weight:600}
.bg{background:#fff8c5} footer{margin-top:2rem;border-top:1px solid #d0d7de;padding-top:.75rem;color:#57606a}
@media print{body{margin:1cm} a{color:inherit}}
";

fn change_rows(rows: &[ChangeRow]) -> String {
    let mut out = String::new();
    for c in rows {
        let approvers = if c.approvers.is_empty() {
            "—".to_string()
        } else {
            esc(&c.approvers.join(", "))
        };
        let flag = if c.approved_by_requester {
            " <span class=\"bad\">APPROVED BY THE REQUESTER</span>"
        } else {
            ""
        };
        let justification = if c.break_glass {
            format!(
                "<span class=\"bad\">BREAK-GLASS</span>: {}",
                esc(&c.justification)
            )
        } else {
            format!(
                "{} ({})",
                esc(&c.justification),
                esc(&c.justification_result)
            )
        };
        let review = match (&c.review, c.break_glass) {
            (Some(r), _) => esc(r),
            (None, true) => "<span class=\"bad\">not reviewed</span>".into(),
            (None, false) => "—".into(),
        };
        let outcome_class = if c.outcome == "succeeded" {
            "ok"
        } else {
            "bad"
        };
        out.push_str(&format!(
            "<tr{}><td>{}</td><td>{}</td><td><code>{}</code><br>{} {}</td><td>{}</td><td>{}</td><td>{}{flag}</td><td>{}</td><td><span class=\"{outcome_class}\">{}</span> {}</td><td>{}</td><td><code>{}</code></td></tr>\n",
            if c.break_glass { " class=\"bg\"" } else { "" },
            esc(&c.at),
            esc(&c.requester),
            esc(&c.command),
            esc(&c.env),
            esc(&c.target),
            justification,
            esc(c.confirmed_by.as_deref().unwrap_or("—")),
            approvers,
            esc(&c.changed),
            esc(&c.outcome),
            esc(&c.result),
            review,
            esc(&c.correlation),
        ));
    }
    out
}

const CHANGE_HEAD: &str = "<thead><tr><th>When (UTC)</th><th>Asked by</th><th>Command, where</th><th>Justification (as verified then)</th><th>Confirmed by</th><th>Approved by</th><th>What changed</th><th>Outcome</th><th>Review</th><th>Audit id</th></tr></thead>";

/// The whole page.
pub fn render(report: &Report) -> String {
    let scope = report
        .env
        .as_deref()
        .map(|e| format!(" in <b>{}</b>", esc(e)))
        .unwrap_or_else(|| " in every environment".into());
    let (changes, refused, unreviewed) = report.counts();
    let drift = match &report.drift {
        Some(rows) => format!(
            "<span><b>{}</b> changes made outside pitcrew</span>",
            rows.len()
        ),
        None => String::new(),
    };
    let mut page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>pitcrew change report {from} – {to}</title><style>{STYLE}</style></head><body>\n\
         <h1>Change report</h1><p class=\"meta\">From {from} to {to} (UTC){scope}; generated {gen} by pitcrew from its audit trail.</p>\n\
         <p class=\"counts\"><span><b>{changes}</b> changes</span><span><b>{refused}</b> refused attempts</span><span><b>{unreviewed}</b> break-glass changes not reviewed</span>{drift}</p>\n",
        from = esc(&report.from),
        to = esc(&report.to),
        gen = esc(&report.generated_at),
    );
    page.push_str("<h2>Changes</h2>\n");
    if report.changes.is_empty() {
        page.push_str("<p>No command changed anything in this period.</p>\n");
    } else {
        page.push_str(&format!(
            "<table>{CHANGE_HEAD}<tbody>\n{}</tbody></table>\n",
            change_rows(&report.changes)
        ));
    }
    page.push_str("<h2>Break-glass changes not reviewed</h2>\n");
    if report.unreviewed.is_empty() {
        page.push_str("<p>None: every break-glass change of the period was reviewed.</p>\n");
    } else {
        page.push_str(&format!(
            "<table>{CHANGE_HEAD}<tbody>\n{}</tbody></table>\n<p>Review each with <code>pitcrew audit review ID --as REVIEWER --note \"…\"</code>.</p>\n",
            change_rows(&report.unreviewed)
        ));
    }
    page.push_str("<h2>Changes made outside pitcrew</h2>\n");
    match (&report.drift, &report.drift_note) {
        (Some(rows), _) if rows.is_empty() => page.push_str(
            "<p class=\"ok\">None: every revision of the period's workloads was made by a pitcrew command in this report.</p>\n",
        ),
        (Some(rows), _) => {
            page.push_str("<table><thead><tr><th>Workload, revision</th><th>Made (UTC)</th><th>Why not pitcrew's</th><th>Images</th><th>Written by</th></tr></thead><tbody>\n");
            for d in rows {
                page.push_str(&format!(
                    "<tr><td>{}/{} in {} revision {}</td><td>{}</td><td class=\"bad\">{}</td><td><code>{}</code></td><td>{}</td></tr>\n",
                    esc(&d.kind.to_lowercase()),
                    esc(&d.name),
                    esc(&d.namespace),
                    d.revision,
                    esc(d.created.as_deref().unwrap_or("?")),
                    esc(&d.why),
                    esc(&d.images.join(", ")),
                    esc(&d.writers.join(", "))
                ));
            }
            page.push_str("</tbody></table>\n");
        }
        (None, note) => page.push_str(&format!(
            "<p>{}</p>\n",
            esc(note.as_deref().unwrap_or("not checked"))
        )),
    }
    page.push_str("<h2>Refused attempts</h2>\n");
    if report.refused.is_empty() {
        page.push_str("<p>None.</p>\n");
    } else {
        page.push_str("<table><thead><tr><th>When (UTC)</th><th>Asked by</th><th>Command</th><th>Environment, target</th><th>Why refused</th><th>Audit id</th></tr></thead><tbody>\n");
        for r in &report.refused {
            page.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{} {}</td><td>{}</td><td><code>{}</code></td></tr>\n",
                esc(&r.at),
                esc(&r.requester),
                esc(&r.command),
                esc(&r.env),
                esc(&r.target),
                esc(&r.why),
                esc(&r.correlation)
            ));
        }
        page.push_str("</tbody></table>\n");
    }
    page.push_str("<footer>");
    match &report.chain {
        Some(c) if c.intact => page.push_str(&format!(
            "<p><span class=\"ok\">Audit trail verified: intact</span>, {} events, chain head <code>{}</code>.</p>",
            c.events,
            esc(&c.head)
        )),
        Some(c) => page.push_str(&format!(
            "<p><span class=\"bad\">Audit trail verification FAILED</span> ({} events checked): {}. Chain head <code>{}</code>.</p>",
            c.events,
            esc(c.first_problem.as_deref().unwrap_or("unknown problem")),
            esc(&c.head)
        )),
        None => page.push_str("<p>The audit trail was not verified for this report.</p>"),
    }
    if let Some(a) = report.chain.as_ref().and_then(|c| c.anchors.as_ref()) {
        let class = match (a.anchors, a.problems.is_empty() && a.checked) {
            (0, _) => "",
            (_, true) => "ok",
            (_, false) => "bad",
        };
        page.push_str(&format!(
            "<p><span class=\"{class}\">Timestamp anchors</span>: {}.</p>",
            esc(&anchors_line(a))
        ));
    }
    if let Some((id, hash)) = &report.period_head {
        page.push_str(&format!(
            "<p>Last event of the period: #{id}, hash <code>{}</code>.</p>",
            esc(hash)
        ));
    }
    page.push_str("</footer></body></html>\n");
    page
}

/// One sentence on the RFC 3161 anchors, for the report's footer and its CSV.
pub fn anchors_line(a: &crate::audit::anchors::AnchorReport) -> String {
    let last = a.last_anchored.as_ref().map(|l| {
        format!(
            "the trail up to event {} was stamped at {} by {}; {} events since",
            l.event_id, l.gen_time, l.tsa, a.unanchored_events
        )
    });
    match (a.anchors, a.checked, a.problems.first()) {
        (0, _, _) => "none (no timestamp authority configured)".into(),
        (n, _, Some(p)) => format!(
            "{} of {n} DO NOT HOLD, first: event {}: {}",
            a.problems.len(),
            p.event_id,
            p.what
        ),
        (n, false, None) => format!(
            "{n} stored, NOT CHECKED (no timestamp authority root given){}",
            last.map(|l| format!("; {l}")).unwrap_or_default()
        ),
        (n, true, None) => format!(
            "{n}, every token checked against the timestamp authority's root; {}",
            last.unwrap_or_else(|| "no online event anchored yet".into())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_the_trail_are_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(esc("a\u{1b}[31mb"), "a\u{FFFD}[31mb");
    }
}
