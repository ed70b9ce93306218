//! `/map`: the service map, built from the stored traces. An edge
//! `caller → callee` is a span whose parent belongs to another service (an
//! HTTP call, a message through the queue); a database is a callee too (a
//! CLIENT span with `db.system.name` and no child). Per edge: calls, calls
//! with an error on either side, and the median (p50) duration of the
//! callee's span (the database call's span for a database).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Html;

use super::html::{self, esc};
use crate::model::{SpanKind, Status, Trace, Value};
use crate::sink::otlp::SharedStore;

/// One caller → callee edge over all traces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Edge {
    pub calls: usize,
    pub errors: usize,
    pub durations_us: Vec<u64>,
}

impl Edge {
    pub fn p50_us(&self) -> u64 {
        let mut sorted = self.durations_us.clone();
        sorted.sort_unstable();
        sorted
            .get(sorted.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(0)
    }
}

/// Edges keyed by (caller, callee), sorted.
pub fn edges(traces: &[Trace]) -> BTreeMap<(String, String), Edge> {
    let mut edges: BTreeMap<(String, String), Edge> = BTreeMap::new();
    for trace in traces {
        for span in &trace.spans {
            let (caller, callee, failed) = match trace.parent_of(span) {
                Some(parent) if parent.service() != span.service() => (
                    parent.service(),
                    span.service().to_string(),
                    parent.status == Status::Error || span.status == Status::Error,
                ),
                _ => match span.attribute("db.system.name") {
                    Some(Value::Str(system))
                        if span.kind == SpanKind::Client
                            && !trace
                                .spans
                                .iter()
                                .any(|c| c.parent_span_id.as_deref() == Some(&span.span_id)) =>
                    {
                        (span.service(), system.clone(), span.status == Status::Error)
                    }
                    _ => continue,
                },
            };
            let edge = edges.entry((caller.to_string(), callee)).or_default();
            edge.calls += 1;
            edge.errors += usize::from(failed);
            edge.durations_us.push(span.duration_us);
        }
    }
    edges
}

pub async fn page(State(store): State<SharedStore>) -> Html<String> {
    let traces = super::recent(&store);
    let edges = edges(&traces);
    if edges.is_empty() {
        return html::page(
            "Service map",
            "<p>No calls between services yet: send a request through the gateway.</p>",
        );
    }
    let mut body = format!(
        "<p class=\"muted\">From the {} traces in the sink.</p>\n{}",
        traces.len(),
        svg(&edges)
    );
    body.push_str(
        r#"<table id="edges"><thead><tr><th>caller</th><th>callee</th><th class="num">calls</th><th class="num">errors</th><th class="num">p50</th></tr></thead><tbody>
"#,
    );
    for ((caller, callee), edge) in &edges {
        let errors = if edge.errors > 0 {
            format!(r#"<span class="err">{}</span>"#, edge.errors)
        } else {
            "0".to_string()
        };
        body.push_str(&format!(
            r#"<tr class="edge" data-caller="{}" data-callee="{}"><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{errors}</td><td class="num">{}</td></tr>
"#,
            esc(caller),
            esc(callee),
            html::service_tag(caller),
            html::service_tag(callee),
            edge.calls,
            html::duration(edge.p50_us()),
        ));
    }
    body.push_str("</tbody></table>");
    html::page("Service map", &body)
}

/// Horizontal distance between node columns (a node is 160 wide).
const COLUMN: usize = 320;

/// Nodes in columns by call depth (callers left of callees), edges as arrows.
fn svg(edges: &BTreeMap<(String, String), Edge>) -> String {
    let mut column: BTreeMap<&str, usize> = BTreeMap::new();
    for (caller, callee) in edges.keys() {
        column.entry(caller).or_insert(0);
        column.entry(callee).or_insert(0);
    }
    // Longest path from a caller, bounded so a cycle cannot loop forever.
    for _ in 0..column.len() {
        for (caller, callee) in edges.keys() {
            let next = column[caller.as_str()] + 1;
            if caller != callee && column[callee.as_str()] < next && next < column.len() {
                column.insert(callee, next);
            }
        }
    }
    let mut rows: BTreeMap<usize, usize> = BTreeMap::new();
    let mut at: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (name, col) in &column {
        let row = rows.entry(*col).or_insert(0);
        at.insert(name, (20 + col * COLUMN, 30 + *row * 60));
        *row += 1;
    }
    let width = 20 + (column.values().max().unwrap_or(&0) + 1) * COLUMN;
    let height = 30 + rows.values().max().unwrap_or(&1) * 60;
    let mut out = format!(
        r##"<svg id="map" width="{width}" height="{height}" role="img" aria-label="service map">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs>
"##
    );
    for ((caller, callee), edge) in edges {
        let ((x1, y1), (x2, y2)) = (at[caller.as_str()], at[callee.as_str()]);
        let colour = if edge.errors > 0 { "#c62828" } else { "#555" };
        out.push_str(&format!(
            r#"<line x1="{}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{colour}" marker-end="url(#arrow)"/><text class="edge-label" x="{}" y="{}" fill="{colour}">{} · p50 {}</text>
"#,
            x1 + 160,
            (x1 + 160 + x2) / 2,
            (y1 + y2) / 2 - 4,
            edge.calls,
            html::duration(edge.p50_us())
        ));
    }
    for (name, (x, y)) in &at {
        out.push_str(&format!(
            r##"<g class="node"><rect x="{x}" y="{}" width="160" height="26" rx="4" fill="#fff" stroke="{}"/><text x="{}" y="{}">{}</text></g>
"##,
            y - 17,
            html::colour(name),
            x + 8,
            y,
            esc(name)
        ));
    }
    out.push_str("</svg>\n");
    out
}
