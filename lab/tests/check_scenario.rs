//! `lab check`'s network half, end to end but without the real services: a
//! fake gateway answers like the real one and exports a hand-built trace to
//! an in-process sink over OTLP; the scenario sends its `traceparent`, polls
//! the sink's Jaeger API and the engine judges the result.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use serde_json::{json, Value};

use common::*;
use lab::check::diagnosis::Cause;
use lab::check::engine::evaluate;
use lab::check::scenario::{observe, CheckOptions};
use lab::check::spec::Spec;
use lab::model::{self, Trace, TraceId};
use lab::sink::{start, SinkConfig};

/// How the fake gateway misbehaves.
#[derive(Clone, Copy)]
enum Mode {
    Healthy,
    /// Ignores the incoming traceparent and starts its own trace.
    IgnoresTraceparent,
    /// Continues the trace, but its call to order-service carries no
    /// traceparent: order-service and everything after it start a new trace.
    SplitsAtOrderService,
    /// The whole request is one trace, but the order's event reaches the
    /// consumer without a traceparent: `process orders` and its children
    /// form a trace of their own (lesson 14's exercise).
    SplitsAtConsumer,
}

struct Fake {
    mode: Mode,
    otlp_url: String,
}

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn any(value: &model::Value) -> Option<AnyValue> {
    use any_value::Value as V;
    let value = match value {
        model::Value::Str(s) => V::StringValue(s.clone()),
        model::Value::Int(i) => V::IntValue(*i),
        model::Value::Bool(b) => V::BoolValue(*b),
        model::Value::Float(x) => V::DoubleValue(*x),
        model::Value::Binary(b) => V::BytesValue(b.clone()),
    };
    Some(AnyValue { value: Some(value) })
}

fn key_values(attributes: &[model::Attribute]) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|a| KeyValue {
            key: a.key.clone(),
            value: any(&a.value),
            ..Default::default()
        })
        .collect()
}

/// The model trace as OTLP, one resource per service, as four processes would send it.
fn to_otlp(trace: &Trace) -> ExportTraceServiceRequest {
    let mut resource_spans = Vec::new();
    for service in trace.services() {
        let spans = trace
            .spans
            .iter()
            .filter(|s| s.service() == service)
            .map(|s| Span {
                trace_id: bytes(s.trace_id.as_str()),
                span_id: bytes(&s.span_id),
                parent_span_id: s.parent_span_id.as_deref().map(bytes).unwrap_or_default(),
                name: s.name.clone(),
                kind: match s.kind {
                    model::SpanKind::Server => span::SpanKind::Server,
                    model::SpanKind::Client => span::SpanKind::Client,
                    model::SpanKind::Producer => span::SpanKind::Producer,
                    model::SpanKind::Consumer => span::SpanKind::Consumer,
                    _ => span::SpanKind::Internal,
                } as i32,
                start_time_unix_nano: s.start_us * 1_000,
                end_time_unix_nano: s.end_us() * 1_000,
                attributes: key_values(&s.attributes),
                status: Some(Status {
                    code: status::StatusCode::Unset as i32,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        let service_name =
            model::Attribute::new("service.name", model::Value::Str(service.to_string()));
        resource_spans.push(ResourceSpans {
            resource: Some(Resource {
                attributes: key_values(&[service_name]),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    ExportTraceServiceRequest { resource_spans }
}

async fn create_order(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    let traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts: Vec<&str> = traceparent.split('-').collect();
    let (trace_id, parent) = match (fake.mode, parts.as_slice()) {
        (
            Mode::Healthy | Mode::SplitsAtOrderService | Mode::SplitsAtConsumer,
            [_, trace, parent, _],
        ) => (TraceId::parse(trace).unwrap(), Some(parent.to_string())),
        _ => (
            TraceId::parse("feedfeedfeedfeedfeedfeedfeedfeed").unwrap(),
            None,
        ),
    };
    let mut trace = healthy_order();
    trace.trace_id = trace_id.clone();
    for span in trace.spans.iter_mut() {
        span.trace_id = trace_id.clone();
    }
    trace.spans[0].parent_span_id = parent;
    if let Mode::SplitsAtOrderService = fake.mode {
        let other = TraceId::parse("5b1175b1175b1175b1175b1175b1175b").unwrap();
        // The diagnosis searches for traces that started during the check.
        let shift = lab::now_us() - T0;
        for span in trace.spans.iter_mut() {
            span.start_us += shift;
            if span.service() != "api-gateway" {
                span.trace_id = other.clone();
            }
            if span.service() == "order-service" && span.name == "POST /orders" {
                span.parent_span_id = None;
            }
        }
    }
    if let Mode::SplitsAtConsumer = fake.mode {
        let other = TraceId::parse("c0c0c0c0c0c0c0c0c0c0c0c0c0c0c014").unwrap();
        let shift = lab::now_us() - T0;
        for span in trace.spans.iter_mut() {
            span.start_us += shift;
            if ["process orders", "UPDATE users", "DEL"].contains(&span.name.as_str()) {
                span.trace_id = other.clone();
                if span.name == "process orders" {
                    span.parent_span_id = None;
                }
            }
        }
    }
    // A parent that says "not sampled" leaves no trace (parent-based
    // samplers), after the queue too.
    let sampled = parts.get(3) != Some(&"00");
    // Export in two batches, the way two services' batch processors would.
    let late = trace.spans.split_off(8);
    let url = fake.otlp_url.clone();
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let batches = match sampled {
            true => vec![(100, trace.spans), (700, late)],
            false => Vec::new(),
        };
        for (delay, spans) in batches {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let batch = Trace {
                trace_id: trace.trace_id.clone(),
                spans,
            };
            let body = to_otlp(&batch).encode_to_vec();
            client
                .post(&url)
                .header("content-type", "application/x-protobuf")
                .body(body)
                .send()
                .await
                .unwrap();
        }
    });
    (
        StatusCode::CREATED,
        Json(json!({"order_id": 1, "status": "confirmed", "trace_id": trace_id.to_string()})),
    )
}

/// Starts a sink and a fake gateway; runs lesson 01's check against them.
async fn run_lesson_01(mode: Mode) -> lab::check::engine::Report {
    run_lesson_01_on(mode, false).await
}

/// With `v3_only`, the check reads the sink through a front that answers
/// only Jaeger's v3 API (and HTML elsewhere, like a newer Jaeger's UI).
async fn run_lesson_01_on(mode: Mode, v3_only: bool) -> lab::check::engine::Report {
    run_lesson("01-first-trace", mode, v3_only).await
}

/// Lesson `slug`'s check against a sink and the fake gateway.
async fn run_lesson(slug: &str, mode: Mode, v3_only: bool) -> lab::check::engine::Report {
    let sink = start(SinkConfig::ephemeral()).await.unwrap();
    let fake = Arc::new(Fake {
        mode,
        otlp_url: format!("http://{}/v1/traces", sink.http_addr),
    });
    let app = Router::new()
        .route("/orders", post(create_order))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let path = format!(
        "{}/../lessons/{slug}/check.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut spec = Spec::load(std::path::Path::new(&path)).unwrap();
    // Lesson 01 stops order-service after its requests: a fake has none
    // (and its second, slow order is the one in flight at that stop).
    spec.after_requests = Default::default();
    if slug == "01-first-trace" {
        spec.requests.truncate(1);
    }
    let jaeger = if v3_only {
        let front = lab::sink::jaeger_v3::router(sink.store.clone())
            .fallback(|| async { axum::response::Html("<!doctype html><html></html>") });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, front).await.unwrap() });
        url
    } else {
        format!("http://{}", sink.query_addr)
    };
    let options = CheckOptions {
        gateway,
        jaeger,
        timeout: Duration::from_secs(5),
        control: Default::default(),
    };
    let observations = observe(&spec, &options, |_| {}).await.unwrap();
    sink.shutdown().await;
    evaluate(&spec, &observations)
}

#[tokio::test]
async fn healthy_gateway_passes_after_the_late_batch_arrives() {
    let report = run_lesson_01(Mode::Healthy).await;
    assert!(report.passed(), "{:#?}", report.findings);
    // The scenario waited for the second batch, not just the first.
    assert_eq!(
        report.shown.unwrap().spans.len(),
        healthy_order().spans.len()
    );
}

#[tokio::test]
async fn gateway_that_starts_its_own_trace_is_caught() {
    let report = run_lesson_01(Mode::IgnoresTraceparent).await;
    // One finding per request of the lesson (their paths differ), all the same cause.
    let mut causes: Vec<Cause> = report.findings.iter().map(|f| f.cause.clone()).collect();
    causes.dedup();
    assert_eq!(causes, vec![Cause::NotContinued], "{:#?}", report.findings);
}

#[tokio::test]
async fn both_verdicts_hold_when_the_backend_answers_only_v3() {
    let report = run_lesson_01_on(Mode::Healthy, true).await;
    assert!(report.passed(), "{:#?}", report.findings);
    let report = run_lesson_01_on(Mode::IgnoresTraceparent, true).await;
    // One finding per request of the lesson (their paths differ), all the same cause.
    let mut causes: Vec<Cause> = report.findings.iter().map(|f| f.cause.clone()).collect();
    causes.dedup();
    assert_eq!(causes, vec![Cause::NotContinued], "{:#?}", report.findings);
}

#[tokio::test]
async fn a_split_trace_is_diagnosed_the_same_through_v1_and_v3() {
    let mut verdicts = Vec::new();
    for v3_only in [false, true] {
        let report = run_lesson_01_on(Mode::SplitsAtOrderService, v3_only).await;
        let causes: Vec<Cause> = report.findings.iter().map(|f| f.cause.clone()).collect();
        assert!(
            causes.contains(&Cause::SplitTrace {
                service: "order-service".to_string(),
                kind: model::SpanKind::Server,
            }),
            "v3_only={v3_only}: {:#?}",
            report.findings
        );
        verdicts.push(causes);
    }
    assert_eq!(verdicts[0], verdicts[1]);
}

#[tokio::test]
async fn a_consumer_in_a_trace_of_its_own_is_found_and_named() {
    // The request's trace has every service (user-service served the user),
    // so only the missing spans lead to the consumer's own trace.
    let report = run_lesson("14-across-a-queue", Mode::SplitsAtConsumer, false).await;
    let causes: Vec<Cause> = report.findings.iter().map(|f| f.cause.clone()).collect();
    assert_eq!(
        causes,
        vec![Cause::SplitTrace {
            service: "user-service".to_string(),
            kind: model::SpanKind::Consumer,
        }],
        "{:#?}",
        report.findings
    );
    assert!(report.findings[0]
        .problem
        .contains("c0c0c0c0c0c0c0c0c0c0c0c0c0c0c014"));
    let report = run_lesson("14-across-a-queue", Mode::Healthy, false).await;
    assert!(report.passed(), "{:#?}", report.findings);
}

#[tokio::test]
async fn no_trace_backend_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = Spec::parse("title: t\nrequests: [{path: /orders}]\n").unwrap();
    let options = CheckOptions {
        gateway: "http://127.0.0.1:9".to_string(),
        jaeger: format!("http://127.0.0.1:{port}"),
        timeout: Duration::from_secs(1),
        control: Default::default(),
    };
    let error = observe(&spec, &options, |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("cargo lab sink"), "{error}");
}
