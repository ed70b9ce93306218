//! Prints a check's result: expected and actual trees side by side, then
//! each problem with its likely cause and fix.
//!
//! ```text
//! expected                                  │ actual: trace 4bf92f35…
//! ✓ api-gateway POST /orders (server)       │ api-gateway POST /orders server 12.1 ms
//! ✓   api-gateway POST (client)             │ ├─ api-gateway POST client 11.0 ms
//! ✗     order-service POST /orders (server) │ │  └─ order-service POST /orders server 10.2 ms
//! ```

use super::diagnosis::explain;
use super::outcome::{LogRows, Report, RowState};
use crate::style::{self, Style};
use crate::tree;

/// Longest expected line before it is cut, so the actual column stays visible.
const LEFT_MAX: usize = 60;

/// Renders the whole report.
pub fn render(report: &Report, style: Style) -> String {
    let mut out = String::new();
    if let Some((found, sent)) = report.sampled {
        out.push_str(&format!("{found} of {sent} requests produced a trace\n\n"));
    }
    for phase in &report.phases {
        out.push_str(phase);
        out.push('\n');
    }
    if !report.phases.is_empty() {
        out.push('\n');
    }
    // Nothing expected and nothing found (a build failure, a config-only
    // finding): no table to show.
    if !report.rows.is_empty() || report.shown.is_some() {
        out.push_str(&side_by_side(report, style));
        out.push('\n');
    }
    if let Some(logs) = &report.logs {
        out.push_str(&log_rows(logs, style));
        out.push('\n');
    }
    if report.passed() {
        out.push_str(&style.green("✓ passed"));
        out.push('\n');
        out.push_str(&unanswered(report, style));
        return out;
    }
    let n = report.findings.len();
    let noun = if n == 1 { "problem" } else { "problems" };
    out.push_str(&style.red(&format!("✗ {n} {noun}")));
    out.push_str("\n\n");
    for (i, finding) in report.findings.iter().enumerate() {
        let diagnosis = explain(&finding.cause);
        let mut problem = finding.problem.clone();
        if finding.count > 1 {
            problem.push_str(&format!(" (in {} requests)", finding.count));
        }
        let number = format!("{}. ", i + 1);
        match &finding.span {
            Some(span) => {
                out.push_str(&style.bold(&format!("{number}{span}")));
                out.push('\n');
                out.push_str(&wrap("   ", &problem, "   "));
            }
            // No span to name: the problem itself is the heading.
            None => out.push_str(&wrap(&style.bold(&number), &problem, "   ")),
        }
        for other in &finding.others {
            out.push_str(&wrap(&format!("   {}", style.dim("and: ")), other, "   "));
        }
        // The piece of instrumentation it concerns, once per piece.
        if let Some(piece) = finding.piece.as_ref().filter(|piece| {
            report.findings[..i]
                .iter()
                .all(|f| f.piece.as_ref() != Some(*piece))
        }) {
            out.push_str(&wrap(
                &format!("   {}", style.cyan("the piece: ")),
                piece,
                "   ",
            ));
        }
        // The same explanation as an earlier finding's: said once.
        let said = report.findings[..i].iter().any(|f| {
            let earlier = explain(&f.cause);
            earlier.likely == diagnosis.likely && earlier.fix == diagnosis.fix
        });
        if said {
            out.push_str(&format!(
                "   {}\n",
                style.dim("(likely cause and fix: as above)")
            ));
        } else {
            let likely = format!("   {}", style.yellow("likely cause: "));
            out.push_str(&wrap(&likely, &diagnosis.likely, "   "));
            out.push_str(&wrap(
                &format!("   {}", style.cyan("fix: ")),
                &diagnosis.fix,
                "   ",
            ));
        }
        // The lesson's words once per cause, at its first finding.
        let first_of_cause = report.findings[..i]
            .iter()
            .all(|f| f.cause.key() != finding.cause.key());
        if let Some(note) = report
            .notes
            .get(finding.cause.key())
            .filter(|_| first_of_cause)
        {
            out.push_str(&wrap(
                &format!("   {}", style.cyan("in this lesson: ")),
                note,
                "   ",
            ));
        }
        out.push('\n');
    }
    out.push_str(&unanswered(report, style));
    out
}

/// The `logs:` rows: which service wrote which lines of the trace, and the
/// span each points at.
fn log_rows(logs: &LogRows, style: Style) -> String {
    let mut out = format!(
        "{} {} {}\n",
        style.bold("log lines with trace_id"),
        style.bold(logs.trace_id.as_str()),
        style.dim(&format!("(all of them: cargo lab logs {})", logs.trace_id))
    );
    let width = logs
        .rows
        .iter()
        .map(|r| style::width(&r.service))
        .max()
        .unwrap_or(0);
    for row in &logs.rows {
        let mark = if row.passed {
            style.green("✓")
        } else {
            style.red("✗")
        };
        let service = style::pad(
            &style.service(&row.service),
            style::width(&row.service),
            width,
        );
        out.push_str(&format!("{mark} {service}  {}\n", row.text));
    }
    out
}

/// The lesson's questions not answered on the command line.
fn unanswered(report: &Report, style: Style) -> String {
    let mut out = String::new();
    if !report.right_answers.is_empty() {
        out.push_str(&format!(
            "{} {}\n",
            style.green("✓ right:"),
            report.right_answers.join(", ")
        ));
    }
    if report.unanswered.is_empty() {
        return out;
    }
    out.push_str(&format!(
        "\n{}\n",
        style.bold("Questions to answer from the trace:")
    ));
    for (key, text) in &report.unanswered {
        out.push_str(&format!("  {text}   --answer {key}=...\n"));
    }
    out
}

fn side_by_side(report: &Report, style: Style) -> String {
    let left: Vec<(String, String)> = report
        .rows
        .iter()
        .map(|row| {
            let (mark, painted_mark) = match row.state {
                RowState::Ok => ("✓", style.green("✓")),
                RowState::Problem | RowState::Missing => ("✗", style.red("✗")),
                RowState::Absent | RowState::OtherRequests => ("-", style.dim("-")),
            };
            let mut text = format!("{}{}", "  ".repeat(row.depth), row.label);
            match row.state {
                RowState::Missing => text.push_str(" — missing"),
                RowState::Absent => text.push_str(" — not present (optional)"),
                RowState::OtherRequests => text.push_str(" — for another request"),
                _ => {}
            }
            let text = cut(&text, LEFT_MAX - 2);
            (format!("{mark} {text}"), format!("{painted_mark} {text}"))
        })
        .collect();
    let right: Vec<String> = match &report.shown {
        Some(trace) => tree::outline(trace),
        None => vec!["(no trace found)".to_string()],
    };
    let right_title = match &report.shown {
        Some(trace) => format!("actual: trace {}", trace.trace_id),
        None => "actual".to_string(),
    };
    let width = left
        .iter()
        .map(|(plain, _)| style::width(plain))
        .chain([style::width("expected")])
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "{} │ {}\n",
        style.bold(&style::pad("expected", 8, width)),
        style.bold(&right_title)
    );
    for i in 0..left.len().max(right.len()) {
        let (plain, painted) = left.get(i).cloned().unwrap_or_default();
        let cell = style::pad(&painted, style::width(&plain), width);
        let actual = right.get(i).map(String::as_str).unwrap_or("");
        out.push_str(format!("{cell} │ {actual}").trim_end());
        out.push('\n');
    }
    out
}

fn cut(text: &str, max: usize) -> String {
    if style::width(text) <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// Word-wraps `text` at ~96 columns. The first line starts with `first`
/// (which may be coloured), the others with `indent`.
fn wrap(first: &str, text: &str, indent: &str) -> String {
    const WIDTH: usize = 96;
    let mut out = String::new();
    let mut line = first.to_string();
    let mut len = strip_width(first);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && len + 1 + style::width(word) > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
            len = indent.len();
            empty = true;
        }
        if !empty {
            line.push(' ');
            len += 1;
        }
        line.push_str(word);
        len += style::width(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// Visible width of a possibly coloured label.
fn strip_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (false, _) => width += 1,
            _ => {}
        }
    }
    width
}
