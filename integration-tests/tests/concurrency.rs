//! Many orders racing for a scarce product: exactly the stock is sold,
//! nothing is half done.

use std::time::Duration;

use integration_tests::{TestStack, INVENTORY, ORDER};
use serde_json::json;

/// Seeded stock of the scarce product (inventory-service migrations).
const CAMERA_STOCK: i64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_orders_never_oversell() {
    let stack = TestStack::start().await;
    let requests = 24;
    let body = json!({"user_id": "5", "product": "Camera", "quantity": 1});
    let results =
        futures::future::join_all((0..requests).map(|_| stack.post_json("/orders", &body))).await;
    let created = results
        .iter()
        .filter(|(status, _, _)| *status == 201)
        .count() as i64;
    let conflicts = results
        .iter()
        .filter(|(status, _, _)| *status == 409)
        .count() as i64;
    assert_eq!(created, CAMERA_STOCK.min(requests), "{results:?}");
    assert_eq!(
        created + conflicts,
        requests,
        "only 201 or 409: {results:?}"
    );
    for (status, body, _) in &results {
        if *status == 409 {
            assert!(
                body["error"].as_str().unwrap().contains("not enough stock"),
                "{body}"
            );
        }
    }

    let inventory = stack.database("inventory").await;
    let stock: i32 = sqlx::query_scalar("SELECT stock FROM products WHERE sku = 'CAMERA-001'")
        .fetch_one(&inventory)
        .await
        .unwrap();
    assert_eq!(i64::from(stock), CAMERA_STOCK - created);
    let reservations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reservations WHERE sku = 'CAMERA-001'")
            .fetch_one(&inventory)
            .await
            .unwrap();
    assert_eq!(reservations, created);
    let orders = stack.database("orders").await;
    let saved: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE sku = 'CAMERA-001'")
        .fetch_one(&orders)
        .await
        .unwrap();
    assert_eq!(saved, created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_save_releases_its_reservation() {
    let stack = TestStack::start().await;
    let body = json!({"user_id": "6", "product": "Camera", "quantity": 2});
    let (status, response, _) = stack.post_json("/orders?fail=order-service", &body).await;
    assert_eq!(status, 502, "{response}");

    let inventory = stack.database("inventory").await;
    let stock: i32 = sqlx::query_scalar("SELECT stock FROM products WHERE sku = 'CAMERA-001'")
        .fetch_one(&inventory)
        .await
        .unwrap();
    assert_eq!(i64::from(stock), CAMERA_STOCK, "stock given back");
    let reservations: i64 = sqlx::query_scalar("SELECT count(*) FROM reservations")
        .fetch_one(&inventory)
        .await
        .unwrap();
    assert_eq!(reservations, 0);
    let orders = stack.database("orders").await;
    let saved: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&orders)
        .await
        .unwrap();
    assert_eq!(saved, 0);

    // The trace tells the story: save_order failed, then a DELETE released it.
    let trace = stack
        .wait_for_trace(
            response["trace_id"].as_str().unwrap(),
            Duration::from_secs(10),
        )
        .await;
    let save = trace.one(ORDER, "save_order");
    assert!(save.is_error());
    let release = trace.one(INVENTORY, "DELETE /inventory/reservations/{id}");
    assert_eq!(
        trace
            .parent_of(trace.parent_of(release).unwrap())
            .unwrap()
            .name(),
        "save_order"
    );
}
