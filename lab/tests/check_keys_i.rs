//! Lesson 16's key and findings on hand-made traces: `no_value`
//! (`leaked-value`: a whole struct written with Debug on a span, as a bare
//! `#[instrument]` records its arguments, or in an event, as `ret` records
//! the return value), and the lesson's check telling its wrong fixes apart.

mod common;

use common::*;
use lab::check::engine::{evaluate, Observation};
use lab::model::{Event, Trace, Value};
use serde_json::json;

const NO_DEBUG: &str = "{HEAD}trace:\n  spans:\n    - service: order-service\n      name: save_order\n      no_value:\n        matches: \"[A-Z][A-Za-z0-9_]* \\\\{ [a-z_][a-z0-9_]*: \"\n        says: a whole struct written with Debug\n        except: [order.note]\n";

fn no_debug() -> lab::check::spec::Spec {
    spec(&NO_DEBUG.replace("{HEAD}", HEAD))
}

/// The healthy order with `save_order` carrying what the lesson asks for
/// (user 4, two Monitors), plus `extra` attributes.
fn saved(extra: &[(&str, Value)]) -> Trace {
    let mut trace = healthy_order();
    let span = find_mut(&mut trace, "order-service", "save_order");
    span.attributes.push(attr("user.id", Value::Int(4)));
    span.attributes
        .push(attr("order.total_cents", Value::Int(69800)));
    span.attributes.push(attr("order.id", Value::Int(42)));
    for (key, value) in extra {
        span.attributes.push(attr(key, value.clone()));
    }
    trace
}

fn answered(trace: Trace) -> Observation {
    let mut obs = observed(Some(trace));
    obs.response_body = Some(json!({ "order_id": 42 }));
    obs
}

#[test]
fn a_struct_written_with_debug_on_a_span_is_a_leaked_value() {
    let check = no_debug();
    assert!(evaluate(&check, &[answered(saved(&[]))]).passed());

    // What a bare `#[instrument]` records: every argument, with Debug.
    let bare = saved(&[
        (
            "state",
            s("AppState { db: Database { pool: Pool { size: 1 } } }"),
        ),
        ("order", s("NewOrder { user_id: 4, sku: \"MONITOR-001\" }")),
        (
            "plan",
            s("FaultPlan { delay_ms: 0, delay_at: None, fail_at: None }"),
        ),
    ]);
    let report = evaluate(&check, &[answered(bare)]);
    assert_eq!(keys(&report), vec!["leaked-value"]);
    let problem = &report.findings[0].problem;
    assert!(
        problem.starts_with("attributes state, order, plan hold a whole struct written with Debug"),
        "{problem}"
    );
    // The value is shown, cut short.
    assert!(
        problem.contains("state = AppState { db: Database"),
        "{problem}"
    );

    // The text that names the cause never shows the fix's code.
    let text = lab::check::report::render(&report, lab::style::Style::plain());
    for code in ["skip_all", "skip(", "#[", "instrument(", "fields("] {
        assert!(
            !text.contains(code),
            "the finding shows code ({code}):\n{text}"
        );
    }
}

#[test]
fn leaked_values_are_found_in_events_and_except_keys_are_allowed() {
    let check = no_debug();
    // `ret`: the returned value, with Debug, in an event on the span.
    let mut trace = saved(&[]);
    let span = find_mut(&mut trace, "order-service", "save_order");
    span.events.push(Event {
        time_us: span.start_us + 10,
        name: "event order-service/src/routes.rs:144".to_string(),
        attributes: vec![attr("return", s("Order { order_id: 42, user_id: 4 }"))],
    });
    let report = evaluate(&check, &[answered(trace)]);
    assert_eq!(keys(&report), vec!["leaked-value"]);
    assert!(
        report.findings[0]
            .problem
            .starts_with("event order-service/src/routes.rs:144's return holds"),
        "{}",
        report.findings[0].problem
    );

    // A key the check allows, and values that only look a little alike.
    let allowed = saved(&[
        ("order.note", s("Gift { wrap: true }")),
        ("product.name", s("Monitor {27 inch}")),
        ("user.tier", s("enterprise")),
    ]);
    assert!(evaluate(&check, &[answered(allowed)]).passed());
}

#[test]
fn a_bad_no_value_pattern_is_refused_when_the_check_is_read() {
    let yaml = format!(
        "{HEAD}trace:\n  spans:\n    - service: a\n      name: b\n      no_value: {{ matches: \"(\" }}\n"
    );
    let error = lab::check::spec::Spec::parse(&yaml).unwrap_err();
    assert!(error.contains("is not a regular expression"), "{error}");
}

#[test]
fn lesson_16_tells_a_debug_dump_from_a_number_recorded_as_text() {
    let check = lesson("16-instrument");
    assert!(evaluate(&check, &[answered(saved(&[]))]).passed());

    // `skip(state)`: the order is still recorded whole.
    let skip_one = saved(&[(
        "order",
        s("NewOrder { user_id: 4, sku: \"MONITOR-001\", total_cents: 69800 }"),
    )]);
    let report = evaluate(&check, &[answered(skip_one)]);
    assert_eq!(keys(&report), vec!["leaked-value"]);

    // `%order.user_id`: the right value, as text.
    let mut as_text = saved(&[]);
    let span = find_mut(&mut as_text, "order-service", "save_order");
    span.attributes.retain(|a| a.key != "user.id");
    span.attributes.push(attr("user.id", s("4")));
    let report = evaluate(&check, &[answered(as_text)]);
    assert_eq!(keys(&report), vec!["int-as-string"]);
}
