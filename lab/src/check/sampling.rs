//! Sampling lessons: was the share of traced requests close to the ratio
//! the lesson asks for, and is every sampled trace whole?

use crate::model::{Span, Trace};

use super::diagnosis::Cause;
use super::outcome::{Observation, Outcome, Report};
use super::spec::{ExpectTrace, KeptSpec, SamplingSpec, Spec, TraceparentSpec};

/// A trace without the expected root span: a downstream service kept its
/// part of a request the gateway did not sample.
pub fn is_fragment(spec: &Spec, trace: &Trace) -> bool {
    let Some(root) = spec.trace.spans.iter().find(|s| s.root) else {
        return false;
    };
    !trace
        .roots()
        .iter()
        .any(|s: &&Span| s.service() == root.service && s.name == root.name)
}

/// Whether a sampled trace has every required service.
pub fn is_whole(spec: &Spec, trace: &Trace) -> bool {
    let present = trace.services();
    spec.required_services().iter().all(|s| present.contains(s))
}

/// Services that decide again instead of following the decision that
/// arrived in `traceparent`, one finding per service with every sign of it:
/// traces that kept their root but lost a downstream service's part (that
/// service dropped it); requests sent marked "not sampled" that left a trace
/// (the service of its root recorded it); requests sent marked "sampled"
/// that left none (the first service dropped it). A service missing from
/// every trace is not sampling, it is not exporting: `ServiceMissing`.
pub fn check_parents(spec: &Spec, observations: &[Observation], report: &mut Report) {
    let mut signs: Vec<(String, Vec<String>)> = Vec::new();
    let mut sign =
        |service: String, fact: String| match signs.iter_mut().find(|(s, _)| *s == service) {
            Some((_, facts)) => facts.push(fact),
            None => signs.push((service, vec![fact])),
        };
    let traces: Vec<&Trace> = observations
        .iter()
        .filter(|o| o.expect_trace == ExpectTrace::Present)
        .filter_map(|o| o.trace.as_ref())
        .filter(|t| !is_fragment(spec, t))
        .collect();
    let cut: Vec<&Trace> = traces
        .iter()
        .copied()
        .filter(|t| !is_whole(spec, t))
        .collect();
    let required = spec.required_services();
    if let Some(first_cut) = cut.first() {
        if let Some(service) = required
            .iter()
            .find(|s| !first_cut.services().contains(s))
            .map(|s| s.to_string())
        {
            let seen_somewhere = traces
                .iter()
                .any(|t| t.services().contains(&service.as_str()));
            if seen_somewhere {
                let fact = format!(
                    "{} of {} kept traces have the gateway's spans but none from {service} or the \
                     services it calls (e.g. trace {})",
                    cut.len(),
                    traces.len(),
                    first_cut.trace_id
                );
                sign(service, fact);
            } else {
                let problem = format!(
                    "no spans from {service} in any of the {} traces (e.g. trace {})",
                    traces.len(),
                    first_cut.trace_id
                );
                report.add(None, problem, Cause::ServiceMissing { service });
            }
        }
    }
    // Requests sent marked "not sampled" that left a trace: whoever made its
    // root span decided again.
    let unsampled: Vec<&Observation> = observations
        .iter()
        .filter(|o| o.expect_trace == ExpectTrace::Absent && o.sent_trace_id.is_some())
        .collect();
    let mut recorded: Vec<(String, usize, String)> = Vec::new();
    for trace in unsampled.iter().filter_map(|o| o.trace.as_ref()) {
        let service = trace
            .roots()
            .iter()
            .min_by_key(|s| s.start_us)
            .map_or("?", |s| s.service())
            .to_string();
        match recorded.iter_mut().find(|(s, _, _)| *s == service) {
            Some((_, n, _)) => *n += 1,
            None => recorded.push((service, 1, trace.trace_id.to_string())),
        }
    }
    for (service, n, example) in recorded {
        let fact = format!(
            "{n} of {} requests sent marked \"not sampled\" were recorded from {service} on \
             (e.g. trace {example})",
            unsampled.len()
        );
        sign(service, fact);
    }
    // Phases sent marked "sampled" (with `kept`): each should leave a trace.
    let root = spec
        .trace
        .spans
        .iter()
        .find(|s| s.root)
        .map_or("api-gateway", |s| s.service.as_str());
    for (phase, request) in spec.requests.iter().enumerate() {
        let (Some(kept), Some(TraceparentSpec::Sampled)) = (&request.kept, request.traceparent)
        else {
            continue;
        };
        let answered: Vec<&Observation> = observations
            .iter()
            .filter(|o| o.phase == phase && matches!(o.response, Outcome::Answered { .. }))
            .collect();
        let sent = answered.len();
        let found = answered.iter().filter(|o| has_kept_trace(spec, o)).count();
        let band = SamplingSpec {
            ratio: kept.share.unwrap_or(1.0),
            tolerance: None,
        };
        if sent > 0 && (found as f64) < sampling_band(&band, sent).0 {
            let fact = format!(
                "{} of {sent} requests sent marked \"sampled\" left no trace: {root} dropped them",
                sent - found
            );
            sign(root.to_string(), fact);
        }
    }
    for (service, facts) in signs {
        let problem = format!("{service} decides again: {}", facts.join("; "));
        report.add(None, problem, Cause::ParentIgnored { service });
    }
}

/// Was the share of traced requests close enough to the expected ratio?
/// A fragment (a trace without its root: a downstream service recorded a
/// request the first one dropped) is not a kept trace: it has a finding of
/// its own.
pub fn check_sampling(
    spec: &Spec,
    sampling: &SamplingSpec,
    observations: &[Observation],
    report: &mut Report,
) {
    // Requests sent with a traceparent of ours were decided by it, not by
    // the sampler: they do not count towards the share.
    let answered: Vec<&Observation> = observations
        .iter()
        .filter(|o| matches!(o.response, Outcome::Answered { .. }))
        .filter(|o| o.sent_trace_id.is_none())
        .collect();
    let sent = answered.len();
    let found = answered.iter().filter(|o| has_kept_trace(spec, o)).count();
    report.sampled = Some((found, sent));
    if sent == 0 {
        return;
    }
    let (low, high) = sampling_band(sampling, sent);
    if (found as f64) < low || (found as f64) > high {
        let problem = format!(
            "{found} of {sent} requests were traced ({:.0}%); expected about {:.0}% \
             ({} to {} traces)",
            100.0 * found as f64 / sent as f64,
            100.0 * sampling.ratio,
            low.ceil() as usize,
            high.floor() as usize
        );
        report.add(None, problem, share_cause(found, sent));
    }
}

/// Per load phase with `kept`: its share of traced requests, or its traces
/// per second against the target. Every phase adds a line to the report.
/// A phase sent with a sampled `traceparent` counts too: there the decision
/// was made upstream, and a parent-based sampler keeps every such request.
pub fn check_kept(spec: &Spec, observations: &[Observation], report: &mut Report) {
    for (phase, request) in spec.requests.iter().enumerate() {
        let Some(kept) = &request.kept else {
            continue;
        };
        let with_parent = request.traceparent == Some(TraceparentSpec::Sampled);
        let answered: Vec<&Observation> = observations
            .iter()
            .filter(|o| o.phase == phase && (with_parent || o.sent_trace_id.is_none()))
            .filter(|o| matches!(o.response, Outcome::Answered { .. }))
            .collect();
        let sent = answered.len();
        if sent == 0 {
            continue;
        }
        let found = answered.iter().filter(|o| has_kept_trace(spec, o)).count();
        if with_parent {
            // Judged with the other signs of a parent ignored (check_parents).
            report.phases.push(format!(
                "phase {}: {found} of {sent} requests sent marked \"sampled\" traced",
                phase + 1
            ));
            continue;
        }
        let secs = answered[0].phase_secs.max(f64::EPSILON);
        let per_second = found as f64 / secs;
        let line = format!(
            "phase {}: {found} of {sent} requests traced in {secs:.1} s ({per_second:.1} traces/s)",
            phase + 1
        );
        report.phases.push(line.clone());
        if let Some(problem) = phase_problem(kept, found, sent, per_second) {
            report.add(None, format!("{line}; {}", problem.0), problem.1);
        }
    }
}

/// Whether the request left a kept trace: one with its root, not a fragment.
fn has_kept_trace(spec: &Spec, observation: &Observation) -> bool {
    observation
        .trace
        .as_ref()
        .is_some_and(|t| !is_fragment(spec, t))
}

/// What is wrong with one phase, if anything.
fn phase_problem(
    kept: &KeptSpec,
    found: usize,
    sent: usize,
    per_second: f64,
) -> Option<(String, Cause)> {
    if let Some(target) = kept.per_second {
        let factor = kept.factor.unwrap_or(2.0);
        let (low, high) = (target / factor, target * factor);
        let expected = format!("expected about {target} per second ({low:.1} to {high:.1})");
        return if per_second > high {
            Some((expected, Cause::OverTarget))
        } else if per_second < low {
            Some((expected, Cause::UnderTarget))
        } else {
            None
        };
    }
    let ratio = kept.share.unwrap_or(1.0);
    let band = SamplingSpec {
        ratio,
        tolerance: None,
    };
    let (low, high) = sampling_band(&band, sent);
    if (found as f64) >= low && (found as f64) <= high {
        return None;
    }
    let expected = format!(
        "expected about {:.0}% ({} to {} traces)",
        100.0 * ratio,
        low.ceil() as usize,
        high.floor() as usize
    );
    Some((expected, share_cause(found, sent)))
}

/// Why `found` of `sent` is outside the band: all, none, or a wrong share.
fn share_cause(found: usize, sent: usize) -> Cause {
    if found == sent {
        Cause::SampledEverything
    } else if found == 0 {
        Cause::SampledNothing
    } else {
        Cause::WrongRatio
    }
}

/// Width of the default band, in standard deviations.
pub const SIGMAS: f64 = 4.0;

/// The accepted number of traced requests out of `n`. Sampling is random,
/// so the count follows a binomial distribution: mean `n·p`, standard
/// deviation `√(n·p·(1−p))`. Four deviations (plus one for rounding) fail
/// a correct setup less than once in 10 000 runs; with enough requests
/// (lesson 09 sends 100) the band still excludes "all" and "none".
pub fn sampling_band(sampling: &SamplingSpec, n: usize) -> (f64, f64) {
    let n_f = n as f64;
    let p = sampling.ratio;
    let (low, high) = match sampling.tolerance {
        Some(tolerance) => (n_f * (p - tolerance), n_f * (p + tolerance)),
        None => {
            let spread = SIGMAS * (n_f * p * (1.0 - p)).sqrt() + 1.0;
            (n_f * p - spread, n_f * p + spread)
        }
    };
    (low.max(0.0), high.min(n_f))
}
