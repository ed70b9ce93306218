//! `lab load` against a tiny in-process fake gateway (axum on port 0).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use lab::load::{parse_duration, percentile, run, LoadConfig, Mix, Stop};

#[derive(Default)]
struct Fake {
    next_order: AtomicI64,
}

type Params = Query<std::collections::HashMap<String, String>>;

async fn create(
    State(fake): State<Arc<Fake>>,
    Query(q): Params,
    Json(body): Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(ms) = q.get("delay").and_then(|d| d.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let id = fake.next_order.fetch_add(1, Ordering::Relaxed) + 1;
    let trace_id = format!("{id:032x}");
    if q.contains_key("fail") {
        return (
            StatusCode::BAD_GATEWAY,
            Json(json!({"error": "injected", "trace_id": trace_id})),
        )
            .into_response();
    }
    assert!(body["user_id"].as_str().unwrap().parse::<u8>().unwrap() <= 10);
    // Odd orders are "sampled", as the gateway's `traceresponse` says.
    let flags = if id % 2 == 1 { "01" } else { "00" };
    (
        StatusCode::CREATED,
        [(
            "traceresponse",
            format!("00-{trace_id}-00f067aa0ba902b7-{flags}"),
        )],
        Json(json!({"order_id": id, "trace_id": trace_id, "status": "confirmed"})),
    )
        .into_response()
}

async fn read(State(fake): State<Arc<Fake>>, Path(id): Path<i64>) -> (StatusCode, Json<Value>) {
    let known = id <= fake.next_order.load(Ordering::Relaxed);
    let status = if known {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    (
        status,
        Json(json!({"order_id": id, "trace_id": format!("{:032x}", 1000 + id)})),
    )
}

async fn fake_gateway() -> String {
    let app = Router::new()
        .route("/orders", post(create))
        .route("/orders/{id}", get(read))
        .with_state(Arc::new(Fake::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn config(gateway: String, requests: u64) -> LoadConfig {
    LoadConfig {
        gateway,
        rps: 200.0,
        stop: Stop::Requests(requests),
        mix: "orders=1,get=1".parse().unwrap(),
        delay_ms: None,
        fail: None,
        max_in_flight: 16,
    }
}

#[tokio::test]
async fn mixed_traffic_is_counted_and_summarised() {
    let gateway = fake_gateway().await;
    let done = Arc::new(AtomicI64::new(0));
    let counter = done.clone();
    let summary = run(&config(gateway, 40), move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    })
    .await
    .unwrap();
    assert_eq!(summary.count, 40);
    assert_eq!(done.load(Ordering::Relaxed), 40, "one callback per request");
    let created = summary.statuses.get("201").copied().unwrap_or(0);
    let read = summary.statuses.get("200").copied().unwrap_or(0);
    assert_eq!(created + read, 40, "{:?}", summary.statuses);
    assert!(
        created > 0 && read > 0,
        "both kinds sent: {:?}",
        summary.statuses
    );
    assert_eq!(summary.slowest.len(), 3);
    assert!(summary
        .slowest
        .iter()
        .all(|s| s.trace_id.as_ref().is_some_and(|t| t.len() == 32)));
    assert!(summary.p50 <= summary.p90 && summary.p90 <= summary.p99 && summary.p99 <= summary.max);
    let text = summary.render();
    assert!(text.starts_with("40 requests in "), "{text}");
    // Only the creates carry `traceresponse`; orders 1, 3, 5, ... were kept.
    assert_eq!(summary.kept, (created.div_ceil(2), created), "{text}");
    assert!(
        text.contains(&format!(
            "sampled: {} of {created} traces kept",
            created.div_ceil(2)
        )),
        "{text}"
    );
    assert!(text.contains("cargo lab trace "), "{text}");
}

#[tokio::test]
async fn faults_are_passed_on_and_show_in_the_summary() {
    let gateway = fake_gateway().await;
    let mut slow = config(gateway.clone(), 5);
    slow.mix = Mix { orders: 1, get: 0 };
    slow.delay_ms = Some(200);
    let summary = run(&slow, |_| {}).await.unwrap();
    assert!(
        summary.p50 >= Duration::from_millis(200),
        "{:?}",
        summary.p50
    );

    let mut failing = config(gateway, 5);
    failing.fail = Some("inventory-service".to_string());
    failing.mix = Mix { orders: 1, get: 0 };
    let summary = run(&failing, |_| {}).await.unwrap();
    assert_eq!(summary.statuses.get("502"), Some(&5));
}

#[tokio::test]
async fn a_dead_gateway_counts_as_no_response() {
    // Bind and drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let summary = run(&config(format!("http://127.0.0.1:{port}"), 3), |_| {})
        .await
        .unwrap();
    assert_eq!(summary.statuses.get("no response"), Some(&3));
}

#[test]
fn mix_durations_and_percentiles_parse_and_compute() {
    assert_eq!(
        "orders=8,get=2".parse::<Mix>(),
        Ok(Mix { orders: 8, get: 2 })
    );
    assert!("orders=0".parse::<Mix>().is_err());
    assert!("put=1"
        .parse::<Mix>()
        .unwrap_err()
        .contains("unknown request kind"));
    assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
    assert!(parse_duration("soon").is_err());

    let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
    assert_eq!(percentile(&ms, 50.0), Duration::from_millis(50));
    assert_eq!(percentile(&ms, 99.0), Duration::from_millis(99));
    assert_eq!(percentile(&ms[..1], 90.0), Duration::from_millis(1));
    assert_eq!(percentile(&[], 50.0), Duration::ZERO);
}
