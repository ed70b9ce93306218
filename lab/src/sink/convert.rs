//! OTLP (what the services export) → the [`crate::model`] spans.
//!
//! An export request nests spans three deep: resource (one process, with
//! `service.name`) → scope (one tracer, e.g. `tracing-opentelemetry`) →
//! spans. We flatten that: every span carries its process and scope.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, status};

use crate::model::{hex, Attribute, Event, Link, Process, Span, SpanKind, Status, TraceId, Value};

/// The service name Jaeger shows when a resource has no `service.name`.
pub const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";

/// The spans of one export request, and how many were unusable.
#[derive(Debug, Default)]
pub struct Converted {
    pub spans: Vec<Span>,
    /// Spans with a missing or malformed trace or span id. They are counted
    /// and reported back to the exporter as a partial success.
    pub rejected: usize,
}

/// Flattens an export request into spans.
pub fn convert(request: ExportTraceServiceRequest) -> Converted {
    let mut out = Converted::default();
    for resource_spans in request.resource_spans {
        let process = process(
            resource_spans
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default(),
        );
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans.scope.unwrap_or_default();
            for otlp in scope_spans.spans {
                let Some(mut span) = span(otlp, &process) else {
                    out.rejected += 1;
                    continue;
                };
                span.scope_name = non_empty(&scope.name);
                span.scope_version = non_empty(&scope.version);
                out.spans.push(span);
            }
        }
    }
    out
}

fn process(attributes: Vec<KeyValue>) -> Process {
    let mut process = Process {
        service: NO_SERVICE_NAME.to_string(),
        tags: Vec::new(),
    };
    for attribute in attributes.into_iter().map(attribute) {
        match (attribute.key.as_str(), &attribute.value) {
            ("service.name", Value::Str(name)) => process.service = name.clone(),
            _ => process.tags.push(attribute),
        }
    }
    process
}

fn span(otlp: opentelemetry_proto::tonic::trace::v1::Span, process: &Process) -> Option<Span> {
    let trace_id = TraceId::from_bytes(&otlp.trace_id)?;
    if otlp.span_id.len() != 8 {
        return None;
    }
    let parent_span_id = match otlp.parent_span_id.len() {
        0 => None,
        8 => Some(hex(&otlp.parent_span_id)),
        _ => return None,
    };
    let kind = match span::SpanKind::try_from(otlp.kind) {
        Ok(span::SpanKind::Internal) => SpanKind::Internal,
        Ok(span::SpanKind::Server) => SpanKind::Server,
        Ok(span::SpanKind::Client) => SpanKind::Client,
        Ok(span::SpanKind::Producer) => SpanKind::Producer,
        Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    };
    let (status, status_message) = match otlp.status {
        Some(s) => {
            let code = match status::StatusCode::try_from(s.code) {
                Ok(status::StatusCode::Ok) => Status::Ok,
                Ok(status::StatusCode::Error) => Status::Error,
                _ => Status::Unset,
            };
            (code, non_empty(&s.message))
        }
        None => (Status::Unset, None),
    };
    let links = otlp
        .links
        .into_iter()
        .filter_map(|link| {
            Some(Link {
                trace_id: TraceId::from_bytes(&link.trace_id)?,
                span_id: (link.span_id.len() == 8).then(|| hex(&link.span_id))?,
            })
        })
        .collect();
    let events = otlp
        .events
        .into_iter()
        .map(|e| Event {
            time_us: e.time_unix_nano / 1_000,
            name: e.name,
            attributes: e.attributes.into_iter().map(attribute).collect(),
        })
        .collect();
    Some(Span {
        trace_id,
        span_id: hex(&otlp.span_id),
        parent_span_id,
        links,
        name: otlp.name,
        kind,
        // Jaeger truncates both to whole microseconds, the duration from the
        // nanosecond difference (so 1.9 µs + 1.9 µs is not 4 µs).
        start_us: otlp.start_time_unix_nano / 1_000,
        duration_us: otlp
            .end_time_unix_nano
            .saturating_sub(otlp.start_time_unix_nano)
            / 1_000,
        attributes: otlp.attributes.into_iter().map(attribute).collect(),
        events,
        status,
        status_message,
        scope_name: None,
        scope_version: None,
        trace_state: non_empty(&otlp.trace_state),
        process: process.clone(),
        warnings: Vec::new(),
    })
}

fn attribute(kv: KeyValue) -> Attribute {
    Attribute::new(kv.key, value(kv.value))
}

/// OTLP values map one to one, except arrays and maps, which Jaeger cannot
/// store: like Jaeger, we keep them as their JSON text.
fn value(v: Option<AnyValue>) -> Value {
    match v.and_then(|v| v.value) {
        Some(any_value::Value::StringValue(s)) => Value::Str(s),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(b),
        Some(any_value::Value::IntValue(i)) => Value::Int(i),
        Some(any_value::Value::DoubleValue(x)) => Value::Float(x),
        Some(any_value::Value::BytesValue(b)) => Value::Binary(b),
        Some(other) => Value::Str(to_json(&other).to_string()),
        None => Value::Str(String::new()),
    }
}

fn to_json(v: &any_value::Value) -> serde_json::Value {
    use any_value::Value as V;
    let inner = |v: &AnyValue| v.value.as_ref().map_or(serde_json::Value::Null, to_json);
    match v {
        V::StringValue(s) => s.clone().into(),
        V::BoolValue(b) => (*b).into(),
        V::IntValue(i) => (*i).into(),
        V::DoubleValue(x) => (*x).into(),
        V::BytesValue(b) => hex(b).into(),
        // Only used by the profiling signal: an index into a string table.
        V::StringValueStrindex(i) => (*i).into(),
        V::ArrayValue(a) => a.values.iter().map(inner).collect(),
        V::KvlistValue(m) => m
            .values
            .iter()
            .map(|kv| {
                (
                    kv.key.clone(),
                    kv.value.as_ref().map_or(serde_json::Value::Null, inner),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}
