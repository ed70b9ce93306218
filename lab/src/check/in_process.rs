//! Context lost inside one process (lesson 15), told apart from context
//! lost on the wire (lesson 05).
//!
//! - A span of a service began a trace of its own although that service's
//!   SERVER span is in the request's trace: the request did arrive with its
//!   context, and the process lost it on the way to that span (work handed
//!   to a spawned task or another thread). The root of the other trace is an
//!   INTERNAL or CLIENT span, not the SERVER span a broken hop would start.
//!   [`lost_inside`] names that cause for the splits `whole_trace` finds;
//!   [`check_lost_spans`] finds the ones whose root the check does not
//!   expect (a span made up inside the task).
//! - Spans of one request in another request's trace (concurrent requests:
//!   one trace holds a span several times that another lacks): a span stayed
//!   current on a thread while other requests' work ran there
//!   ([`check_mixed_requests`]).

use crate::model::{Span, SpanKind, Trace};

use super::diagnosis::Cause;
use super::matching::{describe, is_expected};
use super::outcome::{Finding, Observation, Report};
use super::spec::{ExpectTrace, SpanSpec, Spec};

/// The cause when `root`, the span that began another trace, is an INTERNAL
/// or CLIENT span of a service whose SERVER span is in `trace`: the context
/// was lost inside that process. None otherwise (a hop on the wire).
pub fn lost_inside(trace: &Trace, root: &Span) -> Option<Cause> {
    if !matches!(root.kind, SpanKind::Internal | SpanKind::Client) {
        return None;
    }
    let server = trace
        .spans
        .iter()
        .find(|s| s.kind == SpanKind::Server && s.service() == root.service())?;
    Some(Cause::LostInProcess {
        service: root.service().to_string(),
        span: root.name.clone(),
        server: server.name.clone(),
    })
}

/// Expected spans missing from `trace` (and not already explained, e.g. by
/// `whole_trace::check_split_spans`) that sit in another recent trace whose
/// root is an INTERNAL or CLIENT span of a service that has its SERVER span
/// in `trace`, and that began while that SERVER span was open: a span made
/// up inside a spawned task, with no parent, began that trace. One finding
/// per such trace; returns the expected spans it explains.
pub fn check_lost_spans(
    spec: &Spec,
    obs: &Observation,
    trace: &Trace,
    absent_services: &[&str],
    explained: &[usize],
    report: &mut Report,
) -> Vec<usize> {
    let missing: Vec<usize> = (0..spec.trace.spans.len())
        .filter(|i| {
            let expected = &spec.trace.spans[*i];
            super::relations::required_in(expected, obs)
                && !explained.contains(i)
                && !absent_services.contains(&expected.service.as_str())
                && !trace.spans.iter().any(|s| is_expected(expected, s))
        })
        .collect();
    let expected_roots = spec.trace.spans.iter().filter(|s| s.root);
    let mut found = Vec::new();
    let mut reported = Vec::new();
    for &index in &missing {
        let expected = &spec.trace.spans[index];
        let lost = obs.elsewhere.iter().find_map(|other| {
            if other.trace_id == trace.trace_id {
                return None;
            }
            let span = other.spans.iter().find(|s| is_expected(expected, s))?;
            let root = root_of(other, span);
            // Another request's healthy trace explains nothing, nor does a
            // job of that service begun at its own time: the work must have
            // been handed off while this request was served.
            let healthy = expected_roots.clone().any(|r| is_expected(r, root));
            let cause =
                lost_inside(trace, root).filter(|_| !healthy && began_while_served(trace, root))?;
            Some((other, root, cause))
        });
        let Some((other, root, cause)) = lost else {
            continue;
        };
        found.push(index);
        if reported.contains(&other.trace_id) {
            continue;
        }
        reported.push(other.trace_id.clone());
        // Its own service's spans by name, the other services by name.
        let mut names: Vec<&str> = Vec::new();
        let mut services: Vec<&str> = Vec::new();
        for span in other.spans.iter().filter(|s| s.span_id != root.span_id) {
            if span.service() != root.service() {
                if !services.contains(&span.service()) {
                    services.push(span.service());
                }
            } else if !names.contains(&span.name.as_str()) {
                names.push(&span.name);
            }
        }
        let mut problem = format!(
            "{} started a trace of its own ({}) instead of continuing {}",
            describe(root),
            other.trace_id,
            trace.trace_id
        );
        if !names.is_empty() {
            problem.push_str(&format!("; {} went along with it", names.join(", ")));
        }
        if !services.is_empty() {
            problem.push_str(&format!(", and {}", services.join(", ")));
        }
        report.add(Some(expected.label()), problem, cause);
    }
    found
}

/// How many of a span one trace holds.
type Held<'a> = (usize, &'a Trace);

/// Concurrent requests whose spans landed in each other's traces: for an
/// expected span with a `count`, one request's trace holds more than the
/// count allows while another's holds fewer. One finding for the check
/// (the count and missing-span findings of those spans are its symptoms
/// and are folded into it).
fn check_mixed_requests(spec: &Spec, observations: &[Observation], report: &mut Report) {
    let traces: Vec<&Trace> = observations
        .iter()
        .filter(|o| o.expect_trace == ExpectTrace::Present)
        .filter_map(|o| o.trace.as_ref())
        .collect();
    if traces.len() < 2 {
        return;
    }
    // (the span, the trace holding too many and how many, one holding too few)
    let mut mixed: Vec<(&SpanSpec, Held, Held)> = Vec::new();
    for expected in spec.trace.spans.iter().filter(|s| s.required_everywhere()) {
        let Some((min, max)) = expected.count.map(|c| c.bounds()) else {
            continue;
        };
        let counts: Vec<(usize, &Trace)> = traces
            .iter()
            .map(|t| {
                (
                    t.spans.iter().filter(|s| is_expected(expected, s)).count(),
                    *t,
                )
            })
            .collect();
        let over = counts.iter().find(|(n, _)| *n > max);
        let under = counts.iter().find(|(n, _)| *n < min);
        if let (Some(over), Some(under)) = (over, under) {
            mixed.push((expected, *over, *under));
        }
    }
    let Some((first, (more, crowded), (fewer, short))) = mixed.first().copied() else {
        return;
    };
    let labels: Vec<String> = mixed.iter().map(|(e, _, _)| e.label()).collect();
    let services: Vec<&str> = mixed.iter().map(|(e, _, _)| e.service.as_str()).collect();
    // Symptoms, not causes: too many here, missing there, and a service
    // whose only spans went into another request's trace did export them.
    report.findings.retain(|f| match &f.cause {
        Cause::WrongCount | Cause::SpanMissing => {
            !f.span.as_ref().is_some_and(|l| labels.contains(l))
        }
        Cause::ServiceMissing { service } => !services.contains(&service.as_str()),
        _ => true,
    });
    let others: Vec<&str> = mixed[1..].iter().map(|(e, _, _)| e.name.as_str()).collect();
    let fewer = match fewer {
        0 => "none".to_string(),
        n => n.to_string(),
    };
    let mut problem = format!(
        "trace {} holds {more} of them and trace {} {fewer}: one request's spans are in \
         another request's trace",
        crowded.trace_id, short.trace_id
    );
    if !others.is_empty() {
        problem.push_str(&format!("; so are {}", others.join(", ")));
    }
    let cause = Cause::MixedRequests {
        service: first.service.clone(),
        span: first.name.clone(),
    };
    // The conclusive finding: it explains the counts and the missing spans.
    report
        .findings
        .insert(0, Finding::new(Some(first.label()), problem, cause));
}

/// One `lost-in-process` finding per service: the spans of one spawned task
/// each begin a trace of their own (the calls, the steps), and they have one
/// cause. The first finding stays and names the others.
fn fold_lost(report: &mut Report) {
    let mut kept: Vec<(usize, String, Vec<String>)> = Vec::new(); // (index, service, spans)
    let mut drop = Vec::new();
    for (index, finding) in report.findings.iter().enumerate() {
        let Cause::LostInProcess { service, span, .. } = &finding.cause else {
            continue;
        };
        match kept.iter_mut().find(|(_, s, _)| s == service) {
            Some((_, _, spans)) => {
                if !spans.contains(span) {
                    spans.push(span.clone());
                }
                drop.push(index);
            }
            None => kept.push((index, service.clone(), vec![span.clone()])),
        }
    }
    for (index, service, spans) in &kept {
        if spans.len() > 1 {
            let finding = &mut report.findings[*index];
            finding
                .problem
                .push_str(&format!("; so did {service}'s {}", spans[1..].join(", ")));
        }
    }
    let mut index = 0;
    report.findings.retain(|_| {
        index += 1;
        !drop.contains(&(index - 1))
    });
}

/// The checks on all of a check's requests together, once each request's
/// trace is checked: mixed-up requests, then one finding per process that
/// lost the context.
pub fn check_all(spec: &Spec, observations: &[Observation], report: &mut Report) {
    check_mixed_requests(spec, observations, report);
    fold_lost(report);
}

/// Did `root` begin while a SERVER span of its service in `trace` was open?
fn began_while_served(trace: &Trace, root: &Span) -> bool {
    trace.spans.iter().any(|s| {
        s.kind == SpanKind::Server
            && s.service() == root.service()
            && (s.start_us..=s.end_us()).contains(&root.start_us)
    })
}

/// The topmost ancestor of `span` within `trace`.
fn root_of<'a>(trace: &'a Trace, span: &'a Span) -> &'a Span {
    let mut current = span;
    // Bounded: a cycle in broken data must not hang the check.
    for _ in 0..trace.spans.len() {
        match trace.parent_of(current) {
            Some(parent) => current = parent,
            None => break,
        }
    }
    current
}
