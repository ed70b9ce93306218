//! The lab's client on Jaeger's v3 API (OTLP JSON), and the sink serving it.
//!
//! A "newer Jaeger" is faked the way it behaves: v3 routes only, and its UI's
//! HTML page for every other path, including `/api/services`. The client
//! must probe, see HTML as "not this API", and read v3.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{RawQuery, State};
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use common::*;
use lab::client::{Api, JaegerClient};
use lab::model::jaeger::{from_jaeger, Envelope, JTrace};
use lab::model::Trace;
use lab::sink::{jaeger_v3, start, SinkConfig};

const FIXTURE_ID: &str = "83a9efd15c1c98a977e0711cc93ee28b";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/jaeger/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What Jaeger's UI answers on any path it does not route.
async fn ui_page() -> Html<&'static str> {
    Html("<!doctype html><html><head><title>Jaeger UI</title></head><body><div id=\"jaeger-ui-root\"></div></body></html>")
}

/// Serves `app` on an ephemeral port; returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// The fixture trace as Jaeger's v1 API gives it.
fn v1_fixture_trace() -> Trace {
    let envelope: Envelope<Vec<JTrace>> =
        serde_json::from_str(&fixture("api-traces-response.json")).unwrap();
    from_jaeger(envelope.data.unwrap().remove(0)).unwrap()
}

fn sorted(mut trace: Trace) -> Trace {
    trace
        .spans
        .sort_by(|a, b| (&a.span_id, a.start_us, &a.name).cmp(&(&b.span_id, b.start_us, &b.name)));
    trace
}

#[tokio::test]
async fn a_v3_only_jaeger_is_probed_and_read_like_v1() {
    let started = Instant::now();
    let queries: Arc<Mutex<Vec<String>>> = Arc::default();
    let app = Router::new()
        .route(
            "/api/v3/services",
            get(|| async { Json(json!({"services": ["telemetrygen"]})) }),
        )
        .route(
            "/api/v3/traces/{id}",
            get(|| async { fixture("api-v3-trace.json") }),
        )
        .route(
            "/api/v3/traces",
            get(
                |State(queries): State<Arc<Mutex<Vec<String>>>>, RawQuery(q): RawQuery| async move {
                    queries.lock().unwrap().push(q.unwrap_or_default());
                    fixture("api-v3-trace.json")
                },
            ),
        )
        .fallback(ui_page)
        .with_state(queries.clone());
    let client = JaegerClient::new(&serve(app).await);

    assert_eq!(client.api().await.unwrap(), Api::V3);
    let trace = client.trace(&trace_id(FIXTURE_ID)).await.unwrap().unwrap();
    // The same trace through either API gives the same model.
    assert_eq!(sorted(trace), sorted(v1_fixture_trace()));

    let found = client.find("telemetrygen", 20, None).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].trace_id, trace_id(FIXTURE_ID));
    let query = queries.lock().unwrap()[0].clone();
    let params = url_params(&query);
    assert_eq!(params["query.service_name"], "telemetrygen");
    let min = lab::time::parse_us(&params["query.start_time_min"]).expect("RFC 3339");
    let max = lab::time::parse_us(&params["query.start_time_max"]).expect("RFC 3339");
    assert!(min < lab::now_us() && lab::now_us() < max, "{query}");

    assert_eq!(client.services().await.unwrap(), ["telemetrygen"]);
    eprintln!("took {:?}", started.elapsed());
}

/// `a=1&b=2` → a map; the times only need `:` and `+` unescaped.
fn url_params(query: &str) -> std::collections::HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%3A", ":").replace("%2B", "+")))
        .collect()
}

#[tokio::test]
async fn a_v1_jaeger_is_still_read_through_v1() {
    let app = Router::new()
        .route(
            "/api/services",
            get(|| async { Json(json!({"data": ["telemetrygen"], "total": 1})) }),
        )
        .route(
            "/api/traces/{id}",
            get(|| async { fixture("api-traces-response.json") }),
        )
        .fallback(ui_page);
    let client = JaegerClient::new(&serve(app).await);
    assert_eq!(client.api().await.unwrap(), Api::V1);
    let trace = client.trace(&trace_id(FIXTURE_ID)).await.unwrap().unwrap();
    assert_eq!(sorted(trace), sorted(v1_fixture_trace()));
}

#[tokio::test]
async fn the_sinks_v3_output_round_trips_through_the_client() {
    let sink = start(SinkConfig::ephemeral()).await.unwrap();
    let mut original = healthy_order();
    fail(
        find_mut(
            &mut original,
            "inventory-service",
            "POST /inventory/reservations",
        ),
        "out of stock",
    );
    original.spans[3].links.push(lab::model::Link {
        trace_id: trace_id("feedfeedfeedfeedfeedfeedfeedfeed"),
        span_id: "00000000000000aa".to_string(),
    });
    lab::sink::otlp::lock(&sink.store).insert(original.spans.clone(), Instant::now());

    // The sink itself answers v1, so the probe picks v1 there...
    let direct = JaegerClient::new(&format!("http://{}", sink.query_addr));
    assert_eq!(direct.api().await.unwrap(), Api::V1);
    // ...and in front of a v3-only router (a newer Jaeger's shape) it reads v3.
    let app = jaeger_v3::router(sink.store.clone()).fallback(ui_page);
    let client = JaegerClient::new(&serve(app).await);
    assert_eq!(client.api().await.unwrap(), Api::V3);

    let read = client.trace(&trace_id(TRACE_ID)).await.unwrap().unwrap();
    assert_eq!(sorted(read), sorted(original.clone()));
    let unknown = client
        .trace(&trace_id("0123456789abcdef0123456789abcdef"))
        .await
        .unwrap();
    assert!(unknown.is_none());

    let found = client.find("user-service", 20, Some(T0 - 1)).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].spans.len(), original.spans.len());
    assert!(client.find("nobody", 20, None).await.unwrap().is_empty());
    assert!(client
        .find("user-service", 20, Some(T0 + 1))
        .await
        .unwrap()
        .is_empty());
    let mut services = client.services().await.unwrap();
    services.sort();
    assert_eq!(
        services,
        [
            "api-gateway",
            "inventory-service",
            "order-service",
            "user-service"
        ]
    );
    sink.shutdown().await;
}

#[tokio::test]
async fn the_sinks_v3_errors_have_jaegers_shape() {
    let sink = start(SinkConfig::ephemeral()).await.unwrap();
    let base = format!("http://{}", sink.query_addr);
    let get = |path: String| async move {
        let response = reqwest::get(path).await.unwrap();
        (
            response.status().as_u16(),
            response.json::<serde_json::Value>().await.unwrap(),
        )
    };
    let (status, body) = get(format!("{base}/api/v3/traces/{TRACE_ID}")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["httpCode"], 404);
    let (status, body) = get(format!("{base}/api/v3/traces?query.service_name=x")).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("query.start_time_min"));
    sink.shutdown().await;
}
