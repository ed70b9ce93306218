//! The capstone's keys on hand-made traces (lesson 18, a dark service):
//! a stopped service that sent no span is `service-missing` when its log
//! never names the trace (it has no telemetry) and `not-flushed` when it
//! does (it had the spans and lost them at the stop); and a finding on a
//! span with a `piece:` names that piece, once; an event a span must not
//! have (`absent`), and a span judged only for one request (`for_request`).

mod common;

use common::*;
use lab::check::engine::{evaluate, Observation};
use lab::check::spec::Spec;
use lab::model::Trace;

/// One order; inventory-service is stopped after it and its log is read.
fn stopped_with_logs() -> Spec {
    spec(&format!(
        "{HEAD}after_requests: {{ restart: [inventory-service] }}\ntrace:\n  services: [api-gateway, order-service, inventory-service]\nlogs:\n  - {{ service: inventory-service, min: 1 }}\n"
    ))
}

fn without_inventory() -> Trace {
    let mut trace = healthy_order();
    trace.spans.retain(|s| s.service() != "inventory-service");
    trace
}

/// A log line of `service` that names the trace of `observed`.
fn log_line(service: &str) -> (String, String) {
    let line = format!(
        "{{\"level\":\"INFO\",\"service\":\"{service}\",\"message\":\"stock reserved\",\"trace_id\":\"{TRACE_ID}\",\"span_id\":\"000000000000000b\"}}"
    );
    (service.to_string(), line)
}

#[test]
fn a_stopped_service_whose_log_never_names_the_trace_is_dark_not_unflushed() {
    let lesson = stopped_with_logs();
    let report = evaluate(&lesson, &[observed(Some(without_inventory()))]);
    assert_eq!(
        keys(&report).first(),
        Some(&"service-missing"),
        "{:#?}",
        report.findings
    );
    assert!(!keys(&report).contains(&"not-flushed"));
}

#[test]
fn a_stopped_service_whose_log_names_the_trace_lost_its_spans_at_the_stop() {
    let lesson = stopped_with_logs();
    let mut obs: Observation = observed(Some(without_inventory()));
    obs.logs.push(log_line("inventory-service"));
    let report = evaluate(&lesson, &[obs]);
    assert_eq!(
        keys(&report).first(),
        Some(&"not-flushed"),
        "{:#?}",
        report.findings
    );
    // Another service's lines say nothing about this one.
    let mut obs = observed(Some(without_inventory()));
    obs.logs.push(log_line("order-service"));
    let report = evaluate(&lesson, &[obs]);
    assert_eq!(keys(&report).first(), Some(&"service-missing"));
}

#[test]
fn without_a_log_to_read_a_stopped_silent_service_is_unflushed_as_before() {
    // Lesson 01's check reads no log: there, no span at all after a stop
    // is the missing flush (its environment makes the flush the only way).
    let lesson = spec(&format!(
        "{HEAD}after_requests: {{ restart: [inventory-service] }}\ntrace:\n  services: [api-gateway, order-service, inventory-service]\n"
    ));
    let report = evaluate(&lesson, &[observed(Some(without_inventory()))]);
    assert_eq!(keys(&report), ["not-flushed"], "{:#?}", report.findings);
}

#[test]
fn a_finding_on_a_span_names_its_piece_once() {
    let lesson = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - service: inventory-service\n      name: UPDATE products\n      piece: each query in a CLIENT span (lesson 07)\n      attributes:\n        - {{ key: db.query.summary, type: string }}\n    - service: inventory-service\n      name: INSERT reservations\n      piece: each query in a CLIENT span (lesson 07)\n"
    ));
    // UPDATE products lacks its summary; there is no INSERT reservations.
    let report = evaluate(&lesson, &[observed(Some(healthy_order()))]);
    assert!(
        keys(&report).contains(&"attribute-missing"),
        "{:#?}",
        report.findings
    );
    assert!(
        keys(&report).contains(&"span-missing"),
        "{:#?}",
        report.findings
    );
    assert!(report
        .findings
        .iter()
        .all(|f| f.piece.as_deref() == Some("each query in a CLIENT span (lesson 07)")));
    let text = lab::check::report::render(&report, lab::style::Style::plain());
    assert_eq!(
        text.matches("the piece: each query in a CLIENT span (lesson 07)")
            .count(),
        1,
        "{text}"
    );
}

#[test]
fn the_capstone_check_parses_and_gives_each_inventory_span_its_piece() {
    let lesson = lesson("18-dark-service");
    assert_eq!(lesson.expect_failure.as_deref(), Some("service-missing"));
    let inventory: Vec<_> = lesson
        .trace
        .spans
        .iter()
        .filter(|s| s.service == "inventory-service")
        .collect();
    assert!(inventory.len() >= 5);
    assert!(inventory
        .iter()
        .all(|s| s.piece.as_deref().is_some_and(|p| p.contains("(lesson"))));
}

#[test]
fn an_event_a_span_must_not_have_is_event_present() {
    let lesson = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - service: inventory-service\n      name: POST /inventory/reservations\n      events:\n        - {{ name: exception, absent: true }}\n"
    ));
    assert!(evaluate(&lesson, &[observed(Some(healthy_order()))]).passed());
    let mut trace = healthy_order();
    let server = trace
        .spans
        .iter_mut()
        .find(|s| s.name == "POST /inventory/reservations")
        .unwrap();
    server.events.push(lab::model::Event {
        time_us: server.start_us + 10,
        name: "exception".to_string(),
        attributes: Vec::new(),
    });
    let report = evaluate(&lesson, &[observed(Some(trace))]);
    assert_eq!(keys(&report), ["event-present"], "{:#?}", report.findings);
}

#[test]
fn a_span_for_one_request_is_judged_only_in_that_requests_trace() {
    // Two requests answer 502; only the one whose path names the fault
    // must have the span.
    let lesson = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - service: inventory-service\n      name: DELETE /inventory/reservations/{{id}}\n      for_request: fail=order-service\n"
    ));
    let answered = |path: &str| {
        let mut obs = observed(Some(healthy_order()));
        obs.request = format!("POST {path}");
        obs
    };
    let other = answered("/orders?fail=inventory-service");
    assert!(evaluate(&lesson, &[other]).passed());
    let named = answered("/orders?fail=order-service");
    let report = evaluate(&lesson, &[named]);
    assert_eq!(keys(&report), ["span-missing"], "{:#?}", report.findings);
}
