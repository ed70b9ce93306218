//! Lesson 15's causes on hand-made traces: a context lost inside a process
//! (`lost-in-process`: a spawned task's spans begin traces of their own
//! although the service's SERVER span is in the request's trace), told from
//! one lost on the wire (`split-trace`), and concurrent requests mixed up
//! (`mixed-requests`: a span kept entered across an `.await`).

mod common;

use common::*;
use lab::check::diagnosis::Cause;
use lab::check::engine::{evaluate, Observation};
use lab::check::in_process::lost_inside;
use lab::check::spec::Spec;
use lab::model::{Event, SpanKind, Trace, Value};

fn lesson_15() -> Spec {
    lesson("15-context-across-tasks")
}

/// A healthy order as lesson 15 sees it (a Headset; what `place_order`
/// records on the request's span), under trace id `id`.
fn order(id: &str) -> Trace {
    let mut trace = healthy_order();
    let server = find_mut(&mut trace, "order-service", "POST /orders");
    server.attributes.push(attr("order.id", Value::Int(7)));
    server
        .attributes
        .push(attr("product.sku", s("HEADSET-001")));
    server.events.push(Event {
        time_us: server.start_us + 20_000,
        name: "order.confirmed".to_string(),
        attributes: Vec::new(),
    });
    find_mut(&mut trace, "order-service", "calculate_total")
        .attributes
        .push(attr("order.total_cents", Value::Int(8900)));
    find_mut(&mut trace, "order-service", "save_order")
        .attributes
        .push(attr("order.id", Value::Int(7)));
    with_id(trace, id)
}

fn with_id(mut trace: Trace, id: &str) -> Trace {
    trace.trace_id = trace_id(id);
    for span in trace.spans.iter_mut() {
        span.trace_id = trace_id(id);
    }
    trace
}

fn observed(trace: Trace, elsewhere: Vec<Trace>) -> Observation {
    let mut obs = Observation::answered("POST /orders", 201, Some(trace.trace_id.clone()));
    obs.trace = Some(trace);
    obs.elsewhere = elsewhere;
    obs
}

/// Moves the subtree under `(service, name)` out of `trace` into a trace
/// of its own (`id`), rooted at that span: what a spawned task without the
/// request's span makes of each of its steps.
fn split_subtree(trace: &mut Trace, service: &str, name: &str, id: &str) -> Trace {
    let root = trace
        .spans
        .iter()
        .find(|s| s.service() == service && s.name == name)
        .unwrap()
        .span_id
        .clone();
    let mut ids = vec![root.clone()];
    // Parents come before children in the hand-made trace, but not always:
    // repeat until nothing more joins.
    loop {
        let before = ids.len();
        for span in &trace.spans {
            let under = span
                .parent_span_id
                .as_ref()
                .is_some_and(|p| ids.contains(p));
            if under && !ids.contains(&span.span_id) {
                ids.push(span.span_id.clone());
            }
        }
        if ids.len() == before {
            break;
        }
    }
    let (moved, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut trace.spans)
        .into_iter()
        .partition(|s| ids.contains(&s.span_id));
    trace.spans = kept;
    let mut other = with_id(
        Trace {
            trace_id: trace_id(id),
            spans: moved,
        },
        id,
    );
    for span in other.spans.iter_mut().filter(|s| s.span_id == root) {
        span.parent_span_id = None;
    }
    other
}

const A: &str = "aaaa0000000000000000000000000001";
const B: &str = "bbbb0000000000000000000000000002";
const C: &str = "cccc0000000000000000000000000003";

#[test]
fn concurrent_healthy_orders_pass_lesson_15() {
    let spec = lesson_15();
    let observations = [
        observed(order(A), Vec::new()),
        observed(order(B), Vec::new()),
        observed(order(C), Vec::new()),
    ];
    let report = evaluate(&spec, &observations);
    assert!(report.passed(), "{:#?}", report.findings);
}

/// The starting point: the task's four steps each begin a trace.
fn spawned_without_span() -> (Trace, Vec<Trace>) {
    let mut trace = order(A);
    let pieces = vec![
        split_subtree(
            &mut trace,
            "order-service",
            "GET",
            "10000000000000000000000000000001",
        ),
        split_subtree(
            &mut trace,
            "order-service",
            "POST",
            "10000000000000000000000000000002",
        ),
        split_subtree(
            &mut trace,
            "order-service",
            "calculate_total",
            "10000000000000000000000000000003",
        ),
        split_subtree(
            &mut trace,
            "order-service",
            "save_order",
            "10000000000000000000000000000004",
        ),
    ];
    // What place_order records on the current span goes nowhere.
    let server = find_mut(&mut trace, "order-service", "POST /orders");
    server
        .attributes
        .retain(|a| a.key != "order.id" && a.key != "product.sku");
    server.events.clear();
    (trace, pieces)
}

#[test]
fn a_task_spawned_without_the_span_is_lost_in_process_not_on_the_wire() {
    let (trace, pieces) = spawned_without_span();
    let report = evaluate(&lesson_15(), &[observed(trace, pieces)]);
    let found = keys(&report);
    assert_eq!(found[0], "lost-in-process", "{:#?}", report.findings);
    assert!(!found.contains(&"split-trace"), "{found:?}");
    // user-service and inventory-service went along with order-service's
    // calls: not an exporter problem; the missing spans are explained.
    assert!(!found.contains(&"service-missing"), "{found:?}");
    assert!(!found.contains(&"span-missing"), "{found:?}");
    // One finding for the one cause, naming every piece.
    let lost: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.cause.key() == "lost-in-process")
        .collect();
    assert_eq!(lost.len(), 1, "{lost:#?}");
    assert_eq!(
        lost[0].cause,
        Cause::LostInProcess {
            service: "order-service".into(),
            span: "GET".into(),
            server: "POST /orders".into(),
        }
    );
    assert!(
        lost[0]
            .problem
            .contains("so did order-service's POST, calculate_total, save_order"),
        "{}",
        lost[0].problem
    );
    // The words: inside the process, the server span named, no blame on the wire.
    let words = lab::check::diagnosis::explain(&lost[0].cause);
    assert!(words
        .likely
        .contains("although order-service's POST /orders is in"));
    assert!(words.likely.contains("lost inside the process"));
    assert!(!words.likely.contains("inject"), "{}", words.likely);
    // The same in every request is one finding with a count.
    let (second, more) = spawned_without_span();
    let second = with_id(second, B);
    let report = evaluate(
        &lesson_15(),
        &[
            observed(spawned_without_span().0, spawned_without_span().1),
            observed(second, more),
        ],
    );
    let lost: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.cause.key() == "lost-in-process")
        .collect();
    assert_eq!((lost.len(), lost[0].count), (1, 2), "{lost:#?}");
}

#[test]
fn a_span_made_inside_the_task_roots_the_lost_trace() {
    // `info_span!` inside the spawned task: no parent there, so the new span
    // is a root, and the steps hang under it in its own trace.
    let mut trace = order(A);
    let piece = "20000000000000000000000000000001";
    let mut pieces = Vec::new();
    for name in ["GET", "POST", "calculate_total", "save_order"] {
        pieces.push(split_subtree(&mut trace, "order-service", name, piece));
    }
    let mut task = Trace {
        trace_id: trace_id(piece),
        spans: pieces.into_iter().flat_map(|t| t.spans).collect(),
    };
    let mut root = span(
        99,
        None,
        "order-service",
        "place_order",
        SpanKind::Internal,
        2.9,
        20.0,
    );
    root.trace_id = trace_id(piece);
    for span in task.spans.iter_mut().filter(|s| s.parent_span_id.is_none()) {
        span.parent_span_id = Some(root.span_id.clone());
    }
    task.spans.push(root);

    let report = evaluate(&lesson_15(), &[observed(trace, vec![task.clone()])]);
    let found = keys(&report);
    assert_eq!(found[0], "lost-in-process", "{:#?}", report.findings);
    assert!(!found.contains(&"span-missing"), "{found:?}");
    assert!(!found.contains(&"service-missing"), "{found:?}");
    assert_eq!(
        report.findings[0].cause,
        Cause::LostInProcess {
            service: "order-service".into(),
            span: "place_order".into(),
            server: "POST /orders".into(),
        }
    );
    assert!(report.findings[0]
        .problem
        .contains("order-service place_order (internal) started a trace of its own"));
    // A job of order-service begun after the request was served, under a
    // span nobody expects, explains nothing either: the spans are missing.
    let mut late = task.clone();
    for span in late.spans.iter_mut() {
        span.start_us += 30_000;
    }
    let (trace, _) = spawned_without_span();
    let report = evaluate(&lesson_15(), &[observed(trace, vec![late])]);
    assert!(
        !keys(&report).contains(&"lost-in-process"),
        "{:#?}",
        report.findings
    );
    assert!(
        keys(&report).contains(&"span-missing"),
        "{:#?}",
        report.findings
    );
    // Another request's healthy trace holds the same spans, and explains nothing.
    let report = evaluate(
        &lesson_15(),
        &[observed(spawned_without_span().0, vec![order(C)])],
    );
    assert!(
        !keys(&report).contains(&"lost-in-process"),
        "{:#?}",
        report.findings
    );
}

#[test]
fn lost_inside_needs_an_internal_or_client_root_and_the_services_server_span() {
    let trace = order(A);
    // order-service's POST /orders lasts from 2 to 27 ms.
    let lone = |service: &str, name: &str, kind| span(50, None, service, name, kind, 5.0, 1.0);
    let cause = lost_inside(&trace, &lone("order-service", "GET", SpanKind::Client));
    assert_eq!(cause.map(|c| c.key()), Some("lost-in-process"));
    let cause = lost_inside(
        &trace,
        &lone("order-service", "calculate_total", SpanKind::Internal),
    );
    assert_eq!(cause.map(|c| c.key()), Some("lost-in-process"));
    // A SERVER or CONSUMER root: the context did not cross the hop into it.
    assert!(lost_inside(
        &trace,
        &lone("order-service", "POST /orders", SpanKind::Server)
    )
    .is_none());
    assert!(lost_inside(
        &trace,
        &lone("user-service", "process orders", SpanKind::Consumer)
    )
    .is_none());
    // A service with no SERVER span in the trace never had the request's context.
    let mut without = order(A);
    without.spans.retain(|s| s.service() != "order-service");
    assert!(lost_inside(&without, &lone("order-service", "GET", SpanKind::Client)).is_none());
}

/// Request `from`'s spans of a step hang under `into`'s SERVER span: what a
/// guard kept across `.await` does to two orders polled on one thread.
fn mix(into: &mut Trace, from: &mut Trace, names: &[&str]) {
    let server = into
        .spans
        .iter()
        .find(|s| s.service() == "order-service" && s.name == "POST /orders")
        .unwrap()
        .span_id
        .clone();
    for (n, name) in names.iter().enumerate() {
        let other = "30000000000000000000000000000001";
        let mut moved = split_subtree(from, "order-service", name, other);
        for span in moved.spans.iter_mut() {
            // New ids: the hand-made traces share theirs.
            let renumber = |id: &str| {
                format!(
                    "{:016x}",
                    u64::from_str_radix(id, 16).unwrap() + 1000 * (n as u64 + 1)
                )
            };
            span.span_id = renumber(&span.span_id);
            span.parent_span_id = match &span.parent_span_id {
                Some(p) => Some(renumber(p)),
                None => Some(server.clone()),
            };
            span.trace_id = into.trace_id.clone();
        }
        into.spans.extend(moved.spans);
    }
}

#[test]
fn a_guard_across_await_mixes_concurrent_requests_up() {
    let (mut a, mut b, c) = (order(A), order(B), order(C));
    mix(&mut a, &mut b, &["POST", "calculate_total", "save_order"]);
    let report = evaluate(
        &lesson_15(),
        &[
            observed(a, Vec::new()),
            observed(b, Vec::new()),
            observed(c, Vec::new()),
        ],
    );
    let found = keys(&report);
    assert_eq!(found[0], "mixed-requests", "{:#?}", report.findings);
    assert_eq!(found.iter().filter(|k| **k == "mixed-requests").count(), 1);
    // Its symptoms are folded in: too many here, missing there, and
    // inventory-service, whose only spans went into the other trace.
    for symptom in ["wrong-count", "span-missing", "service-missing"] {
        assert!(
            !found.contains(&symptom),
            "{symptom}: {:#?}",
            report.findings
        );
    }
    let problem = &report.findings[0].problem;
    assert!(problem.contains(&format!("trace {A} holds 2")), "{problem}");
    assert!(problem.contains(&format!("trace {B} none")), "{problem}");
    assert!(problem.contains("so are"), "{problem}");
    let words = lab::check::diagnosis::explain(&report.findings[0].cause);
    assert!(
        words.likely.contains("across the `.await`"),
        "{}",
        words.likely
    );
}

#[test]
fn too_many_in_every_trace_is_a_count_not_a_mix_up() {
    // An N+1 in every request: no request lacks what another has too much of.
    let mut traces = vec![order(A), order(B)];
    for trace in traces.iter_mut() {
        let extra = span(
            200,
            Some(3),
            "order-service",
            "GET",
            SpanKind::Client,
            9.0,
            1.0,
        );
        trace.spans.push(extra);
        let id = trace.trace_id.clone();
        trace.spans.iter_mut().for_each(|s| s.trace_id = id.clone());
    }
    let observations: Vec<_> = traces
        .into_iter()
        .map(|t| observed(t, Vec::new()))
        .collect();
    let report = evaluate(&lesson_15(), &observations);
    let found = keys(&report);
    assert!(found.contains(&"wrong-count"), "{found:?}");
    assert!(!found.contains(&"mixed-requests"), "{found:?}");
    // One request alone cannot be mixed up with another.
    let (mut a, mut b) = (order(A), order(B));
    mix(&mut a, &mut b, &["calculate_total"]);
    let report = evaluate(&lesson_15(), &[observed(a, Vec::new())]);
    assert!(
        !keys(&report).contains(&"mixed-requests"),
        "{:#?}",
        report.findings
    );
}
