//! Matching one expected span against the spans of a trace: which actual
//! span it is, and what differs (kind, parent, attributes, events, status,
//! duration).

use serde_json::Value as Json;

use crate::model::{Attribute, Span, SpanKind, Status, Trace, Value};

use super::diagnosis::Cause;
use super::spec::{AttributeSpec, KindSpec, NoValueSpec, SpanRef, SpanSpec, TypeSpec};
use crate::style::duration;

/// A problem: expected vs actual in words, and its cause.
pub type Problem = (String, Cause);

pub enum SpanOutcome {
    Ok,
    Problems(Vec<Problem>),
}

/// Among the spans with the expected service and name (a trace can hold
/// several `GET` client spans), the one that matches best.
pub fn pick_candidate<'a>(expected: &SpanSpec, trace: &'a Trace) -> Option<&'a Span> {
    trace
        .spans
        .iter()
        .filter(|s| s.service() == expected.service && s.name == expected.name)
        .min_by_key(|s| problems(expected, s, trace).len())
}

pub fn check_span(expected: &SpanSpec, span: &Span, trace: &Trace) -> SpanOutcome {
    let problems = problems(expected, span, trace);
    if problems.is_empty() {
        SpanOutcome::Ok
    } else {
        SpanOutcome::Problems(problems)
    }
}

fn problems(expected: &SpanSpec, span: &Span, trace: &Trace) -> Vec<Problem> {
    let mut found = Vec::new();
    if let Some(kind) = expected.kind.map(SpanKind::from) {
        if span.kind != kind {
            found.push((
                format!(
                    "kind: expected {}, found {}",
                    kind.as_str(),
                    kind_name(span.kind)
                ),
                Cause::WrongKind,
            ));
        }
    }
    let parent = trace.parent_of(span);
    if expected.root {
        if let Some(parent) = parent {
            found.push((
                format!(
                    "expected no parent (the trace's root), found parent {}",
                    describe(parent)
                ),
                Cause::NotRoot,
            ));
        }
    }
    if let Some(want) = &expected.parent {
        match parent {
            Some(actual) if matches_ref(want, actual) => {}
            Some(actual) => found.push((
                format!(
                    "parent: expected {}, found {}",
                    want.label(),
                    describe(actual)
                ),
                // Across a queue, the parent is whatever the message carried.
                if expected.kind.map(SpanKind::from) == Some(SpanKind::Consumer) {
                    Cause::MessageParent
                } else {
                    Cause::WrongParent
                },
            )),
            None => found.push((
                format!(
                    "parent: expected {}, found none (a root span)",
                    want.label()
                ),
                Cause::WrongParent,
            )),
        }
    }
    for attribute in &expected.attributes {
        let problem = check_attribute(attribute, &span.attributes, "attribute");
        found.extend(problem.map(|p| baggage_lost(attribute, span, trace, p)));
    }
    for attribute in &expected.resource {
        found.extend(check_attribute(
            attribute,
            &span.process.tags,
            "resource attribute",
        ));
    }
    if let Some(no_value) = &expected.no_value {
        found.extend(leaked_values(no_value, span));
    }
    // The status before the events: a span that should have failed and did
    // not lacks its `exception` event too, and the status is the cause.
    if let Some(status) = expected.status.map(crate::model::Status::from) {
        if span.status != status {
            let mut problem = format!(
                "status: expected {}, found {}",
                status_name(status),
                status_name(span.status)
            );
            // Which answer it was: the rule depends on it.
            if let Some(code) = span
                .attributes
                .iter()
                .find(|a| a.key == "http.response.status_code")
            {
                problem.push_str(&format!(" (the span's HTTP status: {})", code.value));
            }
            found.push((problem, Cause::WrongStatus { kind: span.kind }));
        }
    }
    for event in &expected.events {
        if event.absent {
            if span.events.iter().any(|e| e.name == event.name) {
                let problem = format!("event {} found; this span must not have one", event.name);
                found.push((problem, Cause::EventPresent));
            }
            continue;
        }
        match span.events.iter().find(|e| e.name == event.name) {
            None => {
                let seen: Vec<&str> = span.events.iter().map(|e| e.name.as_str()).collect();
                let seen = if seen.is_empty() {
                    "none".to_string()
                } else {
                    seen.join(", ")
                };
                // Emitted, but on another span: say which.
                let elsewhere: Vec<String> = trace
                    .spans
                    .iter()
                    // The same process: where an event emitted in the wrong
                    // scope lands (other services' events are their own).
                    .filter(|s| s.span_id != span.span_id && s.service() == span.service())
                    .filter(|s| s.events.iter().any(|e| e.name == event.name))
                    .map(describe)
                    .collect();
                let mut problem = format!(
                    "event {} not found; events on this span: {seen}",
                    event.name
                );
                if !elsewhere.is_empty() {
                    problem.push_str(&format!("; it is on {} instead", elsewhere.join(", ")));
                }
                // Made a span of that name instead of an event.
                if let Some(named) = trace
                    .spans
                    .iter()
                    .find(|s| s.name == event.name && s.service() == span.service())
                {
                    problem.push_str(&format!(
                        "; {} is a span here ({}), not an event",
                        event.name,
                        describe(named)
                    ));
                }
                found.push((problem, Cause::EventMissing));
            }
            Some(actual) => {
                let context = format!("event {} attribute", event.name);
                for attribute in &event.attributes {
                    found.extend(check_attribute(attribute, &actual.attributes, &context));
                }
            }
        }
    }
    if let Some(min_ms) = expected.min_duration_ms {
        if span.duration_us < min_ms * 1_000 {
            found.push((
                format!(
                    "duration: expected at least {min_ms} ms, found {}",
                    duration(span.duration_us)
                ),
                Cause::TooShort,
            ));
        }
    }
    if let Some(min_ms) = expected.starts_after_parent_ms {
        let offset = parent.map(|p| span.start_us.saturating_sub(p.start_us));
        match offset {
            Some(offset) if offset >= min_ms * 1_000 => {}
            Some(offset) => found.push((
                format!(
                    "start: expected at least {min_ms} ms after its parent's, found {} after",
                    duration(offset)
                ),
                Cause::TooShort,
            )),
            None => found.push((
                format!("start: expected at least {min_ms} ms after its parent's, but its parent is not in the trace"),
                Cause::TooShort,
            )),
        }
    }
    found
}

/// `no_value`: the span's attributes and its events' attributes whose value
/// matches the pattern (keys in `except` aside), named in one finding.
fn leaked_values(spec: &NoValueSpec, span: &Span) -> Option<Problem> {
    // Validated when the check file was parsed.
    let pattern = regex::Regex::new(&spec.matches).ok()?;
    let leaks = |attribute: &&Attribute| {
        !spec.except.contains(&attribute.key) && pattern.is_match(&text_of(&attribute.value))
    };
    let on_span: Vec<&Attribute> = span.attributes.iter().filter(leaks).collect();
    let on_events: Vec<(&str, &Attribute)> = span
        .events
        .iter()
        .flat_map(|e| {
            e.attributes
                .iter()
                .filter(leaks)
                .map(|a| (e.name.as_str(), a))
        })
        .collect();
    let mut places = Vec::new();
    if !on_span.is_empty() {
        let keys: Vec<&str> = on_span.iter().map(|a| a.key.as_str()).collect();
        let noun = if keys.len() == 1 {
            "attribute"
        } else {
            "attributes"
        };
        places.push(format!("{noun} {}", keys.join(", ")));
    }
    for (event, attribute) in &on_events {
        // An event without a message is named "event <file>:<line>" already.
        let event = if event.starts_with("event ") {
            event.to_string()
        } else {
            format!("event {event}")
        };
        places.push(format!("{event}'s {}", attribute.key));
    }
    let first = on_span
        .first()
        .copied()
        .or_else(|| on_events.first().map(|(_, a)| *a))?;
    let what = spec
        .says
        .clone()
        .unwrap_or_else(|| format!("a value matching {}", spec.matches));
    let mut shown = text_of(&first.value);
    if shown.chars().count() > 90 {
        shown = shown.chars().take(90).collect::<String>() + "…";
    }
    let verb = if on_span.len() + on_events.len() == 1 {
        "holds"
    } else {
        "hold"
    };
    Some((
        format!(
            "{} {verb} {what}: {} = {shown}",
            places.join(", "),
            first.key
        ),
        Cause::LeakedValue,
    ))
}

/// `from_baggage`: an entry missing on this span that another span of the
/// trace carries was copied where it arrived, so it did not arrive here:
/// the baggage was lost on the way in (`baggage-lost`).
fn baggage_lost(spec: &AttributeSpec, span: &Span, trace: &Trace, problem: Problem) -> Problem {
    let elsewhere = trace.spans.iter().find(|s| {
        s.span_id != span.span_id
            && s.attributes.iter().any(|a| {
                a.key == spec.key && spec.value.as_ref().is_none_or(|v| equal(v, &a.value))
            })
    });
    match (spec.from_baggage, &problem.1, elsewhere) {
        (true, Cause::AttributeMissing, Some(other)) => (
            format!(
                "{}; {} has it, so the baggage entry reached {} but not {}",
                problem.0,
                describe(other),
                other.service(),
                span.service()
            ),
            Cause::BaggageLost,
        ),
        _ => problem,
    }
}

/// Is `span` the expected one (service, name, and kind when given)?
pub fn is_expected(expected: &SpanSpec, span: &Span) -> bool {
    is_span(&expected.service, &expected.name, expected.kind, span)
}

/// Is `actual` the span `want` points at (a `parent`, an `ends_before`)?
pub fn matches_ref(want: &SpanRef, actual: &Span) -> bool {
    is_span(&want.service, &want.name, want.kind, actual)
}

fn is_span(service: &str, name: &str, kind: Option<KindSpec>, span: &Span) -> bool {
    span.service() == service
        && span.name == name
        && kind.is_none_or(|k| span.kind == SpanKind::from(k))
}

/// `api-gateway POST /orders (server)`.
pub fn describe(span: &Span) -> String {
    format!(
        "{} {} ({})",
        span.service(),
        span.name,
        kind_name(span.kind)
    )
}

fn kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "unspecified",
        other => other.as_str(),
    }
}

/// Checks one expected attribute among `actual` attributes.
pub fn check_attribute(
    spec: &AttributeSpec,
    actual: &[Attribute],
    context: &str,
) -> Option<Problem> {
    let key = &spec.key;
    let found = actual.iter().find(|a| &a.key == key).map(|a| &a.value);
    if spec.absent {
        return found.map(|value| {
            (
                format!("{context} {key} should not be there, found {value}"),
                Cause::AttributePresent,
            )
        });
    }
    let Some(value) = found else {
        let mut problem = format!("{context} {key} is missing");
        if let Some(v) = &spec.value {
            problem.push_str(&format!(" (expected {v})"));
        }
        return Some((problem, Cause::AttributeMissing));
    };
    let expected_type = spec
        .value_type
        .or_else(|| spec.value.as_ref().and_then(type_of));
    if let Some(want) = expected_type {
        if value.type_name() != want.name() {
            let cause = match (want, value) {
                (TypeSpec::Int64, Value::Str(_)) => Cause::IntAsString,
                _ => Cause::WrongType,
            };
            let problem = format!(
                "{context} {key}: expected type {}, found {} {value}",
                want.name(),
                value.type_name()
            );
            return Some((problem, cause));
        }
    }
    if let Some(pattern) = &spec.matches {
        // Validated when the check file was parsed.
        let matched = regex::Regex::new(pattern).is_ok_and(|re| re.is_match(&text_of(value)));
        if !matched {
            return Some((
                format!("{context} {key}: expected a value matching {pattern}, found {value}"),
                Cause::NoMatch,
            ));
        }
    }
    match &spec.value {
        Some(want) if !equal(want, value) => Some((
            format!("{context} {key}: expected {want}, found {value}"),
            Cause::WrongValue,
        )),
        _ => None,
    }
}

/// A value as text, for patterns (strings without quotes).
fn text_of(value: &Value) -> String {
    match value {
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The type a YAML value implies: `201` → int64, `"201"` → string.
fn type_of(value: &Json) -> Option<TypeSpec> {
    match value {
        Json::String(_) => Some(TypeSpec::String),
        Json::Bool(_) => Some(TypeSpec::Bool),
        Json::Number(n) if n.is_i64() || n.is_u64() => Some(TypeSpec::Int64),
        Json::Number(_) => Some(TypeSpec::Float64),
        _ => None,
    }
}

/// Whether an attribute's value equals a JSON value (from the check file, or
/// from the request's answer: `equals_response`).
pub fn equal(want: &Json, actual: &Value) -> bool {
    match actual {
        Value::Str(s) => want.as_str() == Some(s),
        Value::Bool(b) => want.as_bool() == Some(*b),
        Value::Int(i) => want.as_i64() == Some(*i),
        Value::Float(x) => want.as_f64().is_some_and(|w| (w - x).abs() < 1e-9),
        Value::Binary(_) => false,
    }
}

/// `unset`, `ok` or `error`, as check files write it.
pub fn status_name(status: Status) -> &'static str {
    match status {
        Status::Unset => "unset",
        Status::Ok => "ok",
        Status::Error => "error",
    }
}

/// `count:` — how many spans like `expected` the trace holds.
pub fn check_count(expected: &SpanSpec, trace: &Trace) -> Option<(String, Cause)> {
    let (min, max) = expected.count?.bounds();
    let n = trace
        .spans
        .iter()
        .filter(|s| is_expected(expected, s))
        .count();
    if (min..=max).contains(&n) {
        return None;
    }
    let want = match (min, max) {
        (a, b) if a == b => format!("{a}"),
        (a, usize::MAX) => format!("at least {a}"),
        (0, b) => format!("at most {b}"),
        (a, b) => format!("{a} to {b}"),
    };
    Some((
        format!("expected {want} such spans in the trace, found {n}"),
        Cause::WrongCount,
    ))
}
