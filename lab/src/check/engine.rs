//! Compares what a lesson expects ([`Spec`]) with what happened
//! ([`Observation`]s: responses and fetched traces) and lists every
//! mismatch as a [`Finding`] with its [`Cause`].
//!
//! Pure functions on in-memory data, no network: the tests build broken
//! traces by hand and assert which cause the engine names.

use crate::model::Trace;

use super::diagnosis::Cause;
use super::matching::{check_span, pick_candidate, SpanOutcome};
pub use super::outcome::{Finding, Observation, Outcome, Report, RowState, SpanRow};
use super::spec::{ExpectTrace, SpanSpec, Spec};
use super::whole_trace;

/// Checks all observations against the spec.
pub fn evaluate(spec: &Spec, observations: &[Observation]) -> Report {
    let mut report = Report::default();
    let mut shown: Option<(Trace, Vec<SpanRow>, bool)> = None;
    for observation in observations {
        let before = report.findings.iter().map(|f| f.count).sum::<usize>();
        let rows = check_observation(spec, observation, &mut report);
        let had_problem = report.findings.iter().map(|f| f.count).sum::<usize>() > before;
        if let Some(trace) = &observation.trace {
            // Show the first trace with a problem, else the first trace.
            let replace = match &shown {
                None => true,
                Some((_, _, problem)) => !problem && had_problem,
            };
            if replace {
                shown = Some((trace.clone(), rows, had_problem));
            }
        }
    }
    if let Some(sampling) = &spec.sampling {
        super::sampling::check_parents(spec, observations, &mut report);
        super::sampling::check_sampling(spec, sampling, observations, &mut report);
    }
    if spec.requests.iter().any(|r| r.kept.is_some()) {
        if spec.sampling.is_none() {
            super::sampling::check_parents(spec, observations, &mut report);
        }
        super::sampling::check_kept(spec, observations, &mut report);
    }
    super::in_process::check_all(spec, observations, &mut report);
    report.notes = spec.diagnosis.clone();
    if let Some((trace, rows, _)) = shown {
        report.shown = Some(trace);
        report.rows = rows;
    } else {
        report.rows = expected_rows(spec, |_| RowState::Missing);
    }
    report
}

fn check_observation(spec: &Spec, obs: &Observation, report: &mut Report) -> Vec<SpanRow> {
    let missing_rows = || expected_rows(spec, |_| RowState::Missing);
    let sampling = spec.reads_ids_from_responses();
    match &obs.response {
        Outcome::Unreachable(error) => {
            let problem = format!("{}: no answer from the gateway ({error})", obs.request);
            report.add(None, problem, Cause::GatewayDown);
            return missing_rows();
        }
        Outcome::Answered {
            status,
            trace_id,
            error,
        } => {
            if let Some(expected) = obs.expected_status.filter(|e| e != status) {
                let mut problem =
                    format!("{}: expected status {expected}, got {status}", obs.request);
                if let Some(error) = error {
                    problem.push_str(&format!(" ({error})"));
                }
                report.add(None, problem, Cause::BadStatus { status: *status });
            }
            if let (Some(sent), Some(got)) = (&obs.sent_trace_id, trace_id) {
                if sent != got {
                    let problem = format!(
                        "{}: we sent trace id {sent}, the response carries {got}",
                        obs.request
                    );
                    report.add(None, problem, Cause::NotContinued);
                }
            }
        }
    }
    if obs.expect_trace == ExpectTrace::Absent {
        // Sampling lessons judge these across requests (who recorded them:
        // `sampling::check_parents`).
        if let Some(trace) = obs.trace.as_ref().filter(|_| !sampling) {
            let mut problem = format!(
                "{}: expected no trace, found trace {} with {} spans from {}",
                obs.request,
                trace.trace_id,
                trace.spans.len(),
                trace.services().join(", ")
            );
            // Where the "not sampled" was lost: the earliest span.
            if let Some(first) = trace.spans.iter().min_by_key(|s| s.start_us) {
                problem.push_str(&format!(
                    "; it begins at {}",
                    super::matching::describe(first)
                ));
            }
            report.add(None, problem, Cause::UnexpectedTrace);
        } else if obs.trace.is_none() {
            super::logs::check_untraced_logs(spec, obs, report);
        }
        return missing_rows();
    }
    let Some(trace) = &obs.trace else {
        if !sampling {
            let id = obs
                .sent_trace_id
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_default();
            let problem = format!("{}: no spans arrived for trace {id}", obs.request);
            report.add(None, problem, Cause::NoSpans);
        }
        return missing_rows();
    };

    // A sampled trace must be whole; a fragment says more than its parts.
    if sampling && super::sampling::is_fragment(spec, trace) {
        let mut services = trace.services();
        services.sort_unstable();
        let services = services.join(", ");
        let problem = format!(
            "trace {} has spans of {services} but no root span",
            trace.trace_id
        );
        report.add(None, problem, Cause::Fragment);
        return missing_rows();
    }

    // Sampling lessons judge missing services across all traces (see
    // `sampling::check_parents`); here only the spans of the services present.
    // The rows still show which expected spans this cut trace has.
    if sampling && !super::sampling::is_whole(spec, trace) {
        return expected_rows(spec, |i| {
            match pick_candidate(&spec.trace.spans[i], trace) {
                Some(_) => RowState::Ok,
                None => RowState::Missing,
            }
        });
    }
    // Services first: a missing service explains all of its missing spans.
    let absent_services = whole_trace::check_services(spec, obs, trace, report);
    if absent_services.is_empty() {
        whole_trace::check_orphans(spec, trace, report);
    }
    // Then spans that began a trace of their own: they explain themselves.
    let mut split_off = whole_trace::check_split_spans(spec, obs, trace, &absent_services, report);
    let lost =
        super::in_process::check_lost_spans(spec, obs, trace, &absent_services, &split_off, report);
    split_off.extend(lost);

    let states = spec
        .trace
        .spans
        .iter()
        .enumerate()
        .map(|(index, expected)| {
            if !super::relations::applies(expected, obs) {
                return RowState::OtherRequests;
            }
            if absent_services.contains(&expected.service.as_str()) || split_off.contains(&index) {
                return RowState::Missing;
            }
            match pick_candidate(expected, trace) {
                None if expected.optional => RowState::Absent,
                None => {
                    report.add_on(
                        expected,
                        missing_problem(expected, trace),
                        Cause::SpanMissing,
                    );
                    RowState::Missing
                }
                Some(span) => {
                    let mut problems = match check_span(expected, span, trace) {
                        SpanOutcome::Ok => Vec::new(),
                        SpanOutcome::Problems(problems) => problems,
                    };
                    problems.extend(super::matching::check_count(expected, trace));
                    problems.extend(super::relations::check(expected, span, trace, obs));
                    let state = if problems.is_empty() {
                        RowState::Ok
                    } else {
                        RowState::Problem
                    };
                    for (problem, cause) in problems {
                        report.add_on(expected, problem, cause);
                    }
                    state
                }
            }
        })
        .collect::<Vec<_>>();
    if absent_services.is_empty() {
        super::logs::check_logs(spec, obs, trace, report);
    }
    expected_rows(spec, |i| states[i])
}

fn missing_problem(expected: &SpanSpec, trace: &Trace) -> String {
    // Each name once, with how many spans carry it: an N+1 is one line.
    let mut names: Vec<(&str, usize)> = Vec::new();
    for span in trace
        .spans
        .iter()
        .filter(|s| s.service() == expected.service)
    {
        match names.iter_mut().find(|(n, _)| *n == span.name) {
            Some((_, count)) => *count += 1,
            None => names.push((&span.name, 1)),
        }
    }
    let names: Vec<String> = names
        .into_iter()
        .map(|(name, count)| match count {
            1 => name.to_string(),
            n => format!("{name} (×{n})"),
        })
        .collect();
    format!(
        "span not found; {}'s spans in this trace: {}",
        expected.service,
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    )
}

/// The expected spans with their depth in the expected tree.
fn expected_rows(spec: &Spec, state: impl Fn(usize) -> RowState) -> Vec<SpanRow> {
    let spans = &spec.trace.spans;
    let depth_of = |index: usize| {
        let mut depth = 0;
        let mut current = &spans[index];
        // Bounded walk: a cycle in a check file must not hang the tool.
        while let Some(parent) = &current.parent {
            let found = spans.iter().find(|s| {
                s.service == parent.service
                    && s.name == parent.name
                    && (parent.kind.is_none() || s.kind == parent.kind)
            });
            match found {
                Some(p) if depth < spans.len() => {
                    depth += 1;
                    current = p;
                }
                _ => break,
            }
        }
        depth
    };
    (0..spans.len())
        .map(|i| SpanRow {
            label: spans[i].label(),
            depth: depth_of(i),
            state: state(i),
        })
        .collect()
}
