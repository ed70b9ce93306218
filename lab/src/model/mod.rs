//! The trace model that every part of `lab` works on.
//!
//! Spans arrive in two shapes: OTLP protobuf (the sink receives them from the
//! services) and Jaeger's query-API JSON (`lab trace` and `lab check` read
//! them back). Both are turned into the plain structs below, so the tree
//! printer and the check engine never care where a trace came from, and
//! tests can build traces by hand.
//!
//! - [`jaeger`]: the Jaeger JSON shapes and the conversion to and from them.
//! - [`otlp`]: OTLP JSON, the shape of Jaeger's v3 API, to and from the model.

pub mod jaeger;
pub mod otlp;

use std::fmt;

/// A trace id: 32 lowercase hex digits (16 bytes), never all zeros.
///
/// Jaeger prints ids whose high 8 bytes are zero with only 16 digits, so
/// parsing accepts 1 to 32 digits and pads on the left; comparing two ids is
/// then a plain string comparison.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(String);

/// Why a string is not a trace or span id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error(
        "{0:?} is not a trace id: expected 32 hex digits, like 4bf92f3577b34da6a3ce929d0e0e4736"
    )]
    BadTraceId(String),
    #[error("{0:?} is not a span id: expected 16 hex digits, like 00f067aa0ba902b7")]
    BadSpanId(String),
}

impl TraceId {
    /// Parses a hex trace id (case-insensitive, 1 to 32 digits).
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let text = text.trim();
        let ok = !text.is_empty()
            && text.len() <= 32
            && text.chars().all(|c| c.is_ascii_hexdigit())
            && text.chars().any(|c| c != '0');
        if !ok {
            return Err(IdError::BadTraceId(text.to_string()));
        }
        Ok(TraceId(format!("{:0>32}", text.to_ascii_lowercase())))
    }

    /// From the 16 raw bytes OTLP carries.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 16 || bytes.iter().all(|b| *b == 0) {
            return None;
        }
        Some(TraceId(hex(bytes)))
    }

    /// The 32-digit form, as in a W3C `traceparent` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form Jaeger's JSON uses: 16 digits when the high half is zero.
    pub fn to_jaeger(&self) -> String {
        match self.0.strip_prefix("0000000000000000") {
            Some(low) => low.to_string(),
            None => self.0.clone(),
        }
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks and normalises a span id (16 lowercase hex digits).
pub fn parse_span_id(text: &str) -> Result<String, IdError> {
    let ok = !text.is_empty() && text.len() <= 16 && text.chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        return Err(IdError::BadSpanId(text.to_string()));
    }
    Ok(format!("{:0>16}", text.to_ascii_lowercase()))
}

/// Lowercase hex of some bytes (ids travel as bytes in OTLP).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An attribute value, with the four types Jaeger distinguishes (plus bytes).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    Binary(Vec<u8>),
}

impl Value {
    /// The type name Jaeger shows: `string`, `bool`, `int64`, `float64`, `binary`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int64",
            Value::Float(_) => "float64",
            Value::Binary(_) => "binary",
        }
    }
}

impl fmt::Display for Value {
    /// Strings are quoted so `"42"` (a string) and `42` (an int) look different.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Binary(b) => write!(f, "0x{}", hex(b)),
        }
    }
}

/// One `key = value` pair; kept in a `Vec` to preserve the order spans gave.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub key: String,
    pub value: Value,
}

impl Attribute {
    pub fn new(key: impl Into<String>, value: Value) -> Self {
        Attribute {
            key: key.into(),
            value,
        }
    }
}

/// Looks an attribute up by key.
pub fn find_attribute<'a>(attributes: &'a [Attribute], key: &str) -> Option<&'a Value> {
    attributes.iter().find(|a| a.key == key).map(|a| &a.value)
}

/// What a span describes, from the OTel spec (`SpanKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SpanKind {
    #[default]
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// Jaeger's `span.kind` tag value: lowercase, empty when unspecified.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }

    /// Parses `server`, `SERVER`, `Server`... (unknown text gives `None`).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "internal" => SpanKind::Internal,
            "server" => SpanKind::Server,
            "client" => SpanKind::Client,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            "unspecified" | "" => SpanKind::Unspecified,
            _ => return None,
        })
    }
}

/// A span's status. Unset is the normal case: only errors set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    Unset,
    Ok,
    Error,
}

/// A timestamped event on a span (`cache.miss`, `exception`, ...).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Event {
    /// Microseconds since the Unix epoch.
    pub time_us: u64,
    pub name: String,
    pub attributes: Vec<Attribute>,
}

/// The process (OTel "resource") that emitted a span.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Process {
    /// `service.name`: which service a span belongs to.
    pub service: String,
    /// The other resource attributes (`host.name`, `telemetry.sdk.*`, ...).
    pub tags: Vec<Attribute>,
}

/// A link to another span that is not the parent (Jaeger: `FOLLOWS_FROM`).
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub trace_id: TraceId,
    pub span_id: String,
}

/// One span, with times in microseconds like Jaeger's API.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: String,
    /// `None` for a root span. The parent may be missing from the trace (it
    /// was never exported, or `lab check` invented it for its traceparent).
    pub parent_span_id: Option<String>,
    pub links: Vec<Link>,
    pub name: String,
    pub kind: SpanKind,
    pub start_us: u64,
    pub duration_us: u64,
    /// The span's own attributes, without the extra tags Jaeger adds
    /// (`span.kind`, `otel.status_code`, `error`, `otel.scope.name`, ...).
    pub attributes: Vec<Attribute>,
    pub events: Vec<Event>,
    pub status: Status,
    /// `otel.status_description`, set with an error status.
    pub status_message: Option<String>,
    /// The instrumentation scope (tracer) name and version, if given.
    pub scope_name: Option<String>,
    pub scope_version: Option<String>,
    /// The W3C `tracestate`, rarely set.
    pub trace_state: Option<String>,
    pub process: Process,
    /// Problems a backend noticed in the span (Jaeger's `warnings`).
    pub warnings: Vec<String>,
}

impl Default for TraceId {
    /// A placeholder for `Span::default()` in tests; never a real id.
    fn default() -> Self {
        TraceId("0".repeat(32))
    }
}

impl Span {
    pub fn service(&self) -> &str {
        &self.process.service
    }

    pub fn end_us(&self) -> u64 {
        self.start_us + self.duration_us
    }

    pub fn attribute(&self, key: &str) -> Option<&Value> {
        find_attribute(&self.attributes, key)
    }
}

/// All spans that share one trace id.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Trace {
    pub trace_id: TraceId,
    pub spans: Vec<Span>,
}

impl Trace {
    /// Service names in order of first appearance.
    pub fn services(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for span in &self.spans {
            if !seen.contains(&span.service()) {
                seen.push(span.service());
            }
        }
        seen
    }

    pub fn span(&self, span_id: &str) -> Option<&Span> {
        self.spans.iter().find(|s| s.span_id == span_id)
    }

    /// The span's parent, if the parent is in this trace.
    pub fn parent_of(&self, span: &Span) -> Option<&Span> {
        span.parent_span_id.as_deref().and_then(|id| self.span(id))
    }

    /// Spans whose parent is absent from the trace: the true root, plus any
    /// orphans whose parent was never exported.
    pub fn roots(&self) -> Vec<&Span> {
        self.spans
            .iter()
            .filter(|s| self.parent_of(s).is_none())
            .collect()
    }

    pub fn start_us(&self) -> u64 {
        self.spans.iter().map(|s| s.start_us).min().unwrap_or(0)
    }

    pub fn end_us(&self) -> u64 {
        self.spans.iter().map(Span::end_us).max().unwrap_or(0)
    }

    pub fn duration_us(&self) -> u64 {
        self.end_us().saturating_sub(self.start_us())
    }
}
