//! Prints a trace as an indented tree with a timeline, like Jaeger's trace
//! view but in a terminal:
//!
//! ```text
//! trace 4bf92f3577b34da6a3ce929d0e0e4736 · 3 spans · 2 services · 1.52 s
//!
//! api-gateway    POST /orders         server   1.52 s  ██████████████████████████████
//! api-gateway    └─ POST              client   1.50 s  ·█████████████████████████████
//! order-service     └─ POST /orders   server   1.49 s  ·█████████████████████████████
//! ```
//!
//! A child sits under its parent, children in start order. Spans whose
//! parent is not in the trace are shown as extra roots with a note: that is
//! what broken propagation or a service that does not export looks like.

use std::collections::HashMap;

use crate::model::{Span, Status, Trace};
use crate::style::{self, Style};

/// What to print besides the tree itself.
#[derive(Clone, Copy, Debug)]
pub struct TreeOptions {
    /// Each span's events under it (`--events`).
    pub events: bool,
    /// Each span's attributes under it (`--attrs`).
    pub attrs: bool,
    /// Width of the timeline bar in characters.
    pub bar_width: usize,
}

impl Default for TreeOptions {
    fn default() -> Self {
        TreeOptions {
            events: false,
            attrs: false,
            bar_width: 30,
        }
    }
}

/// One span's line, before column widths are known.
struct Row<'a> {
    span: &'a Span,
    /// Tree drawing before the name: `│  ├─ `.
    prefix: String,
    /// Tree drawing for lines below this span (its events and attributes).
    detail_prefix: String,
    /// Set when the span's parent is missing from the trace.
    missing_parent: Option<&'a str>,
}

/// Renders the whole trace: a header line, a blank line, one line per span.
pub fn render(trace: &Trace, options: &TreeOptions, style: Style) -> String {
    let rows = rows(trace);
    let service_width = rows
        .iter()
        .map(|r| style::width(r.span.service()))
        .max()
        .unwrap_or(0);
    let name_width = rows
        .iter()
        .map(|r| style::width(&r.prefix) + style::width(&r.span.name))
        .max()
        .unwrap_or(0);
    let t0 = trace.start_us();
    let total = trace.duration_us().max(1);

    let mut out = header(trace, style);
    out.push_str("\n\n");
    for row in &rows {
        let span = row.span;
        let service = style::pad(
            &style.service(span.service()),
            style::width(span.service()),
            service_width,
        );
        let name_len = style::width(&row.prefix) + style::width(&span.name);
        let name = style::pad(
            &format!("{}{}", style.dim(&row.prefix), style.bold(&span.name)),
            name_len,
            name_width,
        );
        let kind = format!("{:<8}", span.kind.as_str());
        let duration = format!("{:>9}", style::duration(span.duration_us));
        let bar = bar(span, t0, total, options.bar_width, style);
        let mut line = format!("{service}  {name}  {kind} {duration}  {bar}");
        if span.status == Status::Error {
            let message = span.status_message.as_deref().unwrap_or("");
            line.push_str(&format!("  {}", style.red(&format!("✗ ERROR {message}"))));
        }
        if let Some(parent) = row.missing_parent {
            line.push_str(&style.dim(&format!("  (parent {parent} not in this trace)")));
        }
        out.push_str(line.trim_end());
        out.push('\n');
        let indent = format!("{}  {}", " ".repeat(service_width), row.detail_prefix);
        if options.attrs {
            for attribute in &span.attributes {
                let text = format!("{} = {}", attribute.key, attribute.value);
                out.push_str(&format!("{}{}\n", style.dim(&indent), style.cyan(&text)));
            }
        }
        if options.events {
            for event in &span.events {
                let offset = event.time_us.saturating_sub(span.start_us);
                let attrs: Vec<String> = event
                    .attributes
                    .iter()
                    .filter(|a| options.attrs || !is_log_metadata(&a.key))
                    .map(|a| format!("{}={}", a.key, a.value))
                    .collect();
                let text = format!(
                    "• +{} {} {}",
                    style::duration(offset),
                    event.name,
                    attrs.join(" ")
                );
                let text = text.trim_end();
                let text = if event.name == "exception" {
                    style.red(text)
                } else {
                    style.yellow(text)
                };
                out.push_str(&format!("{}{}\n", style.dim(&indent), text));
            }
        }
    }
    out
}

/// The tree without timeline or colour, one short line per span
/// (`├─ order-service POST /orders server 12.3 ms`), for side-by-side views.
pub fn outline(trace: &Trace) -> Vec<String> {
    rows(trace)
        .iter()
        .map(|row| {
            let span = row.span;
            let mut line = format!(
                "{}{} {} {} {}",
                row.prefix,
                span.service(),
                span.name,
                span.kind.as_str(),
                style::duration(span.duration_us)
            );
            if span.status == Status::Error {
                line.push_str(" ✗ ERROR");
            }
            line
        })
        .collect()
}

/// Spans in tree order with their depth (0 for a root), for other views
/// of the same tree (the sink's waterfall).
pub fn depth_first(trace: &Trace) -> Vec<(usize, &Span)> {
    rows(trace)
        .into_iter()
        .map(|row| (row.prefix.chars().count() / 3, row.span))
        .collect()
}

/// Fields tracing-opentelemetry adds to every event made from a log line
/// (`level`, `target`, `code.*`): shown only with `--attrs`.
fn is_log_metadata(key: &str) -> bool {
    key == "level" || key == "target" || key.starts_with("code.")
}

/// `trace <id> · N spans · M services · 1.52 s · 1 error`
pub fn header(trace: &Trace, style: Style) -> String {
    let errors = trace
        .spans
        .iter()
        .filter(|s| s.status == Status::Error)
        .count();
    let plural = |n: usize, noun: &str| format!("{n} {noun}{}", if n == 1 { "" } else { "s" });
    let mut text = format!(
        "trace {} · {} · {} · {}",
        style.bold(trace.trace_id.as_str()),
        plural(trace.spans.len(), "span"),
        plural(trace.services().len(), "service"),
        style::duration(trace.duration_us())
    );
    if errors > 0 {
        text.push_str(&format!(" · {}", style.red(&plural(errors, "error"))));
    }
    text
}

/// The timeline: where the span sits within the whole trace.
fn bar(span: &Span, t0: u64, total: u64, width: usize, style: Style) -> String {
    let scale = |us: u64| (us as u128 * width as u128 / total as u128) as usize;
    let offset = scale(span.start_us.saturating_sub(t0)).min(width.saturating_sub(1));
    let length = scale(span.duration_us).clamp(1, width - offset);
    let rest = width - offset - length;
    let fill = "█".repeat(length);
    let fill = if span.status == Status::Error {
        style.red(&fill)
    } else {
        style.in_service_color(span.service(), &fill)
    };
    format!(
        "{}{}{}",
        style.dim(&"·".repeat(offset)),
        fill,
        style.dim(&"·".repeat(rest))
    )
}

/// Orders spans depth-first: roots by start time, each followed by its
/// children. Works on indices, so duplicate span ids or a parent cycle in
/// bad data cannot loop forever.
fn rows(trace: &Trace) -> Vec<Row<'_>> {
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, span) in trace.spans.iter().enumerate() {
        match trace.parent_of(span) {
            Some(parent) if parent.span_id != span.span_id => {
                children.entry(parent.span_id.as_str()).or_default().push(i)
            }
            _ => roots.push(i),
        }
    }
    let by_start = |list: &mut Vec<usize>| {
        list.sort_by(|a, b| {
            let (a, b) = (&trace.spans[*a], &trace.spans[*b]);
            (a.start_us, &a.name).cmp(&(b.start_us, &b.name))
        })
    };
    by_start(&mut roots);
    children.values_mut().for_each(by_start);

    let mut visited = vec![false; trace.spans.len()];
    let mut rows = Vec::new();
    for &root in &roots {
        walk(trace, root, "", None, &children, &mut visited, &mut rows);
    }
    // Whatever is left sits in a parent cycle: show it rather than hide it.
    for i in 0..trace.spans.len() {
        if !visited[i] {
            walk(trace, i, "", None, &children, &mut visited, &mut rows);
        }
    }
    rows
}

/// `last` is `None` for a root, else whether this span is its parent's last child.
fn walk<'a>(
    trace: &'a Trace,
    index: usize,
    indent: &str,
    last: Option<bool>,
    children: &HashMap<&str, Vec<usize>>,
    visited: &mut [bool],
    rows: &mut Vec<Row<'a>>,
) {
    if visited[index] {
        return;
    }
    visited[index] = true;
    let span = &trace.spans[index];
    let (prefix, child_indent) = match last {
        None => (String::new(), String::new()),
        Some(true) => (format!("{indent}└─ "), format!("{indent}   ")),
        Some(false) => (format!("{indent}├─ "), format!("{indent}│  ")),
    };
    let kids = children
        .get(span.span_id.as_str())
        .cloned()
        .unwrap_or_default();
    let detail_prefix = if kids.is_empty() {
        format!("{child_indent}   ")
    } else {
        format!("{child_indent}│  ")
    };
    let missing_parent = match (last, &span.parent_span_id) {
        (None, Some(parent)) if trace.span(parent).is_none() => Some(parent.as_str()),
        _ => None,
    };
    rows.push(Row {
        span,
        prefix,
        detail_prefix,
        missing_parent,
    });
    for (n, &kid) in kids.iter().enumerate() {
        let is_last = n + 1 == kids.len();
        walk(
            trace,
            kid,
            &child_indent,
            Some(is_last),
            children,
            visited,
            rows,
        );
    }
}
