//! The check keys and findings lessons 05–08 added, on hand-made traces:
//! `from_baggage` (`baggage-lost`), a split trace named piece by piece with
//! its root span, the learner's environment over the lesson's
//! (`env-override`), and how lessons 05, 06 and 08 tell their wrong fixes
//! apart.

mod common;

use common::*;
use lab::check::diagnosis::Cause;
use lab::check::engine::{evaluate, Report};
use lab::model::{SpanKind, Trace, Value};

/// Sets (or replaces) an attribute on every SERVER span of `services`.
fn on_servers(trace: &mut Trace, services: &[&str], key: &str, value: &str) {
    for span in trace.spans.iter_mut() {
        if span.kind == SpanKind::Server && services.contains(&span.service()) {
            span.attributes.retain(|a| a.key != key);
            span.attributes.push(attr(key, s(value)));
        }
    }
}

const ALL: [&str; 4] = [
    "api-gateway",
    "order-service",
    "user-service",
    "inventory-service",
];
const DOWNSTREAM: [&str; 3] = ["order-service", "user-service", "inventory-service"];

/// The healthy trace as lesson 05's request leaves it: `request.source`
/// on every SERVER span, and `?delay=1000` inside inventory-service's.
fn lesson05_healthy() -> Trace {
    let mut trace = healthy_order();
    on_servers(&mut trace, &ALL, "request.source", "lesson-05");
    find_mut(
        &mut trace,
        "inventory-service",
        "POST /inventory/reservations",
    )
    .duration_us += 1_000_000;
    trace
}

#[test]
fn from_baggage_tells_baggage_lost_on_the_way_from_a_copy_never_made() {
    let check = spec(
        "title: t\nrequests: [{ method: POST, path: /orders, status: 201 }]\ntrace:\n  spans:\n    - service: order-service\n      name: POST /orders\n      attributes:\n        - { key: request.source, value: lab, from_baggage: true }\n",
    );
    let mut trace = healthy_order();
    on_servers(&mut trace, &ALL, "request.source", "lab");
    assert!(evaluate(&check, &[observed(Some(trace.clone()))]).passed());

    // The gateway has it, order-service does not: lost on the way.
    for span in trace.spans.iter_mut() {
        if span.service() != "api-gateway" {
            span.attributes.retain(|a| a.key != "request.source");
        }
    }
    let report = evaluate(&check, &[observed(Some(trace.clone()))]);
    assert_eq!(keys(&report), ["baggage-lost"], "{:#?}", report.findings);
    let problem = &report.findings[0].problem;
    assert!(
        problem.contains("api-gateway POST /orders (server) has it")
            && problem.contains("reached api-gateway but not order-service"),
        "{problem}"
    );
    let explained = lab::check::diagnosis::explain(&Cause::BaggageLost);
    assert!(
        explained.likely.contains("`baggage`"),
        "{}",
        explained.likely
    );

    // Nobody has it: the copy is missing, not the baggage.
    trace.spans.iter_mut().for_each(|s| {
        s.attributes.retain(|a| a.key != "request.source");
    });
    let report = evaluate(&check, &[observed(Some(trace.clone()))]);
    assert_eq!(keys(&report), ["attribute-missing"]);

    // Another value elsewhere explains nothing either.
    on_servers(&mut trace, &["api-gateway"], "request.source", "other");
    let report = evaluate(&check, &[observed(Some(trace))]);
    assert_eq!(keys(&report), ["attribute-missing"]);
}

/// The healthy order broken the way lesson 05's exercise breaks it: each
/// callee begins a trace of its own (order-service's takes the order
/// stream's consumer along).
fn split_everywhere() -> (Trace, Vec<Trace>) {
    let healthy = lesson05_healthy();
    let piece = |id: &str, services: &[&str], names: &[&str], root: &str| {
        let id = trace_id(id);
        let mut spans: Vec<_> = healthy
            .spans
            .iter()
            .filter(|s| {
                services.contains(&s.service())
                    && (names.is_empty() || names.contains(&s.name.as_str()))
            })
            .cloned()
            .collect();
        for span in spans.iter_mut() {
            span.trace_id = id.clone();
            if span.name == root && span.kind == SpanKind::Server {
                span.parent_span_id = None;
            }
        }
        Trace {
            trace_id: id,
            spans,
        }
    };
    let gateway = piece(TRACE_ID, &["api-gateway"], &[], "");
    let order = {
        let mut t = piece(
            "0000000000000000000000000000aaaa",
            &["order-service", "user-service"],
            &[],
            "POST /orders",
        );
        // user-service's request spans are in their own piece.
        t.spans.retain(|s| {
            s.service() == "order-service"
                || ["process orders", "UPDATE users", "DEL"].contains(&s.name.as_str())
        });
        t
    };
    let user = piece(
        "0000000000000000000000000000bbbb",
        &["user-service"],
        &["GET /users/{id}", "GET", "SELECT users", "SET"],
        "GET /users/{id}",
    );
    let inventory = piece(
        "0000000000000000000000000000cccc",
        &["inventory-service"],
        &[],
        "POST /inventory/reservations",
    );
    (gateway, vec![order, user, inventory])
}

#[test]
fn a_split_trace_is_named_piece_by_piece_with_its_id_and_root_span() {
    let (gateway, mut pieces) = split_everywhere();
    // An older piece of user-service (another request, an hour earlier)
    // comes first among the recent traces: it must not be named.
    let mut stale = pieces[1].clone();
    stale.trace_id = trace_id("0000000000000000000000000000dddd");
    for span in stale.spans.iter_mut() {
        span.trace_id = stale.trace_id.clone();
        span.start_us -= 3_600_000_000;
    }
    pieces.insert(0, stale);
    let mut observation = observed(Some(gateway));
    observation.elsewhere = pieces;
    let report = evaluate(&lesson("05-context-propagation"), &[observation]);
    assert_eq!(
        keys(&report),
        ["split-trace", "split-trace", "split-trace"],
        "{:#?}",
        report.findings
    );
    let problems: Vec<&str> = report.findings.iter().map(|f| f.problem.as_str()).collect();
    for (service, id, root) in [
        (
            "order-service",
            "0000000000000000000000000000aaaa",
            "order-service POST /orders (server)",
        ),
        (
            "user-service",
            "0000000000000000000000000000bbbb",
            "user-service GET /users/{id} (server)",
        ),
        (
            "inventory-service",
            "0000000000000000000000000000cccc",
            "inventory-service POST /inventory/reservations (server)",
        ),
    ] {
        let problem = problems
            .iter()
            .find(|p| p.starts_with(service))
            .unwrap_or_else(|| panic!("no piece of {service}: {problems:#?}"));
        assert!(
            problem.contains(&format!("({id}, root span {root})"))
                && problem.contains(&format!("instead of continuing {TRACE_ID}")),
            "{problem}"
        );
    }
    assert!(
        !problems.iter().any(|p| p.contains("dddd")),
        "{problems:#?}"
    );
    // What went along with order-service is named by service and span.
    assert!(
        problems[0].contains("user-service's process orders, UPDATE users, DEL went along"),
        "{}",
        problems[0]
    );
}

#[test]
fn lesson_05_tells_its_wrong_fixes_apart() {
    let check = lesson("05-context-propagation");
    let report = evaluate(&check, &[observed(Some(lesson05_healthy()))]);
    assert!(report.passed(), "{:#?}", report.findings);

    // A TraceContext propagator alone: one trace, no baggage downstream,
    // no injected delay.
    let mut trace = healthy_order();
    on_servers(&mut trace, &["api-gateway"], "request.source", "lesson-05");
    let report = evaluate(&check, &[observed(Some(trace))]);
    assert_eq!(
        keys(&report),
        ["baggage-lost", "baggage-lost", "baggage-lost", "too-short"],
        "{:#?}",
        report.findings
    );
    // Said once, not once per span.
    let text = lab::check::report::render(&report, lab::style::Style::plain());
    assert_eq!(text.matches("likely cause:").count(), 2, "{text}");
    assert_eq!(
        text.matches("(likely cause and fix: as above)").count(),
        2,
        "{text}"
    );

    // The CLIENT span's own context: the baggage crosses, the gateway's
    // additions (the delay) do not.
    let mut trace = healthy_order();
    on_servers(&mut trace, &ALL, "request.source", "lesson-05");
    let report = evaluate(&check, &[observed(Some(trace))]);
    assert_eq!(keys(&report), ["too-short"], "{:#?}", report.findings);

    // No diagnosis recites the fix.
    for note in check.diagnosis.values() {
        for code in [
            "propagation::inject",
            "inject(&",
            "Context::current()",
            "span.context()",
        ] {
            assert!(!note.contains(code), "{note}");
        }
    }
    let _ = DOWNSTREAM;
}

#[test]
fn lesson_06_wants_each_services_own_list() {
    let check = lesson("06-baggage");
    let mut right = healthy_order();
    on_servers(&mut right, &ALL, "request.source", "mobile");
    on_servers(&mut right, &["inventory-service"], "tenant.id", "acme");
    assert!(evaluate(&check, &[observed(Some(right.clone()))]).passed());

    // One hard-coded key: right on three services, short on the fourth.
    let mut hard_coded = healthy_order();
    on_servers(&mut hard_coded, &ALL, "request.source", "mobile");
    let report = evaluate(&check, &[observed(Some(hard_coded))]);
    assert_eq!(keys(&report), ["attribute-missing"]);
    assert_eq!(
        report.findings[0].span.as_deref(),
        Some("inventory-service POST /inventory/reservations (server)")
    );

    // Every entry: tenant.id where the list does not name it.
    let mut every = right;
    on_servers(&mut every, &ALL, "tenant.id", "acme");
    let report = evaluate(&check, &[observed(Some(every))]);
    assert_eq!(
        keys(&report),
        [
            "attribute-present",
            "attribute-present",
            "attribute-present"
        ]
    );
    let explained = lab::check::diagnosis::explain(&Cause::AttributePresent);
    assert!(
        !explained.likely.contains("collector"),
        "the collector is not the first suspect: {}",
        explained.likely
    );
}

#[test]
fn the_learners_own_environment_is_named_first() {
    let mut report = evaluate(&lesson("06-baggage"), &[observed(Some(healthy_order()))]);
    assert!(!report.passed());
    let overrides = [(
        "order-service",
        "BAGGAGE_SPAN_KEYS".to_string(),
        "request.source".to_string(),
        "request.source,tenant.id".to_string(),
    )];
    lab::check::blame_overrides(&overrides, &mut report);
    assert_eq!(report.cause_keys()[0], "env-override");
    assert_eq!(
        report.findings[0].problem,
        "your .lab/order-service.env sets BAGGAGE_SPAN_KEYS=request.source,tenant.id over \
         this lesson's BAGGAGE_SPAN_KEYS=request.source"
    );
    let explained = lab::check::diagnosis::explain(&report.findings[0].cause);
    assert!(
        explained.fix.contains(".lab/order-service.env"),
        "{}",
        explained.fix
    );

    // A passing check is left alone.
    let mut passed = Report::default();
    lab::check::blame_overrides(&overrides, &mut passed);
    assert!(passed.passed());
}

#[test]
fn lesson_08_counts_calls_and_lists_a_repeated_span_once() {
    let check = lesson("08-finding-latency");
    // The history's trace with an N+1: three calls, one per order.
    let mut trace = Trace {
        trace_id: trace_id(TRACE_ID),
        spans: vec![
            span(
                1,
                None,
                "api-gateway",
                "GET /orders",
                SpanKind::Server,
                0.0,
                20.0,
            ),
            span(
                2,
                Some(1),
                "api-gateway",
                "GET",
                SpanKind::Client,
                1.0,
                18.0,
            ),
            span(
                3,
                Some(2),
                "order-service",
                "GET /orders",
                SpanKind::Server,
                2.0,
                16.0,
            ),
            span(
                4,
                Some(3),
                "order-service",
                "GET",
                SpanKind::Client,
                2.5,
                2.0,
            ),
            span(
                5,
                Some(4),
                "user-service",
                "GET /users/{id}",
                SpanKind::Server,
                3.0,
                1.0,
            ),
        ],
    };
    trace.spans[0].parent_span_id = Some(CHECK_PARENT.to_string());
    for (i, id) in (10..13).enumerate() {
        let start = 6.0 + 3.0 * i as f64;
        trace.spans.push(span(
            id,
            Some(3),
            "order-service",
            "GET",
            SpanKind::Client,
            start,
            2.0,
        ));
        trace.spans.push(span(
            id + 10,
            Some(id),
            "inventory-service",
            "GET /inventory/{sku}",
            SpanKind::Server,
            start + 0.5,
            1.0,
        ));
    }
    let mut obs = observed(Some(trace));
    obs.request = "GET /orders?user_id=8".to_string();
    obs.expected_status = Some(200);
    obs.response = lab::check::engine::Outcome::Answered {
        status: 200,
        trace_id: Some(trace_id(TRACE_ID)),
        error: None,
    };
    let report = evaluate(&check, &[obs]);
    assert_eq!(
        keys(&report),
        ["wrong-count", "span-missing"],
        "{:#?}",
        report.findings
    );
    assert!(
        report.findings[1]
            .problem
            .ends_with("inventory-service's spans in this trace: GET /inventory/{sku} (×3)"),
        "{}",
        report.findings[1].problem
    );
    let _ = Value::Int(0);
}
