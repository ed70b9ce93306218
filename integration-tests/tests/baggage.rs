//! `BAGGAGE_SPAN_KEYS` (lesson 06): the baggage entries it names are copied
//! from the incoming baggage onto every service's SERVER span; other
//! entries travel on but become no attribute.

use std::time::Duration;

use integration_tests::{TestStack, GATEWAY, INVENTORY, ORDER, USER};
use opentelemetry::trace::SpanKind;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlisted_baggage_lands_on_every_server_span_and_nothing_else_does() {
    let stack = TestStack::start().await;
    let response = stack
        .client
        .post(format!("{}/orders", stack.url(GATEWAY)))
        .header("baggage", "request.source=mobile,tenant.id=acme")
        .json(&json!({"user_id": "5", "product": "Mouse", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
        .await;

    for service in [GATEWAY, ORDER, USER, INVENTORY] {
        let servers: Vec<_> = trace
            .spans
            .iter()
            .filter(|s| s.service == service && *s.kind() == SpanKind::Server)
            .collect();
        assert!(!servers.is_empty(), "{service}: {}", trace.describe());
        for span in servers {
            assert_eq!(
                span.attr("request.source").map(|v| v.as_str().to_string()),
                Some("mobile".to_string()),
                "{service} {}: {}",
                span.name(),
                trace.describe()
            );
            assert!(
                span.attr("tenant.id").is_none(),
                "{service} {}: a key not in BAGGAGE_SPAN_KEYS is not copied",
                span.name()
            );
        }
    }
    // Only SERVER spans carry it: a CLIENT span is not the service's entry.
    let client = trace
        .spans
        .iter()
        .find(|s| s.service == ORDER && *s.kind() == SpanKind::Client)
        .expect("order-service calls other services");
    assert!(client.attr("request.source").is_none());
}
