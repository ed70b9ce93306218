//! Fault injection: `?delay=` / `?fail=` at the gateway, carried as baggage,
//! honoured by the named service inside its own SERVER span.

use std::time::Duration;

use integration_tests::{event, TestStack, GATEWAY, INVENTORY, ORDER, USER};
use opentelemetry::Value;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

fn order_body() -> serde_json::Value {
    json!({"user_id": "4", "product": "Headset", "quantity": 1})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_lands_in_the_named_service_with_an_event_explaining_it() {
    let stack = TestStack::start().await;

    // Default target for POST /orders: inventory-service.
    let (status, body, _) = stack.post_json("/orders?delay=1500", &order_body()).await;
    assert_eq!(status, 201, "{body}");
    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
        .await;
    let inventory = trace.one(INVENTORY, "POST /inventory/reservations");
    assert!(
        inventory.duration_ms() >= 1500,
        "{} ms",
        inventory.duration_ms()
    );
    let delay = event(&inventory.data, "fault.delay_injected").expect("delay event");
    let delay_ms = delay
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "fault.delay_ms");
    assert_eq!(delay_ms.map(|kv| &kv.value), Some(&Value::I64(1500)));
    let user = trace.one(USER, "GET /users/{id}");
    assert!(
        user.duration_ms() < 1000,
        "user-service unaffected: {} ms",
        user.duration_ms()
    );
    assert!(event(&user.data, "fault.delay_injected").is_none());

    // `delay_at` moves it.
    let path = "/orders?delay=1200&delay_at=user-service";
    let (status, body, _) = stack.post_json(path, &order_body()).await;
    assert_eq!(status, 201, "{body}");
    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
        .await;
    let user = trace.one(USER, "GET /users/{id}");
    assert!(user.duration_ms() >= 1200, "{} ms", user.duration_ms());
    assert!(event(&user.data, "fault.delay_injected").is_some());
    let inventory = trace.one(INVENTORY, "POST /inventory/reservations");
    assert!(
        inventory.duration_ms() < 1000,
        "{} ms",
        inventory.duration_ms()
    );

    // GET /orders/{id} defaults to order-service.
    let order_id = body["order_id"].as_i64().unwrap();
    let url = format!("{}/orders/{order_id}?delay=300", stack.url(GATEWAY));
    let (status, body, _) = stack.get(&url).await;
    assert_eq!(status, 200, "{body}");
    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
        .await;
    let order = trace.one(ORDER, "GET /orders/{id}");
    assert!(order.duration_ms() >= 300);
    assert!(event(&order.data, "fault.delay_injected").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_at_each_service_gives_a_json_error_and_an_error_span_there() {
    let stack = TestStack::start().await;
    let cases = [
        (GATEWAY, 500, "POST /orders"),
        (ORDER, 502, "POST /orders"),
        (USER, 502, "GET /users/{id}"),
        (INVENTORY, 502, "POST /inventory/reservations"),
    ];
    for (service, expected_status, span_name) in cases {
        let (status, body, _) = stack
            .post_json(&format!("/orders?fail={service}"), &order_body())
            .await;
        assert_eq!(status, expected_status, "fail={service}: {body}");
        assert!(body["error"].as_str().unwrap().contains(service), "{body}");
        assert_eq!(body["trace_id"].as_str().map(str::len), Some(32));
        let trace = stack
            .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
            .await;
        let failing = trace.one(service, span_name);
        assert!(failing.is_error(), "fail={service}: {}", trace.describe());
        assert!(
            event(&failing.data, "exception").is_some(),
            "fail={service}"
        );
        assert!(
            trace.one(GATEWAY, "POST /orders").is_error(),
            "gateway is ERROR too"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fault_parameters_are_rejected_with_a_sentence() {
    let stack = TestStack::start().await;
    for query in [
        "delay=abc",
        "delay=-5",
        "delay=10001",
        "delay=99999999999999999999",
        "delay=10&delay_at=database",
        "fail=everything",
        "fail=",
    ] {
        let (status, body, headers) = stack
            .post_json(&format!("/orders?{query}"), &order_body())
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.len() > 20),
            "{query}: {body}"
        );
        assert_eq!(body["trace_id"].as_str().map(str::len), Some(32), "{query}");
        assert!(headers.contains_key("traceresponse"));
    }
    // The cap itself is accepted (aimed at a service that `GET /orders/{id}`
    // does not reach, so nobody actually waits 10 s).
    let (status, body, _) = stack.post_json("/orders?delay=0", &order_body()).await;
    assert_eq!(status, 201);
    let url = format!(
        "{}/orders/{}?delay=10000&delay_at=user-service",
        stack.url(GATEWAY),
        body["order_id"]
    );
    let (status, body, _) = stack.get(&url).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_baggage_from_outside_is_dropped_at_the_gateway_only() {
    let stack = TestStack::start().await;
    // Through the gateway: the forged entry is discarded, the order
    // succeeds; percent-encoding the key does not sneak it past.
    for forged in [
        "fault.fail_at=inventory-service,tenant=acme",
        "tenant=acme, fault%2Efail_at=inventory-service",
        "%66ault.fail_at=order-service",
    ] {
        let response = stack
            .client
            .post(format!("{}/orders", stack.url(GATEWAY)))
            .header("baggage", forged)
            .json(&order_body())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{forged}");
    }

    // Straight to a downstream service, baggage is honoured (they trust
    // their callers; the gateway is the boundary).
    let response = stack
        .client
        .post(format!("{}/inventory/reservations", stack.url(INVENTORY)))
        .header("baggage", "fault.fail_at=inventory-service")
        .json(&json!({"product": "Mouse", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("injected"),
        "{body}"
    );
}
