//! The check keys lessons 01–04 use to tell right fixes from plausible wrong
//! ones, each on hand-made traces: `ends_before` (a span created but never
//! entered), `equals_response` (an id of the right type but another
//! meaning), `for_status` (a span checked only in some requests' traces),
//! an event found on another span, and `after_requests.in_flight_ms`
//! (parsed, and named in the stopped service's finding).

mod common;

use common::*;
use lab::check::engine::{evaluate, Observation, Outcome};
use lab::check::spec::Spec;
use lab::check::whole_trace::looks_complete;
use lab::model::{Event, SpanKind, Status, Trace, Value};
use serde_json::json;

const VALIDATE: &str = "trace:\n  spans:\n    - service: order-service\n      name: validate_order\n      ends_before:\n        - { service: order-service, name: GET, kind: client }\n";

#[test]
fn a_step_span_must_end_before_the_next_step_starts() {
    let lesson = spec(&format!("{HEAD}{VALIDATE}"));
    // Healthy: validate_order (2.5 ms + 0.2 ms) ends before GET starts (3 ms).
    assert!(evaluate(&lesson, &[observed(Some(healthy_order()))]).passed());

    // Created but never entered: it lasts until the end of the request.
    let mut trace = healthy_order();
    find_mut(&mut trace, "order-service", "validate_order").duration_us = 24_000;
    let report = evaluate(&lesson, &[observed(Some(trace))]);
    assert_eq!(keys(&report), ["ends-late"], "{:#?}", report.findings);
    let problem = &report.findings[0].problem;
    assert!(
        problem.contains("still open when order-service GET (client) starts"),
        "{problem}"
    );
    assert!(
        problem.contains("24.0 ms") || problem.contains("24 ms"),
        "{problem}"
    );

    // No span to compare with: nothing to say.
    let mut trace = healthy_order();
    find_mut(&mut trace, "order-service", "validate_order").duration_us = 24_000;
    trace
        .spans
        .retain(|s| !(s.service() == "order-service" && s.name == "GET"));
    assert!(!keys(&evaluate(&lesson, &[observed(Some(trace))])).contains(&"ends-late"));
}

#[test]
fn an_attribute_can_be_compared_with_the_requests_answer() {
    let lesson = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - service: order-service\n      name: POST /orders\n      events:\n        - name: order.confirmed\n          attributes:\n            - {{ key: order.id, type: int64, equals_response: order_id }}\n"
    ));
    let with_event = |id: Value| {
        let mut trace = healthy_order();
        let server = find_mut(&mut trace, "order-service", "POST /orders");
        server.events.push(Event {
            time_us: server.start_us + 20_000,
            name: "order.confirmed".to_string(),
            attributes: vec![attr("order.id", id)],
        });
        trace
    };
    let answered = |trace: Trace, body: serde_json::Value| {
        let mut obs = observed(Some(trace));
        obs.response_body = Some(body);
        obs
    };
    // This order's id: right.
    let right = answered(with_event(Value::Int(42)), json!({ "order_id": 42 }));
    assert!(evaluate(&lesson, &[right]).passed());

    // An integer, but the user's id: wrong, and the problem says against what.
    let report = evaluate(
        &lesson,
        &[answered(
            with_event(Value::Int(4)),
            json!({ "order_id": 42 }),
        )],
    );
    assert_eq!(keys(&report), ["wrong-value"], "{:#?}", report.findings);
    let problem = &report.findings[0].problem;
    assert!(
        problem.contains("event order.confirmed attribute order.id: expected 42")
            && problem.contains("`order_id` of this request's answer")
            && problem.contains("found 4"),
        "{problem}"
    );

    // Two orders, two ids, the same mistake: one finding, in 2 requests.
    let report = evaluate(
        &lesson,
        &[
            answered(with_event(Value::Int(4)), json!({ "order_id": 42 })),
            answered(with_event(Value::Int(4)), json!({ "order_id": 43 })),
        ],
    );
    assert_eq!(keys(&report), ["wrong-value"], "{:#?}", report.findings);
    assert_eq!(report.findings[0].count, 2);
    // ...and the report says both values, not only the first request's.
    let text = lab::check::report::render(&report, lab::style::Style::plain());
    assert!(
        text.contains("(in 2 requests)")
            && text.contains("expected 42")
            && text.contains("expected 43"),
        "{text}"
    );
    // The same mismatch with the same numbers is said once.
    let report = evaluate(
        &lesson,
        &[
            answered(with_event(Value::Int(4)), json!({ "order_id": 42 })),
            answered(with_event(Value::Int(4)), json!({ "order_id": 42 })),
        ],
    );
    assert!(
        report.findings[0].others.is_empty(),
        "{:#?}",
        report.findings
    );

    // Text: only the type finding, not a second one for the value.
    let report = evaluate(
        &lesson,
        &[answered(
            with_event(Value::Str("42".into())),
            json!({ "order_id": 42 }),
        )],
    );
    assert_eq!(keys(&report), ["int-as-string"], "{:#?}", report.findings);

    // No JSON answer (or no such field in it): nothing to compare with.
    let no_body = observed(Some(with_event(Value::Int(4))));
    assert!(evaluate(&lesson, &[no_body]).passed());
    let other = answered(with_event(Value::Int(4)), json!({ "error": "x" }));
    assert!(evaluate(&lesson, &[other]).passed());

    // A dotted path reaches into the answer; span attributes work too.
    let nested = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - service: order-service\n      name: POST /orders\n      attributes:\n        - {{ key: order.id, equals_response: order.id }}\n"
    ));
    let mut trace = healthy_order();
    find_mut(&mut trace, "order-service", "POST /orders")
        .attributes
        .push(attr("order.id", Value::Int(1)));
    let report = evaluate(
        &nested,
        &[answered(trace.clone(), json!({ "order": { "id": 7 } }))],
    );
    assert_eq!(keys(&report), ["wrong-value"], "{:#?}", report.findings);
    assert!(evaluate(&nested, &[answered(trace, json!({ "order": { "id": 1 } }))]).passed());
}

#[test]
fn a_span_with_for_status_is_checked_only_in_those_requests_traces() {
    let lesson = spec(
        "title: t\nrequests:\n  - { path: /orders/999999, status: 404 }\n  - { method: POST, path: /orders, status: 400 }\n  - { method: POST, path: /orders, status: 502 }\ntrace:\n  spans:\n    - service: order-service\n      name: POST /orders\n      kind: server\n      for_status: [400, 409]\n      optional: true\n      status: unset\n",
    );
    let request = |status: u16, server_status: Status| {
        let mut trace = healthy_order();
        find_mut(&mut trace, "order-service", "POST /orders").status = server_status;
        let mut obs = Observation::answered("POST /orders", status, Some(trace_id(TRACE_ID)));
        obs.trace = Some(trace);
        obs
    };
    // The 502's SERVER span is an error, and that is not this span's business.
    assert!(evaluate(&lesson, &[request(502, Status::Error)]).passed());
    // A span that should have failed and did not: the status comes first,
    // the missing exception event after it.
    let failed = spec(
        "title: t\nrequests: [{ method: POST, path: /orders, status: 502 }]\ntrace:\n  spans:\n    - service: order-service\n      name: POST /orders\n      status: error\n      events: [{ name: exception }]\n",
    );
    let mut unmarked = Observation::answered("POST /orders", 502, Some(trace_id(TRACE_ID)));
    unmarked.trace = Some(healthy_order());
    assert_eq!(
        keys(&evaluate(&failed, &[unmarked])),
        ["wrong-status", "event-missing"]
    );

    // The 400's is checked: an error there is wrong.
    let report = evaluate(
        &lesson,
        &[request(502, Status::Error), request(400, Status::Error)],
    );
    assert_eq!(keys(&report), ["wrong-status"], "{:#?}", report.findings);
    // The problem says which answer the span gave: the rule depends on it.
    assert!(
        report.findings[0]
            .problem
            .contains("(the span's HTTP status: 201)"),
        "{}",
        report.findings[0].problem
    );
    assert!(evaluate(&lesson, &[request(400, Status::Unset)]).passed());

    // An unreachable gateway has no status: the span is not checked there.
    let mut down = observed(None);
    down.response = Outcome::Unreachable("refused".into());
    assert!(!keys(&evaluate(&lesson, &[down])).contains(&"wrong-status"));

    // Without `optional: true` it is required in its own requests' traces
    // (a 400's trace must show the validation), and nowhere else.
    let required = spec(
        "title: t\nrequests:\n  - { method: POST, path: /orders, status: 201 }\n  - { method: POST, path: /orders, status: 400 }\ntrace:\n  spans:\n    - { service: order-service, name: validate_order, for_status: [400] }\n",
    );
    let without_it = |status: u16| {
        let mut trace = healthy_order();
        trace.spans.retain(|s| s.name != "validate_order");
        let mut obs = Observation::answered("POST /orders", status, Some(trace_id(TRACE_ID)));
        obs.trace = Some(trace);
        obs
    };
    assert!(evaluate(&required, &[without_it(201)]).passed());
    let report = evaluate(&required, &[without_it(201), without_it(400)]);
    assert_eq!(keys(&report), ["span-missing"], "{:#?}", report.findings);
    assert!(!looks_complete(
        &required,
        &without_it(400),
        without_it(400).trace.as_ref().unwrap()
    ));
    assert!(looks_complete(
        &required,
        &without_it(201),
        without_it(201).trace.as_ref().unwrap()
    ));
}

#[test]
fn an_event_on_another_span_is_named_where_it_is() {
    let lesson = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - service: order-service\n      name: POST /orders\n      events: [{{ name: order.confirmed }}]\n"
    ));
    let mut trace = healthy_order();
    let save = find_mut(&mut trace, "order-service", "save_order");
    save.events.push(Event {
        time_us: save.start_us + 10,
        name: "order.confirmed".to_string(),
        attributes: Vec::new(),
    });
    let report = evaluate(&lesson, &[observed(Some(trace))]);
    assert_eq!(keys(&report), ["event-missing"]);
    assert!(
        report.findings[0]
            .problem
            .ends_with("it is on order-service save_order (internal) instead"),
        "{}",
        report.findings[0].problem
    );

    // Another service's event of that name is its own: not blamed.
    let mut trace = healthy_order();
    let user = find_mut(&mut trace, "user-service", "GET /users/{id}");
    user.events.push(Event {
        time_us: user.start_us + 10,
        name: "order.confirmed".to_string(),
        attributes: Vec::new(),
    });
    let report = evaluate(&lesson, &[observed(Some(trace))]);
    assert!(
        report.findings[0]
            .problem
            .ends_with("events on this span: none"),
        "{}",
        report.findings[0].problem
    );

    // A span of that name is not the event.
    let mut trace = healthy_order();
    trace.spans.push(span(
        99,
        Some(3),
        "order-service",
        "order.confirmed",
        SpanKind::Internal,
        26.0,
        0.0,
    ));
    let report = evaluate(&lesson, &[observed(Some(trace))]);
    assert_eq!(keys(&report), ["event-missing"]);
    assert!(
        report.findings[0].problem.ends_with(
            "order.confirmed is a span here (order-service order.confirmed (internal)), not an event"
        ),
        "{}",
        report.findings[0].problem
    );
}

#[test]
fn a_service_stopped_while_a_request_was_in_flight_is_named_so() {
    let lesson = spec(
        "title: t\nrequests:\n  - { method: POST, path: /orders, status: 201 }\n  - { method: POST, path: '/orders?delay=1500&delay_at=order-service', status: 201 }\nafter_requests: { restart: [order-service], in_flight_ms: 600 }\ntrace:\n  services: [api-gateway, order-service]\n",
    );
    assert_eq!(lesson.after_requests.in_flight_ms, Some(600));
    let without_order_service = || {
        let mut trace = healthy_order();
        trace.spans.retain(|s| s.service() != "order-service");
        trace
    };
    // Flushed at the signal: the order answered before the stop has its
    // spans, the one in flight has none.
    let answered_before = observed(Some(healthy_order()));
    let mut in_flight = observed(Some(without_order_service()));
    in_flight.phase = 1;
    let report = evaluate(&lesson, &[answered_before, in_flight]);
    assert_eq!(keys(&report), ["not-flushed"], "{:#?}", report.findings);
    assert!(
        report.findings[0]
            .problem
            .contains("while this request was still in flight"),
        "{}",
        report.findings[0].problem
    );

    // Not flushed at all: both requests, each said as it happened.
    let mut first = observed(Some(without_order_service()));
    first.phase = 0;
    let mut second = observed(Some(without_order_service()));
    second.phase = 1;
    let report = evaluate(&lesson, &[first, second]);
    assert_eq!(keys(&report), ["not-flushed", "not-flushed"]);
    assert!(report.findings[0].problem.contains("after the requests"));

    // Shut down while still serving: the in-flight request's calls carried
    // no context, so its callees began traces of their own. That is said
    // in the stopped service's finding, not blamed on propagation.
    let mut gateway_only = without_order_service();
    gateway_only.spans.retain(|s| s.service() == "api-gateway");
    let mut in_flight = observed(Some(gateway_only));
    let mut alone = healthy_order();
    alone.trace_id = trace_id("c0ffee00000000000000000000000099");
    alone
        .spans
        .retain(|s| s.service() == "user-service" && s.name != "process orders");
    for span in alone.spans.iter_mut() {
        span.trace_id = alone.trace_id.clone();
        if span.name == "GET /users/{id}" {
            span.parent_span_id = None;
        }
    }
    in_flight.elsewhere = vec![alone];
    let cut = spec(
        "title: t\nrequests:\n  - { method: POST, path: /orders, status: 201 }\nafter_requests: { restart: [order-service], in_flight_ms: 600 }\ntrace:\n  services: [api-gateway, order-service, user-service]\n",
    );
    in_flight.phase = 0;
    let cut_report = evaluate(&cut, &[in_flight]);
    assert_eq!(
        keys(&cut_report),
        ["not-flushed"],
        "{:#?}",
        cut_report.findings
    );
    assert!(
        cut_report.findings[0].problem.ends_with(
            "user-service began traces of their own: order-service's calls carried no trace \
             context, as they do once its telemetry has been shut down"
        ),
        "{}",
        cut_report.findings[0].problem
    );

    // Printed, the second one's likely cause is not said twice.
    let text = lab::check::report::render(&report, lab::style::Style::plain());
    assert_eq!(text.matches("likely cause:").count(), 1, "{text}");
}

#[test]
fn the_shipped_lessons_use_the_new_keys() {
    let load = |slug: &str| {
        let path = format!(
            "{}/../lessons/{slug}/check.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        Spec::load(std::path::Path::new(&path)).unwrap()
    };
    assert!(load("01-first-trace").after_requests.in_flight_ms.is_some());
    let two = load("02-spans-and-attributes");
    assert!(two.trace.spans.iter().any(|s| !s.ends_before.is_empty()));
    let three = load("03-events");
    assert!(three
        .trace
        .spans
        .iter()
        .flat_map(|s| &s.events)
        .flat_map(|e| &e.attributes)
        .any(|a| a.equals_response.as_deref() == Some("order_id")));
    let four = load("04-errors-and-status");
    let statuses: Vec<u16> = four.requests.iter().filter_map(|r| r.status).collect();
    for status in [400, 404, 409] {
        assert!(statuses.contains(&status), "{statuses:?}");
    }
    // Kinds the lesson names: SERVER spans unset on a 4xx, CLIENT in error.
    assert!(four.trace.spans.iter().any(|s| s.for_status.contains(&409)
        && s.kind
            .is_some_and(|k| SpanKind::from(k) == SpanKind::Client)));
}
