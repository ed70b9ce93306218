//! `GET /orders?user_id=`: a user's orders through the gateway, with the
//! products' current names from ONE batch call to inventory-service.

use std::time::Duration;

use integration_tests::{TestStack, GATEWAY, INVENTORY, ORDER};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

async fn order(stack: &TestStack, user_id: &str, product: &str) -> i64 {
    let body = json!({"user_id": user_id, "product": product, "quantity": 1});
    let (status, body, _) = stack.post_json("/orders", &body).await;
    assert_eq!(status, 201, "{body}");
    body["order_id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_lists_a_users_orders_newest_first_with_one_inventory_call() {
    let stack = TestStack::start().await;
    let first = order(&stack, "3", "Laptop").await;
    let second = order(&stack, "3", "Mouse").await;
    let third = order(&stack, "3", "laptop").await;
    order(&stack, "4", "Keyboard").await;

    let url = format!("{}/orders?user_id=3", stack.url(GATEWAY));
    let (status, body, headers) = stack.get(&url).await;
    assert_eq!(status, 200, "{body}");
    assert!(headers.contains_key("traceresponse"));
    let orders = body["orders"].as_array().unwrap();
    let ids: Vec<i64> = orders
        .iter()
        .map(|o| o["order_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [third, second, first], "newest first, only user 3's");
    for order in orders {
        let keys: Vec<&str> = order
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 7, "the order keys without trace_id: {keys:?}");
        assert_eq!(order["user_id"], "3");
        assert_eq!(order["status"], "confirmed");
    }
    assert_eq!(orders[0]["product"], "Laptop");
    assert_eq!(orders[1]["product"], "Mouse");

    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
        .await;
    trace.one(GATEWAY, "GET /orders");
    trace.one(ORDER, "GET /orders");
    // ONE batch call, however many orders: no N+1.
    let inventory = trace.one(INVENTORY, "GET /inventory");
    let client = trace.parent_of(inventory).expect("the CLIENT span");
    assert_eq!(client.service, ORDER);
    let url = client.attr("url.full").unwrap().as_str();
    assert!(url.contains("/inventory?skus="), "{url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_orders_unknown_users_and_bad_ids() {
    let stack = TestStack::start().await;
    let gateway = stack.url(GATEWAY);

    let (status, body, _) = stack.get(&format!("{gateway}/orders?user_id=9")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["orders"], json!([]));
    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
        .await;
    assert!(
        trace.spans.iter().all(|s| s.service != INVENTORY),
        "no inventory call without orders: {}",
        trace.describe()
    );

    for (query, expected) in [
        ("user_id=12345", 404),
        ("user_id=abc", 400),
        ("user_id=-1", 400),
        ("", 400),
        ("user_id=1&delay=99999", 400),
        // order-service fails (500); the gateway says so with a 502.
        ("user_id=1&fail=order-service", 502),
    ] {
        let (status, body, _) = stack.get(&format!("{gateway}/orders?{query}")).await;
        assert_eq!(status, expected, "{query}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
        assert_eq!(body["trace_id"].as_str().map(str::len), Some(32), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_batch_lookup_keeps_the_order_first_named() {
    let stack = TestStack::start().await;
    let inventory = stack.url(INVENTORY);
    let (status, body, _) = stack
        .get(&format!(
            "{inventory}/inventory?skus=MOUSE-001,nope,laptop-001,MOUSE-001"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let skus: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["MOUSE-001", "LAPTOP-001"]);

    let too_many = (0..101)
        .map(|i| format!("SKU-{i}"))
        .collect::<Vec<_>>()
        .join(",");
    for query in ["skus=", "skus=,,", &format!("skus={too_many}")] {
        let (status, body, _) = stack.get(&format!("{inventory}/inventory?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["trace_id"].as_str().map(str::len), Some(32));
    }
    let (status, body, _) = stack.get(&format!("{inventory}/inventory")).await;
    assert_eq!(status, 200);
    assert!(body.as_array().unwrap().len() >= 5);
}
