//! The tree printer's plain output for a known trace, character for character.

mod common;

use common::*;
use lab::model::{Event, SpanKind, Trace, Value};
use lab::style::Style;
use lab::tree::{render, TreeOptions};

/// A gateway → order-service trace with a slow, failing reservation call.
fn small_trace() -> Trace {
    use SpanKind::*;
    let mut spans = vec![
        span(1, None, "api-gateway", "POST /orders", Server, 0.0, 1600.0),
        span(2, Some(1), "api-gateway", "POST", Client, 100.0, 1480.0),
        span(
            3,
            Some(2),
            "order-service",
            "POST /orders",
            Server,
            120.0,
            1440.0,
        ),
        span(
            4,
            Some(3),
            "order-service",
            "validate_order",
            Internal,
            130.0,
            0.4,
        ),
        span(5, Some(3), "order-service", "POST", Client, 140.0, 1400.0),
        span(
            6,
            Some(1),
            "api-gateway",
            "format_response",
            Internal,
            1590.0,
            0.8,
        ),
    ];
    spans[4].attributes = vec![attr("http.response.status_code", Value::Int(502))];
    fail(&mut spans[4], "inventory-service failed");
    let confirmed_at = spans[2].start_us + 1_000;
    spans[2].events.push(Event {
        time_us: confirmed_at,
        name: "order.confirmed".to_string(),
        attributes: vec![attr("order.id", Value::Int(42))],
    });
    Trace {
        trace_id: trace_id(TRACE_ID),
        spans,
    }
}

#[test]
fn plain_tree_with_timeline() {
    let text = render(&small_trace(), &TreeOptions::default(), Style::plain());
    let expected = "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 · 6 spans · 2 services · 1.60 s · 1 error

api-gateway    POST /orders             server      1.60 s  ██████████████████████████████
api-gateway    ├─ POST                  client      1.48 s  ·███████████████████████████··
order-service  │  └─ POST /orders       server      1.44 s  ··███████████████████████████·
order-service  │     ├─ validate_order  internal    400 µs  ··█···························
order-service  │     └─ POST            client      1.40 s  ··██████████████████████████··  ✗ ERROR inventory-service failed
api-gateway    └─ format_response       internal    800 µs  ·····························█
";
    assert_eq!(text, expected, "\n{text}");
}

#[test]
fn events_and_attributes_sit_under_their_span() {
    let options = TreeOptions {
        events: true,
        attrs: true,
        ..TreeOptions::default()
    };
    let text = render(&small_trace(), &options, Style::plain());
    let lines: Vec<&str> = text.lines().collect();
    let expected_tail = [
        "order-service  │  └─ POST /orders       server      1.44 s  ··███████████████████████████·",
        "               │     │  • +1.0 ms order.confirmed order.id=42",
        "order-service  │     ├─ validate_order  internal    400 µs  ··█···························",
        "order-service  │     └─ POST            client      1.40 s  ··██████████████████████████··  ✗ ERROR inventory-service failed",
        "               │           http.response.status_code = 502",
        "               │           • +50 µs exception exception.type=\"DownstreamError\" exception.message=\"inventory-service failed\"",
        "api-gateway    └─ format_response       internal    800 µs  ·····························█",
    ];
    assert_eq!(&lines[4..], &expected_tail, "\n{text}");
}

#[test]
fn missing_parents_are_shown_as_extra_roots() {
    let mut trace = small_trace();
    // format_response's parent was never exported.
    trace.spans[5].parent_span_id = Some("00000000000000aa".to_string());
    let text = render(&trace, &TreeOptions::default(), Style::plain());
    assert!(text.lines().last().unwrap().ends_with(
        "format_response          internal    800 µs  ·····························█  (parent 00000000000000aa not in this trace)"
    ), "{text}");
}

#[test]
fn colour_only_when_asked() {
    let plain = render(&small_trace(), &TreeOptions::default(), Style::plain());
    assert!(!plain.contains('\x1b'));
    let colored = render(&small_trace(), &TreeOptions::default(), Style::colored());
    assert!(colored.contains("\x1b[31m✗ ERROR"));
}
