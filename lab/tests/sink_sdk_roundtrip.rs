//! Real spans from the OpenTelemetry SDK (the same exporter crate the
//! services use), sent to an in-process sink over OTLP http/protobuf and
//! over gRPC, then read back through the Jaeger query API.

use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use serde_json::{json, Value as Json};

use lab::sink::{start, RunningSink, SinkConfig};

async fn sink() -> RunningSink {
    start(SinkConfig::ephemeral()).await.unwrap()
}

/// Records a server span with a failing client child, flushes, and returns
/// the trace id. Runs on a blocking thread: the SDK's simple processor and
/// the blocking HTTP client must not run on an async worker.
async fn export_one_trace(
    exporter: impl FnOnce() -> SpanExporter + Send + 'static,
    service: &'static str,
) -> String {
    tokio::task::spawn_blocking(move || {
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter())
            .with_resource(Resource::builder().with_service_name(service).build())
            .build();
        let tracer = provider.tracer("lab-tests");
        let root = tracer
            .span_builder("POST /orders")
            .with_kind(SpanKind::Server)
            .with_attributes([KeyValue::new("http.response.status_code", 201i64)])
            .start(&tracer);
        let cx = Context::current_with_span(root);
        let mut child = tracer
            .span_builder("INSERT orders")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("db.system.name", "postgresql"),
                KeyValue::new("cache.hit", false),
                KeyValue::new("ratio", 0.5),
            ])
            .start_with_context(&tracer, &cx);
        child.add_event("cache.miss", vec![KeyValue::new("user.id", 7i64)]);
        child.set_status(Status::error("database is down"));
        child.end();
        let trace_id = cx.span().span_context().trace_id().to_string();
        cx.span().end();
        provider.force_flush().expect("flush");
        provider.shutdown().expect("shutdown");
        trace_id
    })
    .await
    .unwrap()
}

async fn fetch(sink: &RunningSink, trace_id: &str) -> Json {
    let url = format!("http://{}/api/traces/{trace_id}", sink.query_addr);
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn tag<'a>(span: &'a Json, key: &str) -> &'a Json {
    span["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("no tag {key} in {span}"))
}

/// What both transports must deliver.
fn assert_trace_shape(body: &Json, trace_id: &str, service: &str) {
    let trace = &body["data"][0];
    assert_eq!(trace["traceID"], trace_id);
    assert_eq!(trace["processes"]["p1"]["serviceName"], service);
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    let root = spans
        .iter()
        .find(|s| s["operationName"] == "POST /orders")
        .unwrap();
    let child = spans
        .iter()
        .find(|s| s["operationName"] == "INSERT orders")
        .unwrap();

    assert_eq!(root["references"], json!([]));
    assert_eq!(tag(root, "span.kind")["value"], "server");
    assert_eq!(
        tag(root, "http.response.status_code"),
        &json!({"key": "http.response.status_code", "type": "int64", "value": 201})
    );
    assert_eq!(tag(root, "otel.scope.name")["value"], "lab-tests");

    assert_eq!(
        child["references"],
        json!([{"refType": "CHILD_OF", "traceID": trace_id, "spanID": root["spanID"]}])
    );
    assert_eq!(tag(child, "span.kind")["value"], "client");
    assert_eq!(tag(child, "cache.hit")["type"], "bool");
    assert_eq!(tag(child, "ratio")["type"], "float64");
    assert_eq!(tag(child, "otel.status_code")["value"], "ERROR");
    assert_eq!(
        tag(child, "error"),
        &json!({"key": "error", "type": "bool", "value": true})
    );
    assert_eq!(
        tag(child, "otel.status_description")["value"],
        "database is down"
    );
    let log = &child["logs"][0];
    assert_eq!(
        log["fields"][0],
        json!({"key": "event", "type": "string", "value": "cache.miss"})
    );
    assert_eq!(
        log["fields"][1],
        json!({"key": "user.id", "type": "int64", "value": 7})
    );
    assert!(log["timestamp"].as_u64().unwrap() >= child["startTime"].as_u64().unwrap());
    // Times are microseconds since the epoch: after 2020, before 2100.
    let start = root["startTime"].as_u64().unwrap();
    assert!((1_577_836_800_000_000..4_102_444_800_000_000).contains(&start));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_spans_over_http_protobuf() {
    let sink = sink().await;
    let endpoint = format!("http://{}/v1/traces", sink.http_addr);
    let exporter = move || {
        SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .build()
            .unwrap()
    };
    let trace_id = export_one_trace(exporter, "http-service").await;
    assert_trace_shape(&fetch(&sink, &trace_id).await, &trace_id, "http-service");
    sink.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_spans_over_grpc() {
    let sink = sink().await;
    let endpoint = format!("http://{}", sink.grpc_addr);
    let handle = tokio::runtime::Handle::current();
    let exporter = move || {
        // The tonic exporter needs the Tokio runtime to open its channel.
        let _guard = handle.enter();
        SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .unwrap()
    };
    let trace_id = export_one_trace(exporter, "grpc-service").await;
    assert_trace_shape(&fetch(&sink, &trace_id).await, &trace_id, "grpc-service");
    sink.shutdown().await;
}
