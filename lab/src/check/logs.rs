//! `logs:` in check.yaml: the log lines a service wrote while serving the
//! request, found by the `trace_id` field they carry (the scenario reads
//! them: `.lab/logs/<service>.log` natively, `docker compose logs` in
//! compose). Each must also carry a `span_id` that is one of that
//! service's spans in the trace: the id that leads from the line to the
//! span it was written in.

use serde_json::Value;

use crate::model::Trace;

use super::diagnosis::Cause;
use super::outcome::{Observation, Report};
use super::spec::Spec;

/// `logs:` — the services' log lines carrying this trace's ids.
pub fn check_logs(spec: &Spec, obs: &Observation, trace: &Trace, report: &mut Report) {
    for want in &spec.logs {
        let lines: Vec<&str> = obs
            .logs
            .iter()
            .filter(|(service, line)| {
                service == &want.service
                    && want
                        .contains
                        .as_ref()
                        .is_none_or(|c| line.contains(c.as_str()))
            })
            .map(|(_, line)| line.as_str())
            .collect();
        let what = match &want.contains {
            Some(text) => format!(" containing {text:?}"),
            None => String::new(),
        };
        if lines.len() < want.min {
            let problem = format!(
                "{} wrote {} log lines with trace_id {}{what}; expected at least {}",
                want.service,
                lines.len(),
                trace.trace_id,
                want.min
            );
            let cause = Cause::LogsMissing {
                service: want.service.clone(),
            };
            report.add(None, problem, cause);
            continue;
        }
        // The service's own spans in this trace: a line's span_id must be one.
        let spans: Vec<&str> = trace
            .spans
            .iter()
            .filter(|s| s.service() == want.service)
            .map(|s| s.span_id.as_str())
            .collect();
        let span_id = |line: &str| -> Option<String> {
            let json: Value = serde_json::from_str(line).ok()?;
            Some(match &json["span_id"] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            })
        };
        let ids: Vec<String> = lines.iter().filter_map(|l| span_id(l)).collect();
        let good = ids
            .iter()
            .filter(|id| spans.iter().any(|s| s == id))
            .count();
        if good < want.min {
            let wrong = ids
                .iter()
                .find(|id| !id.is_empty() && !spans.iter().any(|s| s == id));
            let problem = match wrong {
                Some(id) => format!(
                    "{}'s log lines with trace_id {}{what} carry span_id {id:?}, which is none \
                     of {}'s {} spans in the trace",
                    want.service,
                    trace.trace_id,
                    want.service,
                    spans.len()
                ),
                None => format!(
                    "{}'s {} log lines with trace_id {}{what} carry no span_id",
                    want.service,
                    lines.len(),
                    trace.trace_id
                ),
            };
            let cause = Cause::LogSpanId {
                service: want.service.clone(),
            };
            report.add(None, problem, cause);
        }
    }
}
