//! Sampling lessons: was the share of traced requests close to the ratio
//! the lesson asks for, and is every sampled trace whole?

use crate::model::{Span, Trace};

use super::diagnosis::Cause;
use super::engine::{Observation, Outcome, Report};
use super::spec::{SamplingSpec, Spec};

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

/// Was the share of traced requests close enough to the expected ratio?
pub fn check_sampling(sampling: &SamplingSpec, observations: &[Observation], report: &mut Report) {
    let answered: Vec<&Observation> = observations
        .iter()
        .filter(|o| matches!(o.response, Outcome::Answered { .. }))
        .collect();
    let sent = answered.len();
    let found = answered.iter().filter(|o| o.trace.is_some()).count();
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
        let cause = if found == sent {
            Cause::SampledEverything
        } else if found == 0 {
            Cause::SampledNothing
        } else {
            Cause::WrongRatio
        };
        report.add(None, problem, cause);
    }
}

/// The accepted number of traced requests out of `n`. Sampling is random,
/// so the count follows a binomial distribution: mean `n·p`, standard
/// deviation `√(n·p·(1−p))`. Four deviations (plus one for rounding) fail
/// a correct setup less than once in 10 000 runs; with enough requests
/// (lesson 09 sends 100) the band still excludes "all" and "none".
/// Width of the default band, in standard deviations.
pub const SIGMAS: f64 = 4.0;

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
