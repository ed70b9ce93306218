//! Checks on the trace as a whole, before single spans: are all services
//! in it (or did one split off into a trace of its own), did an expected
//! span begin a trace of its own (a context lost across a queue), and does
//! every span's parent exist?

use crate::model::{Span, Trace};

use super::diagnosis::Cause;
use super::matching::{describe, is_expected};
use super::outcome::{Observation, Report};
use super::spec::Spec;

/// Reports services missing from `trace`, telling a split-off trace
/// (broken propagation) from a silent service (broken export). Returns the
/// missing services.
pub fn check_services<'a>(
    spec: &'a Spec,
    obs: &Observation,
    trace: &Trace,
    report: &mut Report,
) -> Vec<&'a str> {
    let present = trace.services();
    let mut absent_services = Vec::new();
    // A service the scenario stopped that has no spans here: if its
    // telemetry was shut down while it still served, its calls carried no
    // context, and its callees began traces of their own. That is its
    // finding, not a propagation bug of theirs.
    let stopped_silent: Vec<&str> = spec
        .after_requests
        .stopped()
        .filter(|s| !present.contains(s))
        .collect();
    let mut cut_off = Vec::new();
    let mut not_flushed = Vec::new();
    for service in spec.required_services() {
        if present.contains(&service) {
            continue;
        }
        absent_services.push(service);
        // Where its spans went: preferably a trace that `service` began
        // itself, and one that began while this request was being served
        // (another request's pieces may be among the recent traces).
        let holds = |t: &Trace| t.services().contains(&service);
        let began_by = |t: &Trace| t.roots().iter().any(|r| r.service() == service);
        let split = split_trace(spec, trace, &obs.elsewhere, |t| {
            holds(t) && began_by(t) && during(trace, t, service)
        })
        .or_else(|| split_trace(spec, trace, &obs.elsewhere, |t| holds(t) && began_by(t)))
        .or_else(|| split_trace(spec, trace, &obs.elsewhere, holds));
        // The span of `service` that began that trace, if one did.
        let began = split.and_then(|other| {
            let roots = other.roots();
            roots
                .iter()
                .find(|r| r.service() == service)
                .map(|r| (*r).clone())
        });
        match (split, began) {
            (Some(_), Some(_))
                if !stopped_silent.is_empty() && !stopped_silent.contains(&service) =>
            {
                cut_off.push(service);
            }
            // It started a trace of its own: propagation into it broke.
            (Some(other), Some(root)) => {
                let mut problem = format!(
                    "{service} started a trace of its own ({}, root span {}) instead of \
                     continuing {}",
                    other.trace_id,
                    describe(&root),
                    trace.trace_id
                );
                let with = others_in(other, service);
                if !with.is_empty() {
                    problem.push_str(&format!("; {} went along with it", with.join(", ")));
                }
                let cause = Cause::SplitTrace {
                    service: service.to_string(),
                    kind: root.kind,
                };
                report.add(None, problem, cause);
            }
            // Its spans went along with an upstream service that split off.
            (Some(_), None) => {}
            // The scenario stopped it after the requests: its queued spans
            // could only arrive through the flush at shutdown.
            (None, _)
                if spec.after_requests.stopped().any(|s| s == service)
                    && knew_the_trace(spec, obs, service) =>
            {
                not_flushed.push(service);
            }
            (None, _) => report.add(
                None,
                format!("no spans from {service} in trace {}", trace.trace_id),
                Cause::ServiceMissing {
                    service: service.to_string(),
                },
            ),
        }
    }
    for service in not_flushed {
        let mut problem = format!(
            "no spans from {service} in trace {}: it was stopped {} and delivered none",
            trace.trace_id,
            super::relations::when_stopped(spec, obs)
        );
        if !cut_off.is_empty() {
            problem.push_str(&format!(
                "; {} began traces of their own: {service}'s calls carried no trace context, \
                 as they do once its telemetry has been shut down",
                cut_off.join(" and ")
            ));
        }
        report.add(
            None,
            problem,
            Cause::NotFlushed {
                service: service.to_string(),
            },
        );
    }
    absent_services
}

/// Did `service` know this trace? A line of its log with the trace's id
/// says it did: it had the context, so it had telemetry, and a service the
/// scenario stopped that delivered no span then lost them at shutdown. A
/// service whose lines never name the trace sends nothing at all (it has
/// no telemetry): that is judged only where the check reads its log.
fn knew_the_trace(spec: &Spec, obs: &Observation, service: &str) -> bool {
    let log_read = spec.logs.iter().any(|entry| entry.service == service);
    !log_read || obs.logs.iter().any(|(from, _)| from == service)
}

/// Expected spans missing from `trace` although their service is in it:
/// did one of them begin a trace of its own? That is how a context lost on
/// an asynchronous hop shows itself: the request's trace is whole up to the
/// producer, and the consumer's spans form another trace, rooted at the
/// CONSUMER span. One finding per such trace, naming the span that began it;
/// the expected spans found there are returned (they are explained, not
/// missing). A span found under a root the check does not expect (another
/// job's trace) explains nothing.
pub fn check_split_spans(
    spec: &Spec,
    obs: &Observation,
    trace: &Trace,
    absent_services: &[&str],
    report: &mut Report,
) -> Vec<usize> {
    let wanted = |index: usize| {
        let expected = &spec.trace.spans[index];
        super::relations::required_in(expected, obs)
            && !absent_services.contains(&expected.service.as_str())
            && !trace.spans.iter().any(|s| is_expected(expected, s))
    };
    let missing: Vec<usize> = (0..spec.trace.spans.len()).filter(|i| wanted(*i)).collect();
    // The span that began `other`, if it is one this trace lacks.
    let began = |other: &Trace| -> Option<Span> {
        let roots = other.roots();
        let root = roots.iter().find(|r| {
            missing
                .iter()
                .any(|&i| is_expected(&spec.trace.spans[i], r))
        })?;
        Some((*root).clone())
    };
    let mut explained = Vec::new();
    let mut reported = Vec::new();
    for &index in &missing {
        let expected = &spec.trace.spans[index];
        let holds =
            |t: &Trace| t.spans.iter().any(|s| is_expected(expected, s)) && began(t).is_some();
        // Among several such traces (other requests' messages), the one
        // that links back to this trace is this request's.
        let links_here = |t: &Trace| {
            began(t).is_some_and(|r| r.links.iter().any(|l| l.trace_id == trace.trace_id))
        };
        let Some(other) = split_trace(spec, trace, &obs.elsewhere, |t| holds(t) && links_here(t))
            .or_else(|| split_trace(spec, trace, &obs.elsewhere, holds))
        else {
            continue;
        };
        let Some(root) = began(other) else { continue };
        explained.extend(missing.iter().filter(|&&i| {
            other
                .spans
                .iter()
                .any(|s| is_expected(&spec.trace.spans[i], s))
        }));
        if reported.contains(&other.trace_id) {
            continue;
        }
        reported.push(other.trace_id.clone());
        let mut problem = format!(
            "{} started a trace of its own ({}) instead of continuing {}",
            describe(&root),
            other.trace_id,
            trace.trace_id
        );
        // A link into this trace instead of a parent in it.
        let linked = root
            .links
            .iter()
            .filter(|l| l.trace_id == trace.trace_id)
            .find_map(|l| trace.spans.iter().find(|s| s.span_id == l.span_id));
        if let Some(target) = linked {
            problem.push_str(&format!(
                ", with a link to {} there: linked to it, not its child",
                describe(target)
            ));
        }
        let mut with: Vec<&str> = Vec::new();
        for span in other.spans.iter().filter(|s| s.span_id != root.span_id) {
            if !with.contains(&span.name.as_str()) {
                with.push(&span.name);
            }
        }
        if !with.is_empty() {
            problem.push_str(&format!("; {} went along with it", with.join(", ")));
        }
        let label = spec
            .trace
            .spans
            .iter()
            .find(|e| is_expected(e, &root))
            .map(|e| e.label());
        // An INTERNAL or CLIENT root of a service whose SERVER span is here:
        // lost inside the process, not on the wire (see `in_process`).
        let cause = match linked {
            Some(_) => Cause::LinkedNotChild {
                service: root.service().to_string(),
            },
            None => super::in_process::lost_inside(trace, &root).unwrap_or(Cause::SplitTrace {
                service: root.service().to_string(),
                kind: root.kind,
            }),
        };
        report.add(label, problem, cause);
    }
    explained.sort_unstable();
    explained.dedup();
    explained
}

/// Reports spans whose parent is not in the trace (other than the root).
pub fn check_orphans(spec: &Spec, trace: &Trace, report: &mut Report) {
    for orphan in unexpected_roots(spec, trace) {
        let parent = orphan.parent_span_id.as_deref().unwrap_or("none");
        let problem = format!(
            "span {} has parent {parent}, which is not in the trace",
            describe(orphan)
        );
        report.add(None, problem, Cause::Orphan);
    }
}

/// Whether a fetched trace looks whole enough to stop waiting for spans:
/// every required service and span is there, and no span is missing its
/// parent (a parent still sitting in some service's export queue).
pub fn looks_complete(spec: &Spec, obs: &Observation, trace: &Trace) -> bool {
    let services = trace.services();
    let has_services = spec
        .required_services()
        .iter()
        .all(|s| services.contains(s));
    let has_spans = spec
        .trace
        .spans
        .iter()
        .filter(|s| super::relations::required_in(s, obs))
        .all(|e| {
            trace
                .spans
                .iter()
                .any(|s| s.service() == e.service && s.name == e.name)
        });
    has_services && has_spans && unexpected_roots(spec, trace).is_empty()
}

/// Roots other than the expected root span: spans whose parent is not in
/// the trace although it should be.
fn unexpected_roots<'a>(spec: &Spec, trace: &'a Trace) -> Vec<&'a Span> {
    if !spec.trace.spans.iter().any(|s| s.root) {
        return Vec::new();
    }
    trace
        .roots()
        .into_iter()
        .filter(|s| !is_expected_root(spec, s))
        .collect()
}

/// Is `span` one of the roots the check expects? A check whose requests
/// take several routes (`POST /orders`, `GET /orders`) names a root for each.
fn is_expected_root(spec: &Spec, span: &Span) -> bool {
    spec.trace
        .spans
        .iter()
        .any(|r| r.root && span.service() == r.service && span.name == r.name)
}

/// Another recent trace that `holds` what is missing and did not start at
/// the expected root (so it is not just another request's healthy trace).
fn split_trace<'a>(
    spec: &Spec,
    trace: &Trace,
    elsewhere: &'a [Trace],
    holds: impl Fn(&Trace) -> bool,
) -> Option<&'a Trace> {
    elsewhere.iter().find(|other| {
        other.trace_id != trace.trace_id
            && holds(other)
            && !other.roots().iter().any(|s| is_expected_root(spec, s))
    })
}

/// Did `service`'s root span in `other` begin while `trace` was being
/// served (its first span to its last, give or take 250 ms of clock skew)?
/// That tells this request's split-off pieces from another request's.
fn during(trace: &Trace, other: &Trace, service: &str) -> bool {
    const SLACK_US: u64 = 250_000;
    let (start, end) = (trace.start_us(), trace.end_us());
    other
        .roots()
        .iter()
        .filter(|r| r.service() == service)
        .any(|r| r.start_us + SLACK_US >= start && r.start_us <= end + SLACK_US)
}

/// The other services in `other`, each with the names of its spans there:
/// `user-service's process orders, UPDATE users`.
fn others_in(other: &Trace, service: &str) -> Vec<String> {
    other
        .services()
        .into_iter()
        .filter(|s| *s != service)
        .map(|s| {
            let mut names: Vec<&str> = Vec::new();
            for span in other.spans.iter().filter(|x| x.service() == s) {
                if !names.contains(&span.name.as_str()) {
                    names.push(&span.name);
                }
            }
            format!("{s}'s {}", names.join(", "))
        })
        .collect()
}
