//! `cargo lab diff` on hand-made pairs of traces: where a delay moved, and
//! the extra spans of an N+1.

mod common;

use common::*;
use lab::compare::{compare, render};
use lab::model::{SpanKind, Status, Trace};
use lab::style::Style;

/// The healthy trace, moved to another trace id.
fn copy_of_healthy(id: &str) -> Trace {
    let mut trace = healthy_order();
    trace.trace_id = trace_id(id);
    for span in trace.spans.iter_mut() {
        span.trace_id = trace_id(id);
    }
    trace
}

/// Stretches a span and its ancestors by `ms`, as a delay inside it would.
fn delay(trace: &mut Trace, service: &str, name: &str, ms: f64) {
    let mut id = Some(find_mut(trace, service, name).span_id.clone());
    while let Some(span_id) = id {
        // The root's parent is lab check's, not in the trace: stop there.
        let Some(span) = trace.spans.iter_mut().find(|s| s.span_id == span_id) else {
            break;
        };
        span.duration_us += (ms * 1000.0) as u64;
        id = span.parent_span_id.clone();
    }
}

#[test]
fn a_delay_moved_from_one_service_to_another_is_found_where_it_happens() {
    // a: user-service's SELECT is slow; b: inventory-service's UPDATE is.
    let mut a = copy_of_healthy("a1");
    delay(&mut a, "user-service", "SELECT users", 200.0);
    let mut b = copy_of_healthy("b2");
    delay(&mut b, "inventory-service", "UPDATE products", 300.0);

    let diff = compare(&a, &b);
    assert!(diff.only_a.is_empty() && diff.only_b.is_empty());
    assert_eq!(diff.pairs.len(), a.spans.len(), "every span paired");
    // Sorted by the change in self time: the two spans where the time is
    // spent come first, whatever happened to the spans above them.
    let top: Vec<(&str, &str, i64)> = diff.pairs[..2]
        .iter()
        .map(|p| {
            (
                p.service.as_str(),
                p.path.last().unwrap().as_str(),
                p.self_delta_us(),
            )
        })
        .collect();
    assert_eq!(
        top,
        vec![
            ("inventory-service", "UPDATE products", 300_000),
            ("user-service", "SELECT users", -200_000),
        ]
    );
    // The root's duration grew by the difference, its self time did not change.
    let root = diff.pairs.iter().find(|p| p.path.len() == 1).unwrap();
    assert_eq!(root.duration_delta_us(), 100_000);
    assert_eq!(root.self_delta_us(), 0);
    assert_eq!(
        diff.pairs[0].path,
        [
            "POST /orders",
            "POST",
            "POST /orders",
            "POST",
            "POST /inventory/reservations",
            "UPDATE products"
        ]
    );

    let text = render(&diff, Style::plain());
    let first = text
        .lines()
        .skip_while(|l| !l.contains("where the time went"))
        .nth(1)
        .unwrap();
    assert!(
        first.contains("+300.0 ms") || first.contains("+300 ms"),
        "{text}"
    );
    assert!(first.contains("inventory-service"), "{text}");
    assert!(!text.contains("only in"), "{text}");
}

#[test]
fn an_n_plus_one_shows_its_extra_calls_as_spans_only_in_one_trace() {
    let a = copy_of_healthy("a1");
    let mut b = copy_of_healthy("b2");
    // b's order-service fetches the user five times instead of once.
    let get = b
        .spans
        .iter()
        .find(|s| s.service() == "order-service" && s.name == "GET")
        .unwrap()
        .clone();
    for n in 1..=4u64 {
        let mut extra = get.clone();
        extra.span_id = format!("{:016x}", 100 + n);
        extra.start_us += n * 7_000;
        extra.duration_us = 2_000;
        b.spans.push(extra);
    }

    let diff = compare(&a, &b);
    assert!(diff.only_a.is_empty());
    assert_eq!(diff.only_b.len(), 4);
    for single in &diff.only_b {
        assert_eq!(single.service, "order-service");
        assert_eq!(single.path, ["POST /orders", "POST", "POST /orders", "GET"]);
    }
    // The first GET of b is paired with a's only GET: same span.
    let pair = diff
        .pairs
        .iter()
        .find(|p| p.path == ["POST /orders", "POST", "POST /orders", "GET"])
        .unwrap();
    assert_eq!(pair.a.span_id, pair.b.span_id);
    assert_eq!(pair.duration_delta_us(), 0);

    let text = render(&diff, Style::plain());
    assert!(text.contains("only in b (4 spans)"), "{text}");
    assert!(
        text.contains("×4") && text.contains("POST /orders › POST › POST /orders › GET"),
        "{text}"
    );
}

#[test]
fn a_status_change_is_listed() {
    let a = copy_of_healthy("a1");
    let mut b = copy_of_healthy("b2");
    fail(
        find_mut(&mut b, "inventory-service", "POST /inventory/reservations"),
        "out of stock",
    );
    let diff = compare(&a, &b);
    let changes: Vec<_> = diff.status_changes().collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].service, "inventory-service");
    assert_eq!(changes[0].b.status, Status::Error);
    let text = render(&diff, Style::plain());
    assert!(
        text.contains("status changes:\n  unset → ERROR  inventory-service"),
        "{text}"
    );
}

#[test]
fn spans_only_in_a_and_self_time_of_overlapping_children() {
    use lab::compare::self_time;
    let mut a = copy_of_healthy("a1");
    a.spans.push(span(
        50,
        Some(1),
        "api-gateway",
        "audit",
        SpanKind::Internal,
        29.0,
        0.5,
    ));
    let b = copy_of_healthy("b2");
    let diff = compare(&a, &b);
    assert_eq!(diff.only_a.len(), 1);
    assert_eq!(diff.only_a[0].path, ["POST /orders", "audit"]);

    // Two children overlapping by 1 ms inside a 10 ms parent: 10 - (4 + 4 - 1).
    let parent = span(1, None, "s", "p", SpanKind::Server, 0.0, 10.0);
    let trace = Trace {
        trace_id: trace_id(TRACE_ID),
        spans: vec![
            parent.clone(),
            span(2, Some(1), "s", "c1", SpanKind::Client, 1.0, 4.0),
            span(3, Some(1), "s", "c2", SpanKind::Client, 4.0, 4.0),
        ],
    };
    assert_eq!(self_time(&trace, &parent), 3_000);
}
