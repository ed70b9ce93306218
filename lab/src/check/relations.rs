//! Keys that judge an expected span by something outside it: the answer of
//! its request (`equals_response`), the time of the spans after it
//! (`ends_before`), which requests' traces it belongs to (`for_status`),
//! and when its service was stopped (`after_requests.in_flight_ms`).
//!
//! They catch fixes that look right span by span: an `order.id` of the right
//! type but another order's (or another thing's) id, a step's span that was
//! created but never entered (it lasts until the end of the request), a
//! status rule that is right only for the one status a check used to send.

use serde_json::Value as Json;

use crate::model::{Attribute, Span, Trace, Value};
use crate::style::duration;

use super::diagnosis::Cause;
use super::matching::{describe, equal, matches_ref, Problem};
use super::outcome::{Observation, Outcome};
use super::spec::{AttributeSpec, SpanSpec, Spec};

/// `for_status`: is this span checked in `obs`'s trace?
pub fn applies(expected: &SpanSpec, obs: &Observation) -> bool {
    // `for_request`: only the requests whose method and path hold this
    // (two faults that both answer 502 at the gateway, told apart).
    if let Some(wanted) = &expected.for_request {
        if !obs.request.contains(wanted.as_str()) {
            return false;
        }
    }
    if expected.for_status.is_empty() {
        return true;
    }
    match &obs.response {
        Outcome::Answered { status, .. } => expected.for_status.contains(status),
        Outcome::Unreachable(_) => false,
    }
}

/// Whether `obs`'s trace must hold this span.
pub fn required_in(expected: &SpanSpec, obs: &Observation) -> bool {
    !expected.optional && applies(expected, obs)
}

/// The problems of `span` (matched to `expected`) that need more than the
/// span itself.
pub fn check(expected: &SpanSpec, span: &Span, trace: &Trace, obs: &Observation) -> Vec<Problem> {
    let mut found = ends_before(expected, span, trace);
    found.extend(response_values(expected, span, obs.response_body.as_ref()));
    found
}

/// `ends_before`: the span is closed before the first span like each
/// reference starts. Spans of one service share a clock, so compare those.
fn ends_before(expected: &SpanSpec, span: &Span, trace: &Trace) -> Vec<Problem> {
    let end = span.start_us + span.duration_us;
    expected
        .ends_before
        .iter()
        .filter_map(|later| {
            let first = trace
                .spans
                .iter()
                .filter(|s| s.span_id != span.span_id && matches_ref(later, s))
                .min_by_key(|s| s.start_us)?;
            (end > first.start_us).then(|| {
                (
                    format!(
                        "still open when {} starts: it lasts {} and ends {} after that span began",
                        describe(first),
                        duration(span.duration_us),
                        duration(end - first.start_us)
                    ),
                    Cause::EndsLate,
                )
            })
        })
        .collect()
}

/// `equals_response`, on the span's attributes and its events'.
fn response_values(expected: &SpanSpec, span: &Span, body: Option<&Json>) -> Vec<Problem> {
    let Some(body) = body else {
        return Vec::new();
    };
    let mut found: Vec<Problem> = expected
        .attributes
        .iter()
        .filter_map(|a| compare(a, &span.attributes, body, "attribute"))
        .collect();
    for event in &expected.events {
        // A missing event is reported by the span's own check.
        if let Some(actual) = span.events.iter().find(|e| e.name == event.name) {
            let context = format!("event {} attribute", event.name);
            found.extend(
                event
                    .attributes
                    .iter()
                    .filter_map(|a| compare(a, &actual.attributes, body, &context)),
            );
        }
    }
    found
}

/// One `equals_response` attribute. Only a value of the right type is
/// compared: a missing attribute or a wrong type is its own finding.
fn compare(
    spec: &AttributeSpec,
    actual: &[Attribute],
    body: &Json,
    context: &str,
) -> Option<Problem> {
    let field = spec.equals_response.as_deref()?;
    let want = field
        .split('.')
        .try_fold(body, |json, part| json.get(part))?;
    let value = &actual.iter().find(|a| a.key == spec.key)?.value;
    // Another type: `check_attribute` names it (type, or no match).
    let comparable = matches!(
        (value, want),
        (Value::Int(_) | Value::Float(_), Json::Number(_))
            | (Value::Str(_), Json::String(_))
            | (Value::Bool(_), Json::Bool(_))
    );
    (comparable && !equal(want, value)).then(|| {
        (
            format!(
                "{context} {}: expected {want} (the `{field}` of this request's answer), found {value}",
                spec.key
            ),
            Cause::WrongValue,
        )
    })
}

/// "after the requests", or "while this request was still in flight" for
/// the request `after_requests.in_flight_ms` stopped its services during.
pub fn when_stopped(spec: &Spec, obs: &Observation) -> &'static str {
    let last = spec.requests.len().saturating_sub(1);
    if spec.after_requests.in_flight_ms.is_some() && obs.phase == last {
        "while this request was still in flight (it was answered during the drain)"
    } else {
        "after the requests"
    }
}
