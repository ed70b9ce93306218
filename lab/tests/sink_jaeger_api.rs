//! The sink's query API against Jaeger v2.20's own fixtures: the OTLP input
//! Jaeger's tests use must come out as the JSON Jaeger returns for it,
//! whichever way it arrives (OTLP/JSON, OTLP/HTTP protobuf, OTLP/gRPC).

use lab::model::jaeger::{from_jaeger, to_jaeger, JTrace};
use lab::model::{SpanKind, Status, Value};
use lab::sink::{start, RunningSink, SinkConfig};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::{json, Value as Json};

const FIXTURE_ID: &str = "83a9efd15c1c98a977e0711cc93ee28b";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/jaeger/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn sink() -> RunningSink {
    start(SinkConfig::ephemeral()).await.unwrap()
}

async fn get(sink: &RunningSink, path: &str) -> (u16, Json) {
    let response = reqwest::get(format!("http://{}{path}", sink.query_addr))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn post(sink: &RunningSink, content_type: &str, body: Vec<u8>) -> u16 {
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", sink.http_addr))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

fn expected_response() -> Json {
    serde_json::from_str(&fixture("api-traces-response.json")).unwrap()
}

fn otlp_request() -> ExportTraceServiceRequest {
    serde_json::from_str(&fixture("otlp-in.json")).unwrap()
}

#[tokio::test]
async fn otlp_json_in_gives_jaegers_json_out() {
    let sink = sink().await;
    assert_eq!(
        post(
            &sink,
            "application/json",
            fixture("otlp-in.json").into_bytes()
        )
        .await,
        200
    );
    let (status, body) = get(&sink, &format!("/api/traces/{FIXTURE_ID}")).await;
    assert_eq!(status, 200);
    // serde_json compares objects regardless of key order; arrays in order.
    assert_eq!(body, expected_response());
    sink.shutdown().await;
}

#[tokio::test]
async fn otlp_protobuf_over_http_gives_the_same_json() {
    let sink = sink().await;
    let body = otlp_request().encode_to_vec();
    assert_eq!(post(&sink, "application/x-protobuf", body).await, 200);
    let (_, body) = get(&sink, &format!("/api/traces/{FIXTURE_ID}")).await;
    assert_eq!(body, expected_response());
    sink.shutdown().await;
}

#[tokio::test]
async fn otlp_grpc_gives_the_same_json() {
    let sink = sink().await;
    let mut client = TraceServiceClient::connect(format!("http://{}", sink.grpc_addr))
        .await
        .unwrap();
    let answer = client.export(otlp_request()).await.unwrap().into_inner();
    assert!(answer.partial_success.is_none());
    let (_, body) = get(&sink, &format!("/api/traces/{FIXTURE_ID}")).await;
    assert_eq!(body, expected_response());
    sink.shutdown().await;
}

#[tokio::test]
async fn unknown_and_malformed_ids_and_bodies_get_jaeger_like_errors() {
    let sink = sink().await;
    let (status, body) = get(&sink, "/api/traces/0123456789abcdef0123456789abcdef").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"data": null, "total": 0, "limit": 0, "offset": 0,
               "errors": [{"code": 404, "msg": "trace not found"}]})
    );
    let (status, body) = get(&sink, "/api/traces/not-a-trace-id").await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["msg"]
        .as_str()
        .unwrap()
        .contains("not a trace id"));

    assert_eq!(
        post(
            &sink,
            "application/x-protobuf",
            b"\xff\xff garbage".to_vec()
        )
        .await,
        400
    );
    assert_eq!(post(&sink, "text/plain", b"hello".to_vec()).await, 415);
    let (status, body) = get(&sink, "/api/traces").await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["msg"], "parameter 'service' is required");
    sink.shutdown().await;
}

#[tokio::test]
async fn services_and_search_most_recent_first() {
    let sink = sink().await;
    // Three traces of "shop", started 1 s apart, plus the fixture's.
    for (n, start) in [(1u8, 1_000u64), (2, 3_000), (3, 2_000)] {
        let mut request = otlp_request();
        let spans = &mut request.resource_spans[0].scope_spans[0].spans;
        spans.truncate(1);
        spans[0].trace_id = vec![n; 16];
        spans[0].start_time_unix_nano = start * 1_000_000_000;
        spans[0].end_time_unix_nano = start * 1_000_000_000 + 5_000;
        let resource = request.resource_spans[0].resource.as_mut().unwrap();
        resource.attributes[0].value = Some(opentelemetry_proto::tonic::common::v1::AnyValue {
            value: Some(
                opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                    "shop".to_string(),
                ),
            ),
        });
        assert_eq!(
            post(&sink, "application/x-protobuf", request.encode_to_vec()).await,
            200
        );
    }
    post(
        &sink,
        "application/json",
        fixture("otlp-in.json").into_bytes(),
    )
    .await;

    let (_, body) = get(&sink, "/api/services").await;
    assert_eq!(body["data"], json!(["shop", "telemetrygen"]));

    let (_, body) = get(&sink, "/api/traces?service=shop&limit=2").await;
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["traceID"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "02020202020202020202020202020202",
            "03030303030303030303030303030303"
        ]
    );

    // `start` is in microseconds, like Jaeger's.
    let (_, body) = get(&sink, "/api/traces?service=shop&start=2500000000").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    sink.shutdown().await;
}

#[test]
fn jaeger_ui_fixture_reads_into_the_model() {
    let jtrace: JTrace = serde_json::from_str(&fixture("api-traces-trace.json")).unwrap();
    let trace = from_jaeger(jtrace).unwrap();
    // Jaeger prints a 64-bit trace id with 16 digits; we pad it.
    assert_eq!(trace.trace_id.as_str(), "00000000000000000000000000000001");
    assert_eq!(trace.trace_id.to_jaeger(), "0000000000000001");

    let tagged = &trace.spans[1];
    assert_eq!(tagged.service(), "service-x");
    assert_eq!(tagged.status, Status::Error, "the `error: true` tag");
    assert_eq!(tagged.attribute("peer.ipv4"), Some(&Value::Int(23456)));
    assert_eq!(tagged.attribute("temperature"), Some(&Value::Float(72.5)));
    // Integers past 2^53 travel as strings but are still int64.
    assert_eq!(
        tagged.attribute("javascript_limit"),
        Some(&Value::Int(9223372036854775222))
    );
    assert_eq!(
        tagged.attribute("blob"),
        Some(&Value::Binary(vec![0, 0, 48, 57]))
    );

    let events = &trace.spans[0].events;
    assert_eq!(events[0].name, "some-event");
    assert_eq!(events[1].attributes[0].key, "x");

    let reference_test = &trace.spans[3];
    assert_eq!(
        reference_test.parent_span_id.as_deref(),
        Some("0000000000000002")
    );
    assert_eq!(
        reference_test.links.len(),
        2,
        "other-trace CHILD_OF and FOLLOWS_FROM"
    );
    assert_eq!(reference_test.warnings, ["some span warning"]);
    assert_eq!(reference_test.kind, SpanKind::Unspecified);

    // And back: large integers become strings again, processes are shared.
    let back = serde_json::to_value(to_jaeger(&trace)).unwrap();
    let tags = &back["spans"][1]["tags"];
    assert!(tags.as_array().unwrap().contains(&json!(
        {"key": "javascript_limit", "type": "int64", "value": "9223372036854775222"}
    )));
    assert_eq!(back["processes"].as_object().unwrap().len(), 2);
    assert_eq!(back["spans"][4]["processID"], "p2");
}
