//! When a dependency is down: the service says so clearly, records it on the
//! right span, and recovers by itself when the dependency returns.

use std::time::Duration;

use integration_tests::{
    database_server_url, drop_databases, event, free_port, unique_name, StackOptions, TestStack,
    GATEWAY, ORDER, USER,
};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

/// The tests below that run one service directly (not through `TestStack`)
/// use this process-wide subscriber, so their responses carry real trace ids.
fn init_tracing() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        telemetry::propagation::install_propagators();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let telemetry = telemetry::Telemetry::from_provider(provider, Default::default());
        let dispatch =
            telemetry::logging::dispatch("outage-test", "off", telemetry.tracer(), std::io::sink);
        let _ = tracing::dispatcher::set_global_default(dispatch);
    });
}

fn assert_real_trace_id(body: &Value) {
    let trace_id = body["trace_id"].as_str().unwrap_or_default();
    assert_eq!(trace_id.len(), 32, "{body}");
    assert_ne!(trace_id, "0".repeat(32), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_user_service_serves_from_postgres() {
    let port = free_port();
    let stack = TestStack::start_with(StackOptions {
        redis_url: Some(format!("redis://127.0.0.1:{port}")),
        ..StackOptions::default()
    })
    .await;
    // A dead Redis must not make requests wait: no retries, no reconnect
    // storm. The bound is far above a normal order; it catches a hang or a
    // retry loop (seconds per request), not a speed goal.
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let (status, body) = stack.order("Mouse").await;
        assert_eq!(status, 201, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
    let (status, body) = stack.order("Laptop").await;
    assert_eq!(status, 201, "{body}");
    let trace = stack
        .wait_for_request(body["trace_id"].as_str().unwrap(), Duration::from_secs(10))
        .await;
    let redis_get = trace.one(USER, "GET");
    assert!(
        redis_get.is_error(),
        "the cache failure is on the Redis span"
    );
    assert!(event(&redis_get.data, "exception").is_some());
    let server = trace.one(USER, "GET /users/{id}");
    assert!(!server.is_error(), "the request itself succeeded");
    trace.one(USER, "SELECT users");

    let (status, health, _) = stack.get(&format!("{}/health", stack.url(USER))).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded", "{health}");
    // order-service publishes order events to Redis: degraded too, while the
    // events wait in its outbox.
    let (status, health, _) = stack.get(&format!("{}/health", stack.url(ORDER))).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded", "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downstream_service_down_gives_json_errors_and_an_error_client_span() {
    let port = free_port();
    let stack = TestStack::start_with(StackOptions {
        user_service_url: Some(format!("http://127.0.0.1:{port}")),
        ..StackOptions::default()
    })
    .await;
    let (status, body) = stack.order("Laptop").await;
    // order-service answers 503 (user-service unreachable); the gateway
    // passes that on as 502 naming both.
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("user-service is unreachable"), "{error}");
    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), Duration::from_secs(10))
        .await;
    let order_server = trace.one(ORDER, "POST /orders");
    assert!(order_server.is_error());
    let client = trace
        .spans
        .iter()
        .find(|s| s.service == ORDER && s.name() == "GET")
        .expect("the CLIENT span to user-service");
    assert!(client.is_error());
    assert!(
        event(&client.data, "exception").is_some(),
        "{:?}",
        client.data.events
    );
    assert!(trace.one(GATEWAY, "POST /orders").is_error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_503_when_order_service_is_unreachable() {
    init_tracing();
    let port = free_port();
    let app = api_gateway::Application::build(api_gateway::Config {
        port: 0,
        order_service_url: format!("http://127.0.0.1:{port}").parse().unwrap(),
    })
    .await
    .unwrap();
    let url = format!("http://127.0.0.1:{}/orders", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let response = reqwest::Client::new()
        .post(&url)
        .json(&json!({"user_id": "1", "product": "Laptop", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "order-service is unreachable");
    assert_real_trace_id(&body);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// Postgres is "down" (nothing listens where the service looks), then comes
/// back (a proxy to the real server starts listening there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_at_start_up_then_back() {
    init_tracing();
    let proxy_port = free_port();
    let database = unique_name("ws_outage");
    let app = inventory_service::Application::build(inventory_service::Config {
        port: 0,
        database: service_kit::postgres::DatabaseConfig {
            url: format!("postgres://postgres@127.0.0.1:{proxy_port}/{database}"),
            max_connections: 2,
        },
    })
    .await
    .expect("starts without Postgres");
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();

    let health = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    let response = client
        .get(format!("{base}/inventory"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach its database"),
        "{body}"
    );

    // Postgres "returns": forward the port to the real server.
    let real = database_server_url();
    let real_addr = real
        .rsplit('@')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let proxy = tokio::spawn(forward(proxy_port, real_addr));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let health = client.get(format!("{base}/health")).send().await.unwrap();
        if health.status() == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "service did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let response = client
        .get(format!("{base}/inventory"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    proxy.abort();
    drop_databases(vec![database]);
}

/// A TCP forwarder from `127.0.0.1:port` to `target` (host:port).
async fn forward(port: u16, target: String) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        let target = target.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
