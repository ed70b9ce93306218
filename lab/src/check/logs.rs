//! `logs:` in check.yaml: the log lines a service wrote while serving the
//! request, found by the `trace_id` field they carry (the scenario reads
//! them: `.lab/logs/<service>.log` natively, `docker compose logs` in
//! compose). Each must also carry a `span_id` that is one of that
//! service's spans in the trace: the id that leads from the line to the
//! span it was written in.
//!
//! Besides the findings, the first request's lines are summed up for the
//! report, one row per service, with the span each line points at:
//!
//! ```text
//! ✓ order-service      1 line with "order.confirmed", in span ac2184c0 (POST /orders)
//! ```

use serde_json::Value;

use crate::model::Trace;

use super::diagnosis::Cause;
use super::outcome::{LogRow, LogRows, Observation, Report};
use super::spec::{LogSpec, Spec};

/// `logs:` — the services' log lines carrying this trace's ids.
pub fn check_logs(spec: &Spec, obs: &Observation, trace: &Trace, report: &mut Report) {
    if spec.logs.is_empty() {
        return;
    }
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    let mut no_span = Vec::new();
    for want in &spec.logs {
        let (row, finding) = check_one(want, obs, trace);
        rows.push(row);
        match finding {
            Some((problem, Cause::LogsMissing { service })) => missing.push((problem, service)),
            Some((problem, Cause::LogSpanId { service })) => no_span.push((problem, service)),
            Some((problem, cause)) => report.add(None, problem, cause),
            None => {}
        }
    }
    // Several services failing the same way is one cause (the log format
    // they share, usually), said once; the rows show each service.
    let id = &trace.trace_id;
    // Other services' lines carry the ids: the shared format works, so
    // these lines were filtered out or never written.
    let others_ok = rows.iter().any(|r| r.passed);
    if let Some((mut problem, service)) = merge(missing, |list| {
        format!("{list} wrote no log line with trace_id {id} (each one's lines are listed above)")
    }) {
        if others_ok {
            problem.push_str(
                "; the other services' lines carry the ids, so the log format works: look at \
                 this service's RUST_LOG, or whether it writes this line at all",
            );
        }
        report.add(None, problem, Cause::LogsMissing { service });
    }
    if let Some((problem, service)) = merge(no_span, |list| {
        format!(
            "the log lines of {list} with trace_id {id} carry no span_id of their spans (each \
             one's lines are listed above)"
        )
    }) {
        report.add(None, problem, Cause::LogSpanId { service });
    }
    // One summary is enough: the first request's.
    if report.logs.is_none() {
        report.logs = Some(LogRows {
            trace_id: trace.trace_id.clone(),
            rows,
        });
    }
}

/// One service's (problem, service) as it is; several as one problem
/// naming them all ("a, b and c"), worded by `problem`.
fn merge(
    mut failed: Vec<(String, String)>,
    problem: impl Fn(&str) -> String,
) -> Option<(String, String)> {
    if failed.len() <= 1 {
        return failed.pop();
    }
    let services: Vec<String> = failed.into_iter().map(|(_, s)| s).collect();
    let list = match services.split_last() {
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    Some((problem(&list), list))
}

/// One `logs:` entry: its summary row and, when it fails, the problem and
/// its cause.
fn check_one(
    want: &LogSpec,
    obs: &Observation,
    trace: &Trace,
) -> (LogRow, Option<(String, Cause)>) {
    let service = want.service.as_str();
    let lines: Vec<&str> = obs
        .logs
        .iter()
        .filter(|(s, line)| {
            s == service
                && want
                    .contains
                    .as_ref()
                    .is_none_or(|c| line.contains(c.as_str()))
        })
        .map(|(_, line)| line.as_str())
        .collect();
    let what = match &want.contains {
        Some(text) => format!(" with {text:?}"),
        None => String::new(),
    };
    let containing = match &want.contains {
        Some(text) => format!(" containing {text:?}"),
        None => String::new(),
    };
    let count = |n: usize| format!("{n} line{}{what}", if n == 1 { "" } else { "s" });
    if lines.len() < want.min {
        let problem = format!(
            "{service} wrote {} log lines with trace_id {}{containing}; expected at least {}",
            lines.len(),
            trace.trace_id,
            want.min
        );
        let cause = Cause::LogsMissing {
            service: service.to_string(),
        };
        let row = LogRow {
            passed: false,
            service: service.to_string(),
            text: count(lines.len()),
        };
        return (row, Some((problem, cause)));
    }
    // The service's own spans in this trace: a line's span_id must be one.
    let spans: Vec<&crate::model::Span> = trace
        .spans
        .iter()
        .filter(|s| s.service() == service)
        .collect();
    let ids: Vec<String> = lines.iter().map(|l| span_id(l)).collect();
    let found: Vec<&crate::model::Span> = ids
        .iter()
        .filter_map(|id| spans.iter().find(|s| &s.span_id == id).copied())
        .collect();
    if found.len() >= want.min {
        let span = found[0];
        let row = LogRow {
            passed: true,
            service: service.to_string(),
            text: format!(
                "{}, in span {} ({})",
                count(lines.len()),
                short(&span.span_id),
                span.name
            ),
        };
        return (row, None);
    }
    let wrong = ids
        .iter()
        .find(|id| !id.is_empty() && !spans.iter().any(|s| &s.span_id == *id));
    let (problem, row) = match wrong {
        Some(id) => (
            format!(
                "{service}'s log lines{containing} with trace_id {} carry span_id {id:?}, which \
                 is none of {service}'s {} spans in the trace",
                trace.trace_id,
                spans.len()
            ),
            format!(
                "{}, span_id {id:?} is not one of its spans",
                count(lines.len())
            ),
        ),
        None => (
            format!(
                "{service}'s log lines{containing} with trace_id {} carry no span_id",
                trace.trace_id
            ),
            format!("{}, without span_id", count(lines.len())),
        ),
    };
    let cause = Cause::LogSpanId {
        service: service.to_string(),
    };
    let row = LogRow {
        passed: false,
        service: service.to_string(),
        text: row,
    };
    (row, Some((problem, cause)))
}

/// A line's `span_id` as text; empty when it has none.
fn span_id(line: &str) -> String {
    let json: Value = serde_json::from_str(line).unwrap_or_default();
    match &json["span_id"] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The first 8 hex digits of a span id, as `cargo lab logs` shows it.
fn short(span_id: &str) -> &str {
    span_id.get(..8).unwrap_or(span_id)
}
