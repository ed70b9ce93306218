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
    let mut id_field = Vec::new();
    for want in &spec.logs {
        let (row, finding) = check_one(want, obs, trace);
        rows.push(row);
        match finding {
            Some((problem, Cause::LogsMissing { service })) => missing.push((problem, service)),
            Some((problem, Cause::LogSpanId { service })) => no_span.push((problem, service)),
            Some((problem, Cause::LogIdField { service })) => id_field.push((problem, service)),
            Some((problem, cause)) => report.add(None, problem, cause),
            None => {}
        }
    }
    // The shared format writes the id where nobody looks for it: said
    // once, with the first service's example.
    let example = id_field.first().map(|(p, _)| p.clone()).unwrap_or_default();
    if let Some((problem, service)) = merge(id_field, |list| {
        format!(
            "{list} hold the trace id in their lines, but not where it is looked for ({example})"
        )
    }) {
        report.add(None, problem, Cause::LogIdField { service });
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
                "; the other services' lines carry the ids, so the log format works for some \
                 lines: look at the RUST_LOG of the services named here, and at where the ids \
                 come from (these lines were written where no ids were found)",
            );
        }
        report.add(None, problem, Cause::LogsMissing { service });
    }
    let first = no_span.first().map(|(p, _)| p.clone()).unwrap_or_default();
    if let Some((problem, service)) = merge(no_span, |list| {
        format!(
            "the log lines of {list} with trace_id {id} carry no span_id of their spans (each \
             one's lines are listed above; the first: {first})"
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
    let id = trace.trace_id.as_str();
    // The service's lines with the id in `trace_id`; the others only hold it.
    let (of_trace, mentions): (Vec<&str>, Vec<&str>) = obs
        .logs
        .iter()
        .filter(|(s, _)| s == service)
        .map(|(_, line)| line.as_str())
        .partition(|line| has_trace_id(line, id));
    let wanted = |line: &&str| {
        want.contains
            .as_ref()
            .is_none_or(|c| line.contains(c.as_str()))
    };
    let lines: Vec<&str> = of_trace.iter().copied().filter(wanted).collect();
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
        // Not one line with the id in `trace_id`, yet some hold it elsewhere.
        let moved = match of_trace.is_empty() {
            true => mentions.iter().find_map(|line| id_field(line, id)),
            false => None,
        };
        if let Some((field, value)) = moved {
            let place = if field == "trace_id" {
                format!("written as {value:?} in `trace_id`")
            } else {
                format!("in the field `{field}`")
            };
            let problem = format!("{service}'s lines have it {place}");
            let row = LogRow {
                passed: false,
                service: service.to_string(),
                text: format!("{}, the id is {place}", count(0)),
            };
            let cause = Cause::LogIdField {
                service: service.to_string(),
            };
            return (row, Some((problem, cause)));
        }
        let mut problem = format!(
            "{service} wrote {} log lines with trace_id {}{containing}; expected at least {}",
            lines.len(),
            trace.trace_id,
            want.min
        );
        // Its other lines of the trace have the ids: this one's come from
        // somewhere it does not have.
        let others = of_trace.len() - lines.len();
        if others > 0 && lines.is_empty() {
            problem.push_str(&format!(
                " (its {others} other line{} of this trace carry the ids)",
                if others == 1 { "" } else { "s" }
            ));
        }
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
                 is none of {service}'s {} spans in the trace: {}",
                trace.trace_id,
                spans.len(),
                whose(trace, id)
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

/// What a wrong span id is: another service's span, or no span of the trace.
fn whose(trace: &Trace, id: &str) -> String {
    if let Some(span) = trace.spans.iter().find(|s| s.span_id == id) {
        return format!(
            "it is {}, a span of another service (a caller's, not the one the line was written in)",
            super::matching::describe(span)
        );
    }
    let counter = id.trim_start_matches('0').len() <= 4;
    if counter {
        "it is in no span of the trace, and looks like a counter (`tracing`'s own span ids \
         count up from 1 in each process)"
            .to_string()
    } else {
        "it is in no span of the trace".to_string()
    }
}

/// Does this raw line's `trace_id` field hold exactly `id`?
fn has_trace_id(line: &str, id: &str) -> bool {
    let json: Value = serde_json::from_str(line).unwrap_or_default();
    json["trace_id"].as_str() == Some(id)
}

/// Where a line holds `id` other than as the exact `trace_id`: the field's
/// path (`trace.id`, `otel.trace_id`) and its value. Not the message: a
/// line may mention an id in its text.
fn id_field(line: &str, id: &str) -> Option<(String, String)> {
    fn walk(value: &Value, path: &str, id: &str) -> Option<(String, String)> {
        match value {
            Value::String(s) if path != "message" && s.to_ascii_lowercase().contains(id) => {
                Some((path.to_string(), s.clone()))
            }
            Value::Object(map) => map.iter().find_map(|(key, value)| {
                let path = match path {
                    "" => key.clone(),
                    _ => format!("{path}.{key}"),
                };
                walk(value, &path, id)
            }),
            Value::Array(items) => items.iter().find_map(|v| walk(v, path, id)),
            _ => None,
        }
    }
    let json: Value = serde_json::from_str(line).ok()?;
    walk(&json, "", id)
}

/// `logs:` for a request whose trace is not kept (an unsampled parent,
/// `expect_trace: absent`): its lines must carry the id it was sent with
/// all the same; their spans cannot be compared, there is no trace. Not
/// said again when a traced request's lines already lack their ids.
pub fn check_untraced_logs(spec: &Spec, obs: &Observation, report: &mut Report) {
    let Some(id) = &obs.sent_trace_id else { return };
    if spec.logs.is_empty() {
        return;
    }
    let said = report.findings.iter().any(|f| {
        matches!(
            f.cause,
            Cause::LogsMissing { .. } | Cause::LogIdField { .. } | Cause::LogsUnsampled { .. }
        )
    });
    if said {
        return;
    }
    let mut missing = Vec::new();
    for want in &spec.logs {
        let service = want.service.as_str();
        let found = obs
            .logs
            .iter()
            .filter(|(s, line)| {
                s == service
                    && has_trace_id(line, id.as_str())
                    && want
                        .contains
                        .as_ref()
                        .is_none_or(|c| line.contains(c.as_str()))
            })
            .count();
        if found < want.min {
            let problem = format!("{service} wrote {found} log lines with trace_id {id}");
            missing.push((problem, service.to_string()));
        }
    }
    let request = &obs.request;
    if let Some((problem, service)) = merge(missing, |list| {
        format!("{list} wrote no log line with trace_id {id}")
    }) {
        let problem = format!(
            "{request} sent as \"not sampled\" (no trace is kept for it): {problem}, while \
             the sampled request's lines carry their ids"
        );
        report.add(None, problem, Cause::LogsUnsampled { service });
    }
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
