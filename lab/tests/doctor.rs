//! `cargo lab doctor` against a recorded native stack on ephemeral ports
//! (never the defaults): fake services answer `/health`, a real sink
//! receives the test span, and each problem comes with its fix.

use std::path::Path;
use std::time::{Duration, SystemTime};

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tempfile::TempDir;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fake service answering `/health` 200 ok; returns its port.
async fn fake_service() -> u16 {
    let app = Router::new().route("/health", get(|| async { Json(json!({"status": "ok"})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn pg() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn redis() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A workshop root whose `.lab/run/stack.env` points at these ports,
/// removed when it drops.
fn root_with_stack(name: &str, ports: [(&str, u16); 4], jaeger: &str, otlp: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("lab-doctor-{name}-"))
        .tempdir()
        .unwrap();
    let root = dir.path();
    let run = root.join(".lab/run");
    std::fs::create_dir_all(&run).unwrap();
    let mut text = format!(
        "MODE=native\nPROFILE=dev\nPORT_BASE=\nJAEGER_URL={jaeger}\nOTLP_HTTP_ENDPOINT={otlp}\nBACKEND=sink\nPG_URL={}\nREDIS_URL={}\n",
        pg(),
        redis()
    );
    for (service, port) in ports {
        text.push_str(&format!(
            "PORT_{}={port}\n",
            service.to_uppercase().replace('-', "_")
        ));
        // This test process stands in for the services dev-up started.
        std::fs::write(
            run.join(format!("{service}.pid")),
            std::process::id().to_string(),
        )
        .unwrap();
    }
    std::fs::write(run.join("stack.env"), text).unwrap();
    dir
}

fn touch(path: &Path, when: SystemTime) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, "x").unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

fn problems(d: &lab::doctor::Diagnosis) -> Vec<String> {
    d.problems()
        .map(|f| format!("{} | fix: {}", f.what, f.fix.clone().unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn gateway_missing_a_service_down_and_a_stale_binary_are_each_named_with_a_fix() {
    let sink = lab::sink::start(lab::sink::SinkConfig::ephemeral())
        .await
        .unwrap();
    let gateway = free_port(); // nothing listens
    let inventory = free_port(); // down
    let order = fake_service().await;
    let user = fake_service().await;
    let dir = root_with_stack(
        "down",
        [
            ("api-gateway", gateway),
            ("order-service", order),
            ("user-service", user),
            ("inventory-service", inventory),
        ],
        &format!("http://{}", sink.query_addr),
        &format!("http://{}", sink.http_addr),
    );
    let root = dir.path();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    touch(&root.join(".lab/bin/order-service"), hour_ago);
    touch(&root.join("order-service/src/routes.rs"), SystemTime::now());
    touch(&root.join(".lab/bin/user-service"), SystemTime::now());
    touch(&root.join("user-service/src/routes.rs"), hour_ago);

    let d = lab::doctor::run(root).await.unwrap();
    let found = problems(&d);
    let text = d.render(lab::style::Style::plain());
    assert!(!d.healthy());
    assert!(
        text.contains("native mode: started by scripts/dev-up.sh"),
        "{text}"
    );
    let has = |needle: &str| found.iter().any(|p| p.contains(needle));
    assert!(
        has(&format!("nothing listens on port {gateway} (api-gateway) | fix: start the workshop: `scripts/dev-up.sh`")),
        "{found:#?}"
    );
    assert!(
        has(&format!(
            "inventory-service does not answer at http://127.0.0.1:{inventory}/health"
        )),
        "{found:#?}"
    );
    assert!(
        has("order-service runs a binary older than its sources (order-service/src/routes.rs changed since) | fix: rebuild"),
        "{found:#?}"
    );
    assert!(!has("user-service runs a binary older"), "{found:#?}");
    // The backend works: the test span went in over OTLP and came back by id.
    assert!(text.contains("a test span sent to"), "{text}");
    assert!(text.contains("was found by id"), "{text}");
    assert!(
        text.contains(&format!(
            "order-service is healthy (http://127.0.0.1:{order}/health)"
        )),
        "{text}"
    );
    sink.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_trace_backend_and_a_bad_env_line_are_problems() {
    let dead = free_port();
    let ports = [
        ("api-gateway", fake_service().await),
        ("order-service", fake_service().await),
        ("user-service", fake_service().await),
        ("inventory-service", fake_service().await),
    ];
    let dir = root_with_stack(
        "backend",
        ports,
        &format!("http://127.0.0.1:{dead}"),
        &format!("http://127.0.0.1:{dead}"),
    );
    let root = dir.path();
    std::fs::write(
        root.join(".lab/api-gateway.env"),
        "OTEL_TRACES_SAMPLER=always_on\nexport X=1\n",
    )
    .unwrap();
    let d = lab::doctor::run(root).await.unwrap();
    let found = problems(&d);
    assert!(
        found.iter().any(|p| p.contains(&format!(
            "the trace backend is not reachable at http://127.0.0.1:{dead}"
        )) && p.contains("lab sink")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("api-gateway.env:2: cannot read this line")),
        "{found:#?}"
    );
    assert!(
        !found.iter().any(|p| p.contains("does not answer")),
        "{found:#?}"
    );
}

#[tokio::test]
async fn a_test_span_that_never_arrives_is_a_problem() {
    // The services would export to one receiver, the lab reads another.
    let receiver = lab::sink::start(lab::sink::SinkConfig::ephemeral())
        .await
        .unwrap();
    let backend = lab::sink::start(lab::sink::SinkConfig::ephemeral())
        .await
        .unwrap();
    let ports = [
        ("api-gateway", fake_service().await),
        ("order-service", fake_service().await),
        ("user-service", fake_service().await),
        ("inventory-service", fake_service().await),
    ];
    let dir = root_with_stack(
        "lost",
        ports,
        &format!("http://{}", backend.query_addr),
        &format!("http://{}", receiver.http_addr),
    );
    let root = dir.path();
    let d = lab::doctor::run(root).await.unwrap();
    let found = problems(&d);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("did not reach"), "{found:#?}");
    assert!(found[0].contains("not the same backend"), "{found:#?}");
    receiver.shutdown().await;
    backend.shutdown().await;
}
