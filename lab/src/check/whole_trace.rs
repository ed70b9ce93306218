//! Checks on the trace as a whole, before single spans: are all services
//! in it (or did one split off into a trace of its own), and does every
//! span's parent exist?

use crate::model::{Span, Trace};

use super::diagnosis::Cause;
use super::matching::describe;
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
    for service in spec.required_services() {
        if present.contains(&service) {
            continue;
        }
        absent_services.push(service);
        match split_trace(spec, trace, &obs.elsewhere, service) {
            // It started a trace of its own: propagation into it broke.
            Some(other) if other.roots().iter().any(|r| r.service() == service) => {
                let mut with = other.services();
                with.retain(|s| *s != service);
                let mut problem = format!(
                    "{service} started a trace of its own ({}) instead of continuing {}",
                    other.trace_id, trace.trace_id
                );
                if !with.is_empty() {
                    problem.push_str(&format!("; {} went along with it", with.join(", ")));
                }
                let cause = Cause::SplitTrace {
                    service: service.to_string(),
                };
                report.add(None, problem, cause);
            }
            // Its spans went along with an upstream service that split off.
            Some(_) => {}
            // The scenario stopped it after the requests: its queued spans
            // could only arrive through the flush at shutdown.
            None if spec.after_requests.stopped().any(|s| s == service) => report.add(
                None,
                format!(
                    "no spans from {service} in trace {}: it was stopped after the requests \
                     and delivered none",
                    trace.trace_id
                ),
                Cause::NotFlushed {
                    service: service.to_string(),
                },
            ),
            None => report.add(
                None,
                format!("no spans from {service} in trace {}", trace.trace_id),
                Cause::ServiceMissing {
                    service: service.to_string(),
                },
            ),
        }
    }
    absent_services
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
pub fn looks_complete(spec: &Spec, trace: &Trace) -> bool {
    let services = trace.services();
    let has_services = spec
        .required_services()
        .iter()
        .all(|s| services.contains(s));
    let has_spans = spec.trace.spans.iter().filter(|s| !s.optional).all(|e| {
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
    let Some(root) = spec.trace.spans.iter().find(|s| s.root) else {
        return Vec::new();
    };
    trace
        .roots()
        .into_iter()
        .filter(|s| !(s.service() == root.service && s.name == root.name))
        .collect()
}

/// Another recent trace holding `service`'s spans that did not start at the
/// expected root (so it is not just another request's healthy trace).
fn split_trace<'a>(
    spec: &Spec,
    trace: &Trace,
    elsewhere: &'a [Trace],
    service: &str,
) -> Option<&'a Trace> {
    let root = spec.trace.spans.iter().find(|s| s.root);
    elsewhere.iter().find(|other| {
        other.trace_id != trace.trace_id
            && other.services().contains(&service)
            && root.is_none_or(|r| {
                !other
                    .roots()
                    .iter()
                    .any(|s| s.service() == r.service && s.name == r.name)
            })
    })
}
