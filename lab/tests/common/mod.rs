//! Hand-built traces for the tests: the healthy `POST /orders` trace of the
//! DESIGN contract, and helpers to break it.
#![allow(dead_code)] // each test file uses a different part

use lab::check::engine::{Observation, Report};
use lab::check::spec::Spec;
use lab::model::{Attribute, Event, Process, Span, SpanKind, Status, Trace, TraceId, Value};

pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// The parent span id `lab check` would put in its traceparent.
pub const CHECK_PARENT: &str = "00f067aa0ba902b7";
pub const T0: u64 = 1_767_225_600_000_000;

pub fn trace_id(id: &str) -> TraceId {
    TraceId::parse(id).unwrap()
}

/// A check written in the test (panics with the YAML if it does not parse).
pub fn spec(yaml: &str) -> Spec {
    Spec::parse(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// The start of a check written in a test: one `POST /orders` answering 201.
pub const HEAD: &str = "title: t\nrequests: [{ method: POST, path: /orders, status: 201 }]\n";

/// The shipped check of lesson `slug` (its folder name under `lessons/`).
pub fn lesson(slug: &str) -> Spec {
    let path = format!(
        "{}/../lessons/{slug}/check.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    Spec::load(std::path::Path::new(&path)).unwrap()
}

/// One `POST /orders` that answered 201 with TRACE_ID, and the trace found
/// for it (`None`: none was found).
pub fn observed(trace: Option<Trace>) -> Observation {
    let mut obs = Observation::answered("POST /orders", 201, Some(trace_id(TRACE_ID)));
    obs.trace = trace;
    obs
}

/// The cause keys of the report's findings, in order.
pub fn keys(report: &Report) -> Vec<&'static str> {
    report.cause_keys()
}

/// A span starting `start_ms` after T0 and lasting `duration_ms`.
pub fn span(
    id: u64,
    parent: Option<u64>,
    service: &str,
    name: &str,
    kind: SpanKind,
    start_ms: f64,
    duration_ms: f64,
) -> Span {
    Span {
        trace_id: trace_id(TRACE_ID),
        span_id: format!("{id:016x}"),
        parent_span_id: parent.map(|p| format!("{p:016x}")),
        name: name.to_string(),
        kind,
        start_us: T0 + (start_ms * 1000.0) as u64,
        duration_us: (duration_ms * 1000.0) as u64,
        process: Process {
            service: service.to_string(),
            tags: Vec::new(),
        },
        ..Span::default()
    }
}

pub fn attr(key: &str, value: Value) -> Attribute {
    Attribute::new(key, value)
}

pub fn s(text: &str) -> Value {
    Value::Str(text.to_string())
}

/// The trace of one healthy `POST /orders`, continued from `lab check`'s
/// traceparent (the root's parent is CHECK_PARENT, not in the trace).
pub fn healthy_order() -> Trace {
    use SpanKind::*;
    let mut spans = vec![
        span(1, None, "api-gateway", "POST /orders", Server, 0.0, 30.0),
        span(2, Some(1), "api-gateway", "POST", Client, 1.0, 27.0),
        span(
            3,
            Some(2),
            "order-service",
            "POST /orders",
            Server,
            2.0,
            25.0,
        ),
        span(
            4,
            Some(3),
            "order-service",
            "validate_order",
            Internal,
            2.5,
            0.2,
        ),
        span(5, Some(3), "order-service", "GET", Client, 3.0, 6.0),
        span(
            6,
            Some(5),
            "user-service",
            "GET /users/{id}",
            Server,
            3.5,
            5.0,
        ),
        span(7, Some(6), "user-service", "GET", Client, 3.6, 0.5),
        span(8, Some(6), "user-service", "SELECT users", Client, 4.2, 3.0),
        span(9, Some(6), "user-service", "SET", Client, 7.4, 0.4),
        span(10, Some(3), "order-service", "POST", Client, 9.5, 10.0),
        span(
            11,
            Some(10),
            "inventory-service",
            "POST /inventory/reservations",
            Server,
            10.0,
            9.0,
        ),
        span(
            12,
            Some(11),
            "inventory-service",
            "UPDATE products",
            Client,
            11.0,
            6.0,
        ),
        span(
            13,
            Some(3),
            "order-service",
            "calculate_total",
            Internal,
            20.0,
            0.1,
        ),
        span(
            14,
            Some(3),
            "order-service",
            "save_order",
            Internal,
            20.5,
            5.0,
        ),
        span(
            15,
            Some(14),
            "order-service",
            "INSERT orders",
            Client,
            21.0,
            4.0,
        ),
        span(
            16,
            Some(1),
            "api-gateway",
            "format_response",
            Internal,
            28.5,
            0.3,
        ),
        span(
            17,
            Some(14),
            "order-service",
            "INSERT order_events",
            Client,
            25.0,
            0.5,
        ),
        // After the response: the outbox relay and the stream consumer.
        span(
            18,
            Some(14),
            "order-service",
            "send orders",
            Producer,
            31.0,
            1.0,
        ),
        span(
            19,
            Some(18),
            "user-service",
            "process orders",
            Consumer,
            33.0,
            4.0,
        ),
        span(
            20,
            Some(19),
            "user-service",
            "UPDATE users",
            Client,
            33.5,
            2.0,
        ),
        span(21, Some(19), "user-service", "DEL", Client, 36.0, 0.5),
    ];
    spans[0].parent_span_id = Some(CHECK_PARENT.to_string());
    for span in spans.iter_mut() {
        let name = span.name.clone();
        match (span.kind, name.as_str()) {
            (Server, route) => {
                let (method, route) = route.split_once(' ').unwrap();
                let status = if method == "POST" { 201 } else { 200 };
                span.attributes = vec![
                    attr("http.request.method", s(method)),
                    attr("http.route", s(route)),
                    attr("http.response.status_code", Value::Int(status)),
                ];
            }
            (Client, "GET" | "SET" | "DEL") if span.service() == "user-service" => {
                span.attributes = db("redis", &name, None);
            }
            (Client, "GET" | "POST") => {
                span.attributes = vec![
                    attr("http.request.method", s(&name)),
                    attr("server.address", s("127.0.0.1")),
                    attr("url.full", s("http://127.0.0.1:8081/orders")),
                    attr("http.response.status_code", Value::Int(201)),
                ];
            }
            (Client, query) => {
                let (operation, table) = query.split_once(' ').unwrap();
                span.attributes = db("postgresql", operation, Some(table));
            }
            (Producer | Consumer, name) => {
                let operation = name.split_once(' ').unwrap().0;
                span.attributes = vec![
                    attr("messaging.system", s("redis")),
                    attr("messaging.destination.name", s("orders")),
                    attr("messaging.operation.name", s(operation)),
                    attr("messaging.operation.type", s(operation)),
                    attr("messaging.message.id", s("1700000000000-0")),
                    attr("order.id", Value::Int(1)),
                ];
                if span.kind == Consumer {
                    span.attributes
                        .push(attr("messaging.consumer.group.name", s("user-service")));
                }
            }
            _ => {}
        }
    }
    spans[5].attributes.push(attr("user.id", Value::Int(3)));
    spans[5]
        .attributes
        .push(attr("cache.hit", Value::Bool(false)));
    Trace {
        trace_id: trace_id(TRACE_ID),
        spans,
    }
}

fn db(system: &str, operation: &str, collection: Option<&str>) -> Vec<Attribute> {
    let mut attributes = vec![
        attr("db.system.name", s(system)),
        attr("db.operation.name", s(operation)),
        attr("server.address", s("127.0.0.1")),
    ];
    if let Some(table) = collection {
        attributes.push(attr("db.collection.name", s(table)));
        attributes.push(attr(
            "db.query.text",
            s(&format!("{operation} {table} ...")),
        ));
    }
    attributes
}

/// The healthy trace with `?delay=1500` at inventory-service.
pub fn delayed_order() -> Trace {
    let mut trace = healthy_order();
    for span in trace.spans.iter_mut() {
        // Everything on the path to inventory-service grows by 1.5 s.
        if ["1", "2", "3", "a", "b"].contains(&span.span_id.trim_start_matches('0')) {
            span.duration_us += 1_500_000;
        }
    }
    let inventory = find_mut(
        &mut trace,
        "inventory-service",
        "POST /inventory/reservations",
    );
    inventory.events.push(Event {
        time_us: inventory.start_us + 100,
        name: "fault.delay_injected".to_string(),
        attributes: vec![attr("fault.delay_ms", Value::Int(1500))],
    });
    trace
}

pub fn find_mut<'a>(trace: &'a mut Trace, service: &str, name: &str) -> &'a mut Span {
    trace
        .spans
        .iter_mut()
        .find(|s| s.service() == service && s.name == name)
        .unwrap_or_else(|| panic!("no span {service} {name}"))
}

/// Marks a span as failed, as error.rs would.
pub fn fail(span: &mut Span, message: &str) {
    span.status = Status::Error;
    span.status_message = Some(message.to_string());
    span.events.push(Event {
        time_us: span.start_us + 50,
        name: "exception".to_string(),
        attributes: vec![
            attr("exception.type", s("DownstreamError")),
            attr("exception.message", s(message)),
        ],
    });
}

/// Sends a trace to a sink's OTLP/HTTP port the way an exporter would
/// (OTLP/JSON), asserts it was accepted, and returns how long the answer took.
pub async fn send_otlp(http_addr: std::net::SocketAddr, trace: &Trace) -> std::time::Duration {
    let started = std::time::Instant::now();
    let status = reqwest::Client::new()
        .post(format!("http://{http_addr}/v1/traces"))
        .header("content-type", "application/json")
        .body(serde_json::to_string(&lab::model::otlp::to_otlp(trace)).unwrap())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    started.elapsed()
}
