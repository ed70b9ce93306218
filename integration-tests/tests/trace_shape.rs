//! The trace of `POST /orders`: one trace, four services, the shape drawn in
//! docs/trace-shape.md, typed attributes, events, and errors where they belong.

use std::time::Duration;

use integration_tests::{has_event, TestStack, GATEWAY, INVENTORY, ORDER, USER};
use opentelemetry::trace::SpanKind;
use opentelemetry::Value;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

fn is_hex_id(value: &serde_json::Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == 32
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_orders_makes_one_trace_across_all_four_services() {
    let stack = TestStack::start().await;
    let (status, body) = stack.order("Laptop").await;
    assert_eq!(status, 201, "{body}");
    for key in [
        "order_id",
        "user_id",
        "sku",
        "product",
        "quantity",
        "total_cents",
        "status",
        "trace_id",
    ] {
        assert!(body.get(key).is_some(), "response lacks {key}: {body}");
    }
    assert!(body["order_id"].is_i64());
    assert_eq!(body["status"], "confirmed");
    assert_eq!(body["sku"], "LAPTOP-001");
    assert!(is_hex_id(&body["trace_id"]), "{body}");

    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
        .await;

    // One root, no orphans, every service present.
    let roots = trace.roots();
    assert_eq!(roots.len(), 1, "one root expected: {}", trace.describe());
    assert_eq!(roots[0].service, GATEWAY);
    assert_eq!(roots[0].name(), "POST /orders");
    assert_eq!(roots[0].kind(), &SpanKind::Server);
    assert!(
        !has_event(&roots[0].data, "request finished"),
        "the per-request log line stays out of the trace"
    );
    assert_eq!(trace.services(), vec![GATEWAY, INVENTORY, ORDER, USER]);

    // SERVER spans downstream are children of their caller's CLIENT span.
    let edges = [
        (ORDER, "POST /orders", GATEWAY),
        (USER, "GET /users/{id}", ORDER),
        (INVENTORY, "POST /inventory/reservations", ORDER),
    ];
    for (service, name, caller) in edges {
        let server = trace.one(service, name);
        assert_eq!(server.kind(), &SpanKind::Server);
        assert!(server.data.parent_span_is_remote, "{name} parent is remote");
        let parent = trace
            .parent_of(server)
            .unwrap_or_else(|| panic!("{name} has no parent: {}", trace.describe()));
        assert_eq!(parent.service, caller, "{name} parent service");
        assert_eq!(parent.kind(), &SpanKind::Client, "{name} parent kind");
        assert!(matches!(parent.attr("url.full"), Some(Value::String(_))));
        assert!(matches!(
            parent.attr("server.address"),
            Some(Value::String(_))
        ));
        assert!(matches!(
            parent.attr("http.response.status_code"),
            Some(Value::I64(200 | 201))
        ));
        // Integers are integers, not strings.
        assert!(matches!(
            server.attr("http.response.status_code"),
            Some(Value::I64(_))
        ));
        assert!(matches!(server.attr("http.route"), Some(Value::String(_))));
        assert!(matches!(
            server.attr("http.request.method"),
            Some(Value::String(_))
        ));
        assert_eq!(server.attr("url.scheme"), Some(&Value::from("http")));
    }

    // Internal spans with business attributes.
    let validate = trace.one(ORDER, "validate_order");
    assert_eq!(validate.kind(), &SpanKind::Internal);
    assert_eq!(trace.parent_of(validate).unwrap().name(), "POST /orders");
    assert!(matches!(validate.attr("user.id"), Some(Value::I64(1))));
    assert!(matches!(
        validate.attr("order.quantity"),
        Some(Value::I64(1))
    ));
    assert_eq!(validate.attr("product.name"), Some(&Value::from("Laptop")));
    let calculate = trace.one(ORDER, "calculate_total");
    assert!(matches!(
        calculate.attr("order.total_cents"),
        Some(Value::I64(129900))
    ));
    let save = trace.one(ORDER, "save_order");
    assert!(matches!(save.attr("order.id"), Some(Value::I64(_))));
    trace.one(GATEWAY, "format_response");
    let order_server = trace.one(ORDER, "POST /orders");
    assert!(matches!(order_server.attr("order.id"), Some(Value::I64(_))));
    assert!(matches!(order_server.attr("user.id"), Some(Value::I64(1))));
    assert!(has_event(&order_server.data, "order.confirmed"));

    // Database and cache CLIENT spans with the semantic conventions.
    let db_spans = [
        (USER, "GET", "redis", "GET /users/{id}"),
        (USER, "SELECT users", "postgresql", "GET /users/{id}"),
        (USER, "SET", "redis", "GET /users/{id}"),
        (
            INVENTORY,
            "UPDATE products",
            "postgresql",
            "POST /inventory/reservations",
        ),
        (ORDER, "INSERT orders", "postgresql", "save_order"),
        // The outbox row, in the order's transaction.
        (ORDER, "INSERT order_events", "postgresql", "save_order"),
        // After the response: the order stream's consumer.
        (USER, "UPDATE users", "postgresql", "process orders"),
        (USER, "DEL", "redis", "process orders"),
    ];
    for (service, name, system, parent_name) in db_spans {
        let span = trace.one(service, name);
        assert_eq!(span.kind(), &SpanKind::Client, "{name}");
        assert_eq!(
            span.attr("db.system.name"),
            Some(&Value::from(system)),
            "{name}"
        );
        for key in [
            "db.operation.name",
            "db.query.text",
            "db.namespace",
            "server.address",
        ] {
            assert!(
                matches!(span.attr(key), Some(Value::String(_))),
                "{name} lacks {key}"
            );
        }
        if system == "redis" {
            // A Redis key is not a collection; the namespace is the
            // database index; the span is named by the command alone.
            assert_eq!(span.attr("db.collection.name"), None, "{name}");
            assert_eq!(span.attr("db.query.summary"), None, "{name}");
            assert!(
                matches!(span.attr("db.namespace"), Some(Value::String(n)) if n.as_str().parse::<u32>().is_ok()),
                "{name} db.namespace is a database index"
            );
        } else {
            // A SQL span is named by its summary: `SELECT users`.
            assert!(
                matches!(span.attr("db.collection.name"), Some(Value::String(_))),
                "{name} lacks db.collection.name"
            );
            assert_eq!(span.attr("db.query.summary"), Some(&Value::from(name)));
        }
        assert!(
            matches!(span.attr("server.port"), Some(Value::I64(_))),
            "{name} server.port"
        );
        assert_eq!(
            trace.parent_of(span).unwrap().name(),
            parent_name,
            "{name} parent"
        );
    }
    // Across the queue: save_order → PRODUCER (the relay) → CONSUMER.
    let save = trace.one(ORDER, "save_order");
    let producer = trace.one(ORDER, "send orders");
    assert_eq!(producer.kind(), &SpanKind::Producer);
    assert_eq!(producer.parent_id(), save.span_id());
    let consumer = trace.one(USER, "process orders");
    assert_eq!(consumer.kind(), &SpanKind::Consumer);
    assert_eq!(consumer.parent_id(), producer.span_id());
    assert!(consumer.data.parent_span_is_remote);

    let user_server = trace.one(USER, "GET /users/{id}");
    assert!(has_event(&user_server.data, "cache.miss"));
    assert_eq!(user_server.attr("cache.hit"), Some(&Value::Bool(false)));
    assert!(matches!(
        user_server.attr("user.email"),
        Some(Value::String(_))
    ));

    // No secrets: no connection URL with credentials anywhere.
    for span in &trace.spans {
        for kv in &span.data.attributes {
            let text = kv.value.as_str();
            assert!(
                !text.contains("postgres://"),
                "{} has a connection URL",
                span.name()
            );
            assert!(
                !text.contains("redis://"),
                "{} has a connection URL",
                span.name()
            );
        }
    }

    // Nothing is an error on the happy path.
    assert!(
        trace.spans.iter().all(|s| !s.is_error()),
        "{}",
        trace.describe()
    );

    // A second order by the same user is served from the cache. (The
    // first order's consumer deleted the entry; a read fills it again.)
    let (status, _, _) = stack.get(&format!("{}/users/1", stack.url(USER))).await;
    assert_eq!(status, 200);
    let (status, body) = stack.order("Mouse").await;
    assert_eq!(status, 201);
    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
        .await;
    let user_server = trace.one(USER, "GET /users/{id}");
    assert!(
        has_event(&user_server.data, "cache.hit"),
        "{:?}",
        user_server.data.events
    );
    assert!(
        trace.find(USER, "SELECT users").is_empty(),
        "cache hit skips Postgres"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_traceparent_is_continued() {
    let stack = TestStack::start().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_span = "00f067aa0ba902b7";
    let response = stack
        .client
        .post(format!("{}/orders", stack.url(GATEWAY)))
        .header("traceparent", format!("00-{trace_id}-{parent_span}-01"))
        .json(&json!({"user_id": 2, "product": "keyboard", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let traceresponse = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        traceresponse.starts_with(&format!("00-{trace_id}-")),
        "{traceresponse}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["trace_id"], trace_id);

    let trace = stack.wait_for_trace(trace_id, WAIT).await;
    let gateway = trace.one(GATEWAY, "POST /orders");
    assert_eq!(gateway.parent_id().to_string(), parent_span);
    assert!(gateway.data.parent_span_is_remote);
    assert_eq!(trace.roots().len(), 1, "{}", trace.describe());
    assert_eq!(trace.services().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_traceparent_starts_a_new_trace() {
    let stack = TestStack::start().await;
    for garbage in [
        "nonsense",
        "00-zzzz-0000-01",
        "00-00000000000000000000000000000000-0000000000000000-01",
    ] {
        let response = stack
            .client
            .post(format!("{}/orders", stack.url(GATEWAY)))
            .header("traceparent", garbage)
            .json(&json!({"user_id": "3", "product": "Mouse", "quantity": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{garbage}");
        let body: serde_json::Value = response.json().await.unwrap();
        let trace_id = body["trace_id"].as_str().unwrap().to_string();
        assert_ne!(trace_id, "0".repeat(32));
        let trace = stack.wait_for_trace(&trace_id, WAIT).await;
        let roots = trace.roots();
        assert_eq!(roots.len(), 1);
        assert_eq!(
            roots[0].parent_id(),
            opentelemetry::trace::SpanId::INVALID,
            "{garbage}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_failure_marks_the_failing_span_and_propagates() {
    let stack = TestStack::start().await;
    let body = json!({"user_id": "1", "product": "Laptop", "quantity": 1});
    let (status, body, headers) = stack
        .post_json("/orders?fail=inventory-service", &body)
        .await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("inventory-service"),
        "{body}"
    );
    assert!(headers.contains_key("traceresponse"));
    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
        .await;

    let inventory = trace.one(INVENTORY, "POST /inventory/reservations");
    assert!(inventory.is_error());
    assert!(matches!(
        inventory.attr("http.response.status_code"),
        Some(Value::I64(500))
    ));
    assert!(has_event(&inventory.data, "fault.failure_injected"));
    let exception =
        integration_tests::event(&inventory.data, "exception").expect("exception event");
    let exception_type = exception
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "exception.type")
        .map(|kv| kv.value.as_str().to_string());
    assert_eq!(exception_type.as_deref(), Some("InjectedFailure"));

    // The CLIENT span in order-service that got the 500 is an error, so are
    // both SERVER spans upstream (they answered 5xx).
    let client = trace.parent_of(inventory).unwrap();
    assert!(client.is_error());
    assert!(trace.one(ORDER, "POST /orders").is_error());
    assert!(trace.one(GATEWAY, "POST /orders").is_error());
    // ... while user-service, which succeeded, is not.
    assert!(!trace.one(USER, "GET /users/{id}").is_error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_not_an_error_on_the_server_but_is_on_the_client() {
    let stack = TestStack::start().await;
    let body = json!({"user_id": "999", "product": "Laptop", "quantity": 1});
    let (status, body, _) = stack.post_json("/orders", &body).await;
    assert_eq!(status, 404, "{body}");
    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
        .await;
    let user_server = trace.one(USER, "GET /users/{id}");
    assert!(
        !user_server.is_error(),
        "404 on a SERVER span is not an error"
    );
    assert!(matches!(
        user_server.attr("http.response.status_code"),
        Some(Value::I64(404))
    ));
    let client = trace.parent_of(user_server).unwrap();
    assert!(client.is_error(), "404 on a CLIENT span is an error");
    assert!(!trace.one(GATEWAY, "POST /orders").is_error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_log_line_carries_its_trace_and_span_id() {
    let stack = TestStack::start().await;
    let (status, body) = stack.order("Monitor").await;
    assert_eq!(status, 201);
    let trace_id = body["trace_id"].as_str().unwrap();
    stack.wait_for_trace(trace_id, WAIT).await;
    let lines = stack.log_lines();
    let finished: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "request finished" && l["trace_id"] == trace_id)
        .collect();
    let services: std::collections::BTreeSet<_> = finished
        .iter()
        .map(|l| l["service"].as_str().unwrap())
        .collect();
    assert_eq!(
        services.len(),
        4,
        "an INFO line with the trace id from each service: {finished:?}"
    );
    for line in finished {
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["span_id"].as_str().map(str::len), Some(16), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_carry_trace_ids_even_when_rust_log_hides_the_spans() {
    // With `warn`, the INFO request spans are filtered out of the logs; the
    // WARN and ERROR lines written inside them must still name the request.
    let stack = integration_tests::TestStack::start_with(integration_tests::StackOptions {
        log_filter: "warn".to_string(),
        ..Default::default()
    })
    .await;
    let body = json!({"user_id": "1", "product": "Laptop", "quantity": 1});
    let (status, body, _) = stack
        .post_json("/orders?fail=inventory-service", &body)
        .await;
    assert_eq!(status, 502);
    let trace_id = body["trace_id"].as_str().unwrap();
    stack.wait_for_trace(trace_id, WAIT).await;
    let lines = stack.log_lines();
    let warned = lines
        .iter()
        .find(|l| l["message"] == "fault.failure_injected")
        .expect("the WARN line of the injected failure");
    assert_eq!(warned["trace_id"], trace_id, "{warned}");
    assert_eq!(warned["span_id"].as_str().map(str::len), Some(16));
    let failed: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "request failed")
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed.iter().all(|l| l["trace_id"] == trace_id),
        "{failed:?}"
    );
    assert!(
        lines.iter().all(|l| l["level"] != "INFO"),
        "the filter still applies"
    );
}
