//! Jaeger's query-API JSON (`/api/traces/{id}`), and conversion to and from
//! the [`Trace`] model.
//!
//! The shapes follow Jaeger v2.20's `uimodel`: a response envelope with
//! `data`, `total`, `limit`, `offset`, `errors`; each trace has `spans` and a
//! `processes` map (`p1`, `p2`, ...) that spans point to by `processID`.
//! OpenTelemetry fields with no Jaeger equivalent become tags, exactly as
//! Jaeger's OTLP translator does it: the scope as `otel.scope.name`/`version`
//! first, then the span's attributes, then `span.kind`, `otel.status_code`,
//! `error`, `otel.status_description` and `w3c.tracestate`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{parse_span_id, Attribute, Event, IdError, Link, Process, Span, SpanKind, Status};
use super::{Trace, TraceId, Value};

/// JSON numbers are doubles in the browser: Jaeger sends larger integers as
/// strings so they are not rounded. Beyond ±(2^53 - 1) we do the same.
const MAX_SAFE_JS_INT: i64 = (1 << 53) - 1;

/// The envelope around every answer of Jaeger's query API.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub data: Option<T>,
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub limit: u64,
    #[serde(default)]
    pub offset: u64,
    pub errors: Option<Vec<ApiError>>,
}

impl<T> Envelope<T> {
    pub fn ok(data: T, total: u64) -> Self {
        Envelope {
            data: Some(data),
            total,
            limit: 0,
            offset: 0,
            errors: None,
        }
    }

    pub fn error(code: u16, msg: impl Into<String>) -> Self {
        Envelope {
            data: None,
            total: 0,
            limit: 0,
            offset: 0,
            errors: Some(vec![ApiError {
                code,
                msg: msg.into(),
            }]),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ApiError {
    pub code: u16,
    pub msg: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JTrace {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    pub spans: Vec<JSpan>,
    #[serde(default)]
    pub processes: BTreeMap<String, JProcess>,
    pub warnings: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JSpan {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
    pub operation_name: String,
    #[serde(default)]
    pub references: Vec<JReference>,
    pub start_time: u64,
    pub duration: u64,
    #[serde(default)]
    pub tags: Vec<JKeyValue>,
    #[serde(default)]
    pub logs: Vec<JLog>,
    #[serde(rename = "processID")]
    pub process_id: String,
    pub warnings: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JReference {
    #[serde(rename = "refType")]
    pub ref_type: String,
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JKeyValue {
    pub key: String,
    #[serde(rename = "type")]
    pub value_type: String,
    pub value: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JLog {
    pub timestamp: u64,
    #[serde(default)]
    pub fields: Vec<JKeyValue>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JProcess {
    pub service_name: String,
    #[serde(default)]
    pub tags: Vec<JKeyValue>,
}

// ---------------------------------------------------------------- model -> JSON

/// Converts a trace into Jaeger's JSON shape.
pub fn to_jaeger(trace: &Trace) -> JTrace {
    // Spans from the same process share one `pN` entry, numbered in order of
    // first appearance, as Jaeger does.
    let mut processes: Vec<&Process> = Vec::new();
    let mut spans = Vec::with_capacity(trace.spans.len());
    for span in &trace.spans {
        let index = match processes.iter().position(|p| **p == span.process) {
            Some(i) => i,
            None => {
                processes.push(&span.process);
                processes.len() - 1
            }
        };
        spans.push(span_to_jaeger(span, format!("p{}", index + 1)));
    }
    let processes = processes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let process = JProcess {
                service_name: p.service.clone(),
                tags: p.tags.iter().map(key_value).collect(),
            };
            (format!("p{}", i + 1), process)
        })
        .collect();
    JTrace {
        trace_id: trace.trace_id.to_jaeger(),
        spans,
        processes,
        warnings: None,
    }
}

fn span_to_jaeger(span: &Span, process_id: String) -> JSpan {
    let trace_id = span.trace_id.to_jaeger();
    let mut references = Vec::new();
    if let Some(parent) = &span.parent_span_id {
        references.push(JReference {
            ref_type: "CHILD_OF".into(),
            trace_id: trace_id.clone(),
            span_id: parent.clone(),
        });
    }
    for link in &span.links {
        references.push(JReference {
            ref_type: "FOLLOWS_FROM".into(),
            trace_id: link.trace_id.to_jaeger(),
            span_id: link.span_id.clone(),
        });
    }
    JSpan {
        trace_id,
        span_id: span.span_id.clone(),
        operation_name: span.name.clone(),
        references,
        start_time: span.start_us,
        duration: span.duration_us,
        tags: span_tags(span),
        logs: span.events.iter().map(event_to_log).collect(),
        process_id,
        warnings: (!span.warnings.is_empty()).then(|| span.warnings.clone()),
    }
}

/// The tag list in the order Jaeger's OTLP translator builds it.
fn span_tags(span: &Span) -> Vec<JKeyValue> {
    let text = |key: &str, value: &str| key_value(&Attribute::new(key, Value::Str(value.into())));
    let mut tags = Vec::new();
    if let Some(name) = &span.scope_name {
        tags.push(text("otel.scope.name", name));
    }
    if let Some(version) = &span.scope_version {
        tags.push(text("otel.scope.version", version));
    }
    tags.extend(span.attributes.iter().map(key_value));
    if span.kind != SpanKind::Unspecified {
        tags.push(text("span.kind", span.kind.as_str()));
    }
    match span.status {
        Status::Unset => {}
        Status::Ok => tags.push(text("otel.status_code", "OK")),
        Status::Error => {
            tags.push(text("otel.status_code", "ERROR"));
            tags.push(key_value(&Attribute::new("error", Value::Bool(true))));
        }
    }
    if let Some(message) = &span.status_message {
        tags.push(text("otel.status_description", message));
    }
    if let Some(state) = &span.trace_state {
        tags.push(text("w3c.tracestate", state));
    }
    tags
}

fn event_to_log(event: &Event) -> JLog {
    let mut fields = Vec::new();
    // The event's name becomes an `event` field, unless an attribute already
    // has that key (Jaeger's rule).
    let has_event_key = event.attributes.iter().any(|a| a.key == "event");
    if !event.name.is_empty() && !has_event_key {
        fields.push(key_value(&Attribute::new(
            "event",
            Value::Str(event.name.clone()),
        )));
    }
    fields.extend(event.attributes.iter().map(key_value));
    JLog {
        timestamp: event.time_us,
        fields,
    }
}

fn key_value(attribute: &Attribute) -> JKeyValue {
    let value = match &attribute.value {
        Value::Str(s) => json!(s),
        Value::Bool(b) => json!(b),
        Value::Int(i) if i.abs() > MAX_SAFE_JS_INT => json!(i.to_string()),
        Value::Int(i) => json!(i),
        Value::Float(x) => json!(x),
        Value::Binary(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
    };
    JKeyValue {
        key: attribute.key.clone(),
        value_type: attribute.value.type_name().to_string(),
        value,
    }
}

// ---------------------------------------------------------------- JSON -> model

/// Converts Jaeger's JSON back into the model: the extra tags Jaeger added
/// become fields again (`span.kind` → [`SpanKind`], ...).
pub fn from_jaeger(trace: JTrace) -> Result<Trace, IdError> {
    let trace_id = TraceId::parse(&trace.trace_id)?;
    let mut spans = Vec::with_capacity(trace.spans.len());
    for jspan in trace.spans {
        let process = match trace.processes.get(&jspan.process_id) {
            Some(p) => Process {
                service: p.service_name.clone(),
                tags: p.tags.iter().map(attribute).collect(),
            },
            None => Process {
                service: format!("unknown process {}", jspan.process_id),
                tags: Vec::new(),
            },
        };
        spans.push(span_from_jaeger(jspan, process)?);
    }
    Ok(Trace { trace_id, spans })
}

fn span_from_jaeger(jspan: JSpan, process: Process) -> Result<Span, IdError> {
    let mut span = Span {
        trace_id: TraceId::parse(&jspan.trace_id)?,
        span_id: parse_span_id(&jspan.span_id)?,
        name: jspan.operation_name,
        start_us: jspan.start_time,
        duration_us: jspan.duration,
        process,
        warnings: jspan.warnings.unwrap_or_default(),
        ..Span::default()
    };
    for reference in jspan.references {
        let ref_trace = TraceId::parse(&reference.trace_id)?;
        let ref_span = parse_span_id(&reference.span_id)?;
        // The first CHILD_OF reference within the same trace is the parent.
        if reference.ref_type == "CHILD_OF"
            && ref_trace == span.trace_id
            && span.parent_span_id.is_none()
        {
            span.parent_span_id = Some(ref_span);
        } else {
            span.links.push(Link {
                trace_id: ref_trace,
                span_id: ref_span,
            });
        }
    }
    for tag in &jspan.tags {
        let text = tag.value.as_str();
        match (tag.key.as_str(), text) {
            ("span.kind", Some(kind)) => span.kind = SpanKind::parse(kind).unwrap_or_default(),
            ("otel.status_code", Some("ERROR")) => span.status = Status::Error,
            ("otel.status_code", Some("OK")) => span.status = Status::Ok,
            ("otel.status_description", Some(m)) => span.status_message = Some(m.to_string()),
            ("otel.scope.name", Some(n)) => span.scope_name = Some(n.to_string()),
            ("otel.scope.version", Some(v)) => span.scope_version = Some(v.to_string()),
            ("w3c.tracestate", Some(s)) => span.trace_state = Some(s.to_string()),
            // Older clients set only `error=true`; it still means failure.
            ("error", _) if tag.value == json!(true) => span.status = Status::Error,
            _ => span.attributes.push(attribute(tag)),
        }
    }
    span.events = jspan.logs.iter().map(log_to_event).collect();
    Ok(span)
}

fn log_to_event(log: &JLog) -> Event {
    let mut event = Event {
        time_us: log.timestamp,
        ..Event::default()
    };
    for field in &log.fields {
        match (field.key.as_str(), field.value.as_str()) {
            ("event", Some(name)) if event.name.is_empty() => event.name = name.to_string(),
            _ => event.attributes.push(attribute(field)),
        }
    }
    event
}

/// One Jaeger tag as an attribute. A value that does not fit its declared
/// type is kept as text rather than failing the whole trace.
fn attribute(tag: &JKeyValue) -> Attribute {
    let v = &tag.value;
    let value = match tag.value_type.as_str() {
        "bool" => v.as_bool().map(Value::Bool),
        // Large int64 values arrive as strings (see MAX_SAFE_JS_INT).
        "int64" => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(Value::Int),
        "float64" => v.as_f64().map(Value::Float),
        "binary" => v
            .as_str()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .map(Value::Binary),
        _ => v.as_str().map(|s| Value::Str(s.to_string())),
    };
    let value = value.unwrap_or_else(|| match v.as_str() {
        Some(s) => Value::Str(s.to_string()),
        None => Value::Str(v.to_string()),
    });
    Attribute::new(tag.key.clone(), value)
}
