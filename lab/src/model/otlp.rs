//! OTLP JSON, the shape of Jaeger's v3 query API (`/api/v3/traces`): every
//! answer is a stream of `{"result": {"resourceSpans": [...]}}` documents,
//! the same `resourceSpans` an exporter sends. Reading reuses the sink's
//! OTLP conversion; writing is its inverse, grouping spans back under their
//! resource (process) and scope.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, ScopeSpans};
use serde::{Deserialize, Serialize};

use super::{Attribute, Span, SpanKind, Status, Trace, Value};

/// One document of a v3 answer: a result, or an error
/// (`{"error": {"httpCode": 404, "message": "trace not found"}}`).
#[derive(Debug, Serialize, Deserialize)]
pub struct V3Document {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ExportTraceServiceRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<V3Error>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V3Error {
    #[serde(default)]
    pub http_code: u16,
    #[serde(default)]
    pub message: String,
}

/// `GET /api/v3/services`: `{"services": [...]}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct V3Services {
    #[serde(default)]
    pub services: Vec<String>,
}

/// Reads a stream of documents (whitespace between them, or none); the
/// spans of all results, grouped into traces in order of first appearance.
pub fn read_stream(body: &str) -> Result<(Vec<Trace>, Option<V3Error>), serde_json::Error> {
    let mut spans = Vec::new();
    let mut error = None;
    for document in serde_json::Deserializer::from_str(body).into_iter::<V3Document>() {
        let document = document?;
        if let Some(result) = document.result {
            spans.extend(crate::sink::convert::convert(result).spans);
        }
        error = error.or(document.error);
    }
    Ok((group(spans), error))
}

/// Spans into traces by trace id, in order of first appearance.
pub fn group(spans: Vec<Span>) -> Vec<Trace> {
    let mut traces: Vec<Trace> = Vec::new();
    for span in spans {
        match traces.iter_mut().find(|t| t.trace_id == span.trace_id) {
            Some(trace) => trace.spans.push(span),
            None => traces.push(Trace {
                trace_id: span.trace_id.clone(),
                spans: vec![span],
            }),
        }
    }
    traces
}

/// One trace as OTLP: one `resourceSpans` per process, one `scopeSpans` per scope.
pub fn to_otlp(trace: &Trace) -> ExportTraceServiceRequest {
    let mut resources: Vec<ResourceSpans> = Vec::new();
    for span in &trace.spans {
        let mut attributes = vec![key_value(&Attribute::new(
            "service.name",
            Value::Str(span.process.service.clone()),
        ))];
        attributes.extend(span.process.tags.iter().map(key_value));
        let resource = Resource {
            attributes,
            ..Resource::default()
        };
        let at = match resources
            .iter()
            .position(|r| r.resource.as_ref() == Some(&resource))
        {
            Some(at) => at,
            None => {
                resources.push(ResourceSpans {
                    resource: Some(resource),
                    ..ResourceSpans::default()
                });
                resources.len() - 1
            }
        };
        let scope = InstrumentationScope {
            name: span.scope_name.clone().unwrap_or_default(),
            version: span.scope_version.clone().unwrap_or_default(),
            ..InstrumentationScope::default()
        };
        let scopes = &mut resources[at].scope_spans;
        let at = match scopes.iter().position(|s| s.scope.as_ref() == Some(&scope)) {
            Some(at) => at,
            None => {
                scopes.push(ScopeSpans {
                    scope: Some(scope),
                    ..ScopeSpans::default()
                });
                scopes.len() - 1
            }
        };
        scopes[at].spans.push(otlp_span(span));
    }
    ExportTraceServiceRequest {
        resource_spans: resources,
    }
}

fn otlp_span(span: &Span) -> opentelemetry_proto::tonic::trace::v1::Span {
    use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;
    let kind = match span.kind {
        SpanKind::Unspecified => span::SpanKind::Unspecified,
        SpanKind::Internal => span::SpanKind::Internal,
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Client => span::SpanKind::Client,
        SpanKind::Producer => span::SpanKind::Producer,
        SpanKind::Consumer => span::SpanKind::Consumer,
    };
    let code = match span.status {
        Status::Unset => status::StatusCode::Unset,
        Status::Ok => status::StatusCode::Ok,
        Status::Error => status::StatusCode::Error,
    };
    OtlpSpan {
        trace_id: unhex(span.trace_id.as_str()),
        span_id: unhex(&span.span_id),
        parent_span_id: span
            .parent_span_id
            .as_deref()
            .map(unhex)
            .unwrap_or_default(),
        trace_state: span.trace_state.clone().unwrap_or_default(),
        name: span.name.clone(),
        kind: kind as i32,
        start_time_unix_nano: span.start_us * 1_000,
        end_time_unix_nano: span.end_us() * 1_000,
        attributes: span.attributes.iter().map(key_value).collect(),
        events: span
            .events
            .iter()
            .map(|e| span::Event {
                time_unix_nano: e.time_us * 1_000,
                name: e.name.clone(),
                attributes: e.attributes.iter().map(key_value).collect(),
                ..span::Event::default()
            })
            .collect(),
        links: span
            .links
            .iter()
            .map(|l| span::Link {
                trace_id: unhex(l.trace_id.as_str()),
                span_id: unhex(&l.span_id),
                ..span::Link::default()
            })
            .collect(),
        status: Some(opentelemetry_proto::tonic::trace::v1::Status {
            message: span.status_message.clone().unwrap_or_default(),
            code: code as i32,
        }),
        ..OtlpSpan::default()
    }
}

fn key_value(attribute: &Attribute) -> KeyValue {
    let value = match &attribute.value {
        Value::Str(s) => any_value::Value::StringValue(s.clone()),
        Value::Bool(b) => any_value::Value::BoolValue(*b),
        Value::Int(i) => any_value::Value::IntValue(*i),
        Value::Float(x) => any_value::Value::DoubleValue(*x),
        Value::Binary(b) => any_value::Value::BytesValue(b.clone()),
    };
    KeyValue {
        key: attribute.key.clone(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// Hex ids back to bytes (ids in the model are always valid hex).
fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}
