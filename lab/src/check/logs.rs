//! `logs:` in check.yaml: the log lines a service wrote while serving the
//! request, found by the trace id they carry (natively, in
//! `.lab/logs/<service>.log`; the scenario reads them).

use crate::model::Trace;

use super::diagnosis::Cause;
use super::outcome::{Observation, Report};
use super::spec::Spec;

/// `logs:` — the services' log lines carrying this trace's id.
pub fn check_logs(spec: &Spec, obs: &Observation, trace: &Trace, report: &mut Report) {
    for want in &spec.logs {
        let n = obs
            .logs
            .iter()
            .filter(|(service, line)| {
                service == &want.service
                    && want
                        .contains
                        .as_ref()
                        .is_none_or(|c| line.contains(c.as_str()))
            })
            .count();
        if n < want.min {
            let what = match &want.contains {
                Some(text) => format!(" containing {text:?}"),
                None => String::new(),
            };
            let problem = format!(
                "{} wrote {n} log lines with trace id {}{what}; expected at least {}",
                want.service, trace.trace_id, want.min
            );
            let cause = Cause::LogsMissing {
                service: want.service.clone(),
            };
            report.add(None, problem, cause);
        }
    }
}
