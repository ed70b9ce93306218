//! How `cargo lab logs` prints a trace's lines: one aligned row each.
//!
//! ```text
//! 15:31:33.943  +0 µs    user-service       INFO  355d567a  cache.miss        user.id=4
//! 15:31:33.944  +822 µs  user-service       INFO  355d567a  request finished  elapsed_ms=1 status=200
//! ```
//!
//! Time (UTC, as the lines' own timestamps), offset from the first line,
//! service, level, the first 8 digits of the span id, message, then the
//! line's other fields as `key=value`.

use serde_json::Value;

use super::LogLine;
use crate::model::TraceId;
use crate::style::{self, Style};

/// The fields every line has, shown in their own columns or not at all.
const COLUMNS: [&str; 8] = [
    "timestamp",
    "level",
    "service",
    "target",
    "message",
    "trace_id",
    "span_id",
    "span",
];

/// One line per log line: time, offset from the first line, service,
/// level, short span id, message, the other fields as `key=value`.
pub fn render(trace_id: &TraceId, lines: &[LogLine], from: &str, style: Style) -> String {
    let services = {
        let mut names: Vec<&str> = lines.iter().map(|l| l.service.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names
    };
    let mut out = format!(
        "{} {} · {} log line{} · {} service{} · {from}\n\n",
        style.bold("trace"),
        style.bold(trace_id.as_str()),
        lines.len(),
        if lines.len() == 1 { "" } else { "s" },
        services.len(),
        if services.len() == 1 { "" } else { "s" },
    );
    let t0 = lines.iter().filter_map(|l| l.time_us).min();
    let rows: Vec<[String; 6]> = lines
        .iter()
        .map(|line| {
            let clock = line.time_us.map(clock).unwrap_or_else(|| "?".into());
            let offset = match (line.time_us, t0) {
                (Some(t), Some(t0)) => format!("+{}", style::duration(t - t0)),
                _ => String::new(),
            };
            let span = line.text("span_id").map(short).unwrap_or("-").to_string();
            [
                clock,
                offset,
                line.service.clone(),
                line.text("level").unwrap_or("?").to_string(),
                span,
                line.text("message").unwrap_or("").to_string(),
            ]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| style::width(&r[i])).max().unwrap_or(0);
    let widths: Vec<usize> = (0..6).map(width).collect();
    for (line, row) in lines.iter().zip(&rows) {
        let [clock, offset, service, level, span, message] = row;
        let level_shown = match level.as_str() {
            "ERROR" => style.red(level),
            "WARN" => style.yellow(level),
            _ => level.clone(),
        };
        let fields = extra_fields(line);
        let cells = [
            style::pad(&style.dim(clock), style::width(clock), widths[0]),
            style::pad(&style.dim(offset), style::width(offset), widths[1]),
            style::pad(&style.service(service), style::width(service), widths[2]),
            style::pad(&level_shown, style::width(level), widths[3]),
            style::pad(&style.dim(span), style::width(span), widths[4]),
            if fields.is_empty() {
                message.clone()
            } else {
                style::pad(message, style::width(message), widths[5])
            },
        ];
        let mut text = cells.join("  ");
        if !fields.is_empty() {
            text.push_str("  ");
            text.push_str(&fields);
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// `HH:MM:SS.mmm` (UTC, as the lines' own timestamps).
fn clock(us: u64) -> String {
    let full = crate::time::format_us(us); // 2026-12-02T15:09:36.316611Z
    full.get(11..23).unwrap_or(&full).to_string()
}

/// The first 8 hex digits of a span id: enough to tell a trace's spans apart.
fn short(span_id: &str) -> &str {
    span_id.get(..8).unwrap_or(span_id)
}

/// The line's own fields (not the columns), as `key=value`, strings quoted
/// only when they hold a space.
fn extra_fields(line: &LogLine) -> String {
    line.fields
        .iter()
        .filter(|(key, _)| !COLUMNS.contains(&key.as_str()))
        .map(|(key, value)| match value {
            Value::String(s) if s.contains(char::is_whitespace) || s.is_empty() => {
                format!("{key}={s:?}")
            }
            Value::String(s) => format!("{key}={s}"),
            other => format!("{key}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
