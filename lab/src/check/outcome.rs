//! What a check found: the observations it made ([`Observation`]) and the
//! [`Report`] of findings and rows that `engine`, `sampling`, `whole_trace`
//! and the other checks all write to. Data only, so those modules depend on
//! this one and not on each other.

use crate::model::{Trace, TraceId};

use super::diagnosis::Cause;
use super::spec::{ExpectTrace, SpanSpec};

/// What happened to one request of the scenario.
#[derive(Clone, Debug)]
pub struct Observation {
    /// `POST /orders`, for messages.
    pub request: String,
    pub expected_status: Option<u16>,
    pub response: Outcome,
    /// The trace id `lab check` put in its `traceparent` (none for sampling lessons).
    pub sent_trace_id: Option<TraceId>,
    /// The trace fetched for this request, if the backend had it.
    pub trace: Option<Trace>,
    /// Other recent traces with spans of services, or expected spans,
    /// missing from `trace`: where they went when propagation broke.
    pub elsewhere: Vec<Trace>,
    /// Whether this request should leave a trace at all.
    pub expect_trace: ExpectTrace,
    /// Log lines carrying the trace id: (service, line); with them, lines
    /// that hold the id in another field or form (see
    /// `crate::logs::mentions_of`).
    pub logs: Vec<(String, String)>,
    /// Which entry of the check's `requests` sent it (its load phase).
    pub phase: usize,
    /// How long that phase took to send, in seconds.
    pub phase_secs: f64,
    /// The JSON body of the answer (`equals_response`), if it was JSON.
    pub response_body: Option<serde_json::Value>,
}

impl Observation {
    /// A request answered with `status`, nothing else known yet.
    pub fn answered(request: &str, status: u16, trace_id: Option<TraceId>) -> Observation {
        Observation {
            request: request.to_string(),
            expected_status: Some(status),
            response: Outcome::Answered {
                status,
                trace_id: trace_id.clone(),
                error: None,
            },
            sent_trace_id: trace_id,
            trace: None,
            elsewhere: Vec::new(),
            expect_trace: ExpectTrace::Present,
            logs: Vec::new(),
            phase: 0,
            phase_secs: 0.0,
            response_body: None,
        }
    }
}

/// The gateway's answer.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// No answer at all (connection refused, timeout).
    Unreachable(String),
    Answered {
        status: u16,
        /// `trace_id` from the JSON body.
        trace_id: Option<TraceId>,
        /// `error` from the JSON body.
        error: Option<String>,
    },
}

/// One mismatch: what differs, on which span, and why it probably does.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The expected span it concerns, e.g. `order-service POST /orders (server)`.
    pub span: Option<String>,
    /// Expected vs actual, in one line.
    pub problem: String,
    pub cause: Cause,
    /// In how many of the requests it happened.
    pub count: usize,
    /// The same mismatch in other requests, where its numbers differ (a 409
    /// beside a 400): said too, or "(in 2 requests)" would hide them.
    pub others: Vec<String>,
    /// The piece of instrumentation the span proves (`piece:` in check.yaml).
    pub piece: Option<String>,
}

impl Finding {
    /// A finding seen in one request so far.
    pub fn new(span: Option<String>, problem: String, cause: Cause) -> Self {
        Finding {
            span,
            problem,
            cause,
            count: 1,
            others: Vec::new(),
            piece: None,
        }
    }
}

/// How many differing variants of one finding are listed; more would bury
/// the next finding.
const OTHERS_SHOWN: usize = 3;

/// How one expected span fared in the displayed trace (for the side-by-side view).
#[derive(Clone, Debug)]
pub struct SpanRow {
    pub label: String,
    /// Depth in the expected tree (from the `parent` links).
    pub depth: usize,
    pub state: RowState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowState {
    Ok,
    Problem,
    Missing,
    /// An optional span that was not there.
    Absent,
    /// A span checked only in other requests' traces (`for_status`).
    OtherRequests,
}

/// The result of a check.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub rows: Vec<SpanRow>,
    /// The trace shown beside the expectations (the first one with a problem).
    pub shown: Option<Trace>,
    /// Sampling lessons: traces found / requests answered.
    pub sampled: Option<(usize, usize)>,
    /// Load phases with `kept`: one line each, e.g. "phase 2: 31 of 200 ...".
    pub phases: Vec<String>,
    /// The lesson's own words per cause key (check.yaml `diagnosis`).
    pub notes: std::collections::BTreeMap<String, String>,
    /// Questions not answered on the command line: (key, text).
    pub unanswered: Vec<(String, String)>,
    /// Answers given on the command line that are right: `key=value`.
    pub right_answers: Vec<String>,
    /// `logs:` lessons: what the first request's log lines showed.
    pub logs: Option<LogRows>,
}

/// The log lines of one request's trace, one row per `logs:` entry.
#[derive(Clone, Debug)]
pub struct LogRows {
    pub trace_id: TraceId,
    pub rows: Vec<LogRow>,
}

/// e.g. ✓ order-service  1 line with "order.confirmed", in span ac2184c0 (POST /orders)
#[derive(Clone, Debug)]
pub struct LogRow {
    pub passed: bool,
    pub service: String,
    pub text: String,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }

    /// The cause keys, in the order found; the first is the conclusive one.
    pub fn cause_keys(&self) -> Vec<&'static str> {
        self.findings.iter().map(|f| f.cause.key()).collect()
    }

    /// A finding on an expected span, with the piece that span proves.
    pub(super) fn add_on(&mut self, span: &SpanSpec, problem: String, cause: Cause) {
        let label = span.label();
        self.add(Some(label.clone()), problem, cause.clone());
        let Some(piece) = &span.piece else { return };
        // The finding it became (new, or one it was counted into).
        let found = self
            .findings
            .iter_mut()
            .rev()
            .find(|f| f.span.as_deref() == Some(label.as_str()) && f.cause == cause);
        if let Some(finding) = found {
            finding.piece.get_or_insert_with(|| piece.clone());
        }
    }

    pub(super) fn add(&mut self, span: Option<String>, problem: String, cause: Cause) {
        // The same mismatch in many requests is one finding with a count
        // (compared without trace ids, which differ from request to request).
        // On a span, where a value differs from request to request (an order
        // id, a duration, a `sampling.ratio` of 1.67 here and 2.5 there), the
        // same mismatch with other numbers is one finding too.
        let key = without_ids(&problem);
        let per_request = span.is_some();
        let same = |f: &Finding| {
            without_ids(&f.problem) == key
                || per_request && without_numbers(&without_ids(&f.problem)) == without_numbers(&key)
        };
        match self
            .findings
            .iter_mut()
            .find(|f| f.span == span && f.cause == cause && same(f))
        {
            Some(existing) => {
                existing.count += 1;
                let differs = without_ids(&existing.problem) != key
                    && !existing.others.iter().any(|o| without_ids(o) == key);
                if differs && existing.others.len() < OTHERS_SHOWN {
                    existing.others.push(problem);
                }
            }
            None => self.findings.push(Finding::new(span, problem, cause)),
        }
    }
}

/// `problem` with every number (`5`, `2.5`, `1.6667`) replaced by `#`.
fn without_numbers(problem: &str) -> String {
    static NUMBER: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    NUMBER
        .get_or_init(|| regex::Regex::new(r"[0-9]+(\.[0-9]+)?").expect("a valid pattern"))
        .replace_all(problem, "#")
        .into_owned()
}

/// `problem` with every 32-hex-digit trace id replaced by `…`.
fn without_ids(problem: &str) -> String {
    problem
        .split(' ')
        .map(|word| {
            let hex = word.trim_matches(|c: char| !c.is_ascii_hexdigit());
            if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                word.replace(hex, "…")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
