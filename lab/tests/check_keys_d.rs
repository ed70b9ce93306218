//! What lessons 13 and 14's checks tell apart, on hand-made traces and log
//! lines, with the lessons' own check.yaml: log lines holding the id under
//! another field or in another form (`log-id-field`), the lines of an
//! unsampled request (`logs-unsampled`, a `logs:` entry applied to a
//! request with `expect_trace: absent`), a span id that is another
//! service's span; across a queue, a CONSUMER span linked to its producer
//! instead of being its child (`linked-not-child`), one under another span
//! than the producer (`message-parent`), and an unsampled order traced
//! after the queue (`unexpected-trace`, naming where the trace begins).

mod common;

use common::*;
use lab::check::diagnosis::Cause;
use lab::check::engine::{evaluate, Observation};
use lab::check::spec::{ExpectTrace, Spec};
use lab::model::{Link, Trace, TraceId};
use serde_json::json;

const UNSAMPLED: &str = "0af7651916cd43dd8448eb211c80319c";

/// The lessons' two requests: the sampled order with its trace, and the
/// unsampled one that must leave none.
fn observations(trace: Trace) -> (Observation, Observation) {
    let mut sampled = Observation::answered("POST /orders", 201, Some(trace_id(TRACE_ID)));
    sampled.trace = Some(trace);
    let mut unsampled = Observation::answered("POST /orders", 201, Some(trace_id(UNSAMPLED)));
    unsampled.expect_trace = ExpectTrace::Absent;
    unsampled.phase = 1;
    (sampled, unsampled)
}

/// A JSON line of `trace` written in span `span_id`, with `message`.
fn line(service: &str, trace: &str, span_id: &str, message: &str) -> (String, String) {
    let fields = json!({"trace_id": trace, "span_id": span_id, "message": message});
    (service.to_string(), fields.to_string())
}

/// Every service's checked line of lesson 13, in the healthy order's
/// server spans (common/mod.rs: gateway 1, order-service 3, user-service
/// 6, inventory-service 11), with the trace id `trace`.
fn lesson_13_lines(trace: &str) -> Vec<(String, String)> {
    vec![
        line("api-gateway", trace, "0000000000000001", "request finished"),
        line(
            "order-service",
            trace,
            "0000000000000003",
            "order.confirmed",
        ),
        line(
            "user-service",
            trace,
            "0000000000000006",
            "request finished",
        ),
        line(
            "inventory-service",
            trace,
            "000000000000000b",
            "stock reserved",
        ),
    ]
}

#[test]
fn lesson_13_passes_with_both_requests_lines() {
    let spec = lesson("13-correlated-logs");
    let (mut sampled, mut unsampled) = observations(healthy_order());
    sampled.logs = lesson_13_lines(TRACE_ID);
    // No trace, so no span to compare: any span id will do.
    unsampled.logs = lesson_13_lines(UNSAMPLED);
    let report = evaluate(&spec, &[sampled, unsampled]);
    assert!(report.passed(), "{:#?}", report.findings);
}

#[test]
fn ids_under_another_name_or_in_uppercase_are_found_and_named() {
    let spec = lesson("13-correlated-logs");
    let (mut sampled, unsampled) = observations(healthy_order());
    // Elastic Common Schema names: the id is there, as `trace.id`.
    sampled.logs = lesson_13_lines(TRACE_ID)
        .into_iter()
        .map(|(service, raw)| {
            let raw = raw.replace("\"trace_id\"", "\"trace.id\"");
            (service, raw)
        })
        .collect();
    let report = evaluate(&spec, &[sampled.clone(), unsampled.clone()]);
    assert_eq!(keys(&report), ["log-id-field"], "{:#?}", report.findings);
    assert!(
        report.findings[0]
            .problem
            .contains("api-gateway's lines have it in the field `trace.id`"),
        "{}",
        report.findings[0].problem
    );
    // Nested, camelCase: the path is named.
    sampled.logs = vec![(
        "api-gateway".to_string(),
        json!({"otel": {"traceId": TRACE_ID}, "message": "request finished"}).to_string(),
    )];
    let report = evaluate(&spec, &[sampled.clone(), unsampled.clone()]);
    assert!(
        keys(&report).contains(&"log-id-field"),
        "{:#?}",
        report.findings
    );
    assert!(
        report.findings[0].problem.contains("`otel.traceId`"),
        "{}",
        report.findings[0].problem
    );
    // The right field, the wrong form.
    sampled.logs = lesson_13_lines(&TRACE_ID.to_uppercase());
    let report = evaluate(&spec, &[sampled.clone(), unsampled.clone()]);
    assert_eq!(keys(&report), ["log-id-field"], "{:#?}", report.findings);
    assert!(
        report.findings[0].problem.contains(&format!(
            "written as \"{}\" in `trace_id`",
            TRACE_ID.to_uppercase()
        )),
        "{}",
        report.findings[0].problem
    );
    // A message that mentions the id is not a field.
    sampled.logs = vec![(
        "api-gateway".to_string(),
        json!({"message": format!("retrying {TRACE_ID}")}).to_string(),
    )];
    let report = evaluate(&spec, &[sampled, unsampled]);
    assert_eq!(keys(&report), ["logs-missing"], "{:#?}", report.findings);
}

#[test]
fn an_unsampled_requests_lines_must_carry_their_ids_too() {
    let spec = lesson("13-correlated-logs");
    let (mut sampled, mut unsampled) = observations(healthy_order());
    sampled.logs = lesson_13_lines(TRACE_ID);
    // Ids written only for sampled spans: the unsampled order's lines have none.
    let report = evaluate(&spec, &[sampled.clone(), unsampled.clone()]);
    assert_eq!(keys(&report), ["logs-unsampled"], "{:#?}", report.findings);
    assert_eq!(
        report.findings[0].cause,
        Cause::LogsUnsampled {
            service: "api-gateway, order-service, user-service and inventory-service".into()
        }
    );
    assert!(
        report.findings[0]
            .problem
            .contains("sent as \"not sampled\""),
        "{}",
        report.findings[0].problem
    );
    assert!(
        report.findings[0].problem.contains(UNSAMPLED),
        "{}",
        report.findings[0].problem
    );
    // One service short: named alone.
    unsampled.logs = lesson_13_lines(UNSAMPLED);
    unsampled.logs.remove(0);
    let report = evaluate(&spec, &[sampled.clone(), unsampled.clone()]);
    assert_eq!(
        report.findings[0].cause,
        Cause::LogsUnsampled {
            service: "api-gateway".into()
        }
    );
    // When no line has ids at all, that is the one finding (not twice).
    sampled.logs.clear();
    unsampled.logs.clear();
    let report = evaluate(&spec, &[sampled, unsampled]);
    assert_eq!(keys(&report), ["logs-missing"], "{:#?}", report.findings);
}

#[test]
fn a_wrong_span_id_says_whose_it_is() {
    let spec = lesson("13-correlated-logs");
    let (mut sampled, mut unsampled) = observations(healthy_order());
    unsampled.logs = lesson_13_lines(UNSAMPLED);
    // order-service's line names the gateway's client span (2): its caller's.
    sampled.logs = lesson_13_lines(TRACE_ID);
    sampled.logs[1] = line(
        "order-service",
        TRACE_ID,
        "0000000000000002",
        "order.confirmed",
    );
    let report = evaluate(&spec, &[sampled.clone(), unsampled.clone()]);
    assert_eq!(keys(&report), ["log-span-id"], "{:#?}", report.findings);
    assert!(
        report.findings[0]
            .problem
            .contains("it is api-gateway POST (client), a span of another service"),
        "{}",
        report.findings[0].problem
    );
    // `tracing`'s own ids count up from 1, everywhere.
    sampled.logs = lesson_13_lines(TRACE_ID)
        .into_iter()
        .map(|(service, _)| line(&service, TRACE_ID, "0000000000000063", "x"))
        .collect();
    let spec_any = Spec::parse(
        "title: t\nrequests: [{ method: POST, path: /orders, status: 201 }]\nlogs:\n  - { service: order-service }\n  - { service: user-service }\n",
    )
    .unwrap();
    let report = evaluate(&spec_any, &[sampled]);
    assert_eq!(keys(&report), ["log-span-id"], "{:#?}", report.findings);
    let problem = &report.findings[0].problem;
    assert!(
        problem.contains("order-service and user-service")
            && problem.contains("looks like a counter"),
        "{problem}"
    );
}

/// The healthy order without its consumer's spans (19–21), and those
/// spans as a trace of their own (`id`), rooted at the CONSUMER span.
fn consumer_split_off(id: &str) -> (Trace, Trace) {
    let mut order = healthy_order();
    let (consumer, rest): (Vec<_>, Vec<_>) = order
        .spans
        .into_iter()
        .partition(|s| s.service() == "user-service" && s.start_us >= T0 + 33_000);
    order.spans = rest;
    let mut spans = consumer;
    for span in &mut spans {
        span.trace_id = trace_id(id);
    }
    spans
        .iter_mut()
        .find(|s| s.name == "process orders")
        .unwrap()
        .parent_span_id = None;
    (
        order,
        Trace {
            trace_id: trace_id(id),
            spans,
        },
    )
}

#[test]
fn a_consumer_linked_to_its_producer_is_not_its_child() {
    let spec = lesson("14-across-a-queue");
    let (order, mut linked) = consumer_split_off("1111111111111111111111111111111a");
    // Another message's consumer trace, without a link, comes first.
    let (_, other) = consumer_split_off("2222222222222222222222222222222b");
    linked
        .spans
        .iter_mut()
        .find(|s| s.name == "process orders")
        .unwrap()
        .links
        .push(Link {
            trace_id: trace_id(TRACE_ID),
            span_id: format!("{:016x}", 18),
        });
    let (mut sampled, unsampled) = observations(order.clone());
    sampled.elsewhere = vec![other.clone(), linked];
    let report = evaluate(&spec, &[sampled.clone(), unsampled.clone()]);
    assert_eq!(
        keys(&report),
        ["linked-not-child"],
        "{:#?}",
        report.findings
    );
    assert!(
        report.findings[0].problem.contains(
            "with a link to order-service send orders (producer) there: linked to it, not its child"
        ),
        "{}",
        report.findings[0].problem
    );
    // No link anywhere: the context did not cross.
    sampled.elsewhere = vec![other];
    let report = evaluate(&spec, &[sampled, unsampled]);
    assert_eq!(keys(&report), ["split-trace"], "{:#?}", report.findings);
}

#[test]
fn a_consumer_under_another_span_than_the_producer_is_named() {
    let spec = lesson("14-across-a-queue");
    let mut order = healthy_order();
    // The stored context (save_order, 14) instead of the producer's (18).
    find_mut(&mut order, "user-service", "process orders").parent_span_id =
        Some(format!("{:016x}", 14));
    let (sampled, unsampled) = observations(order);
    let report = evaluate(&spec, &[sampled, unsampled]);
    assert_eq!(keys(&report), ["message-parent"], "{:#?}", report.findings);
    assert!(
        report.findings[0]
            .problem
            .contains("found order-service save_order (internal)"),
        "{}",
        report.findings[0].problem
    );
    // A span that is no CONSUMER keeps the general cause.
    let mut order = healthy_order();
    find_mut(&mut order, "order-service", "INSERT order_events").parent_span_id =
        Some(format!("{:016x}", 3));
    let (sampled, unsampled) = observations(order);
    let report = evaluate(&spec, &[sampled, unsampled]);
    assert_eq!(keys(&report), ["wrong-parent"], "{:#?}", report.findings);
}

#[test]
fn lesson_14_passes_whole_and_names_where_an_unsampled_trace_begins() {
    let spec = lesson("14-across-a-queue");
    let (sampled, mut unsampled) = observations(healthy_order());
    let report = evaluate(&spec, &[sampled.clone(), unsampled.clone()]);
    assert!(report.passed(), "{:#?}", report.findings);
    // The unsampled order's consumer, traced all the same under its id.
    let (_, mut after_queue) = consumer_split_off(UNSAMPLED);
    after_queue
        .spans
        .iter_mut()
        .find(|s| s.name == "process orders")
        .unwrap()
        .parent_span_id = Some("00f067aa0ba902b7".into());
    unsampled.trace = Some(after_queue);
    let report = evaluate(&spec, &[sampled, unsampled]);
    assert_eq!(
        keys(&report),
        ["unexpected-trace"],
        "{:#?}",
        report.findings
    );
    assert!(
        report.findings[0]
            .problem
            .ends_with("it begins at user-service process orders (consumer)"),
        "{}",
        report.findings[0].problem
    );
}

#[test]
fn trace_ids_in_other_fields_are_read_from_the_log_text() {
    let id = TraceId::parse(TRACE_ID).unwrap();
    let text = format!(
        "{}\n{}\n{}\nnot json {TRACE_ID}\n",
        json!({"trace_id": TRACE_ID, "message": "exact"}),
        json!({"trace.id": TRACE_ID, "message": "renamed"}),
        json!({"trace_id": TRACE_ID.to_uppercase(), "message": "uppercase"}),
    );
    let found: Vec<String> = lab::logs::mentions_of("order-service", &text, &id)
        .iter()
        .map(|l| l.text("message").unwrap().to_string())
        .collect();
    assert_eq!(found, ["renamed", "uppercase"]);
}
