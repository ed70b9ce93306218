//! Reading collected spans: which service, which parent, which attributes.

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;

/// A finished span and the service that emitted it.
#[derive(Clone, Debug)]
pub struct CollectedSpan {
    pub service: &'static str,
    pub data: SpanData,
}

impl CollectedSpan {
    pub fn name(&self) -> &str {
        &self.data.name
    }
    pub fn kind(&self) -> &SpanKind {
        &self.data.span_kind
    }
    pub fn span_id(&self) -> SpanId {
        self.data.span_context.span_id()
    }
    pub fn parent_id(&self) -> SpanId {
        self.data.parent_span_id
    }
    pub fn attr(&self, key: &str) -> Option<&Value> {
        attr(&self.data, key)
    }
    pub fn is_error(&self) -> bool {
        matches!(self.data.status, Status::Error { .. })
    }
    pub fn duration_ms(&self) -> u128 {
        self.data
            .end_time
            .duration_since(self.data.start_time)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    }
}

/// An attribute of a span, by key.
pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// An event of a span, by name.
pub fn event<'a>(span: &'a SpanData, name: &str) -> Option<&'a opentelemetry::trace::Event> {
    span.events.events.iter().find(|e| e.name == name)
}

pub fn has_event(span: &SpanData, name: &str) -> bool {
    event(span, name).is_some()
}

/// All spans of one trace, across services.
#[derive(Clone, Debug)]
pub struct TraceView {
    pub trace_id: TraceId,
    pub spans: Vec<CollectedSpan>,
}

impl TraceView {
    /// Spans without a parent in this trace (a healthy trace has exactly one;
    /// a trace continued from outside has a root whose parent is remote).
    pub fn roots(&self) -> Vec<&CollectedSpan> {
        self.spans
            .iter()
            .filter(|s| s.parent_id() == SpanId::INVALID || self.by_id(s.parent_id()).is_none())
            .collect()
    }

    pub fn by_id(&self, id: SpanId) -> Option<&CollectedSpan> {
        self.spans.iter().find(|s| s.span_id() == id)
    }

    /// The one span named `name` emitted by `service`; panics with the list
    /// of what is there when it is missing or ambiguous.
    pub fn one(&self, service: &str, name: &str) -> &CollectedSpan {
        let found: Vec<_> = self
            .spans
            .iter()
            .filter(|s| s.service == service && s.name() == name)
            .collect();
        assert!(
            found.len() == 1,
            "expected one span {name:?} from {service}, found {}; spans: {}",
            found.len(),
            self.describe()
        );
        found[0]
    }

    pub fn find(&self, service: &str, name: &str) -> Vec<&CollectedSpan> {
        self.spans
            .iter()
            .filter(|s| s.service == service && s.name() == name)
            .collect()
    }

    pub fn parent_of(&self, span: &CollectedSpan) -> Option<&CollectedSpan> {
        self.by_id(span.parent_id())
    }

    pub fn services(&self) -> Vec<&'static str> {
        let mut services: Vec<_> = self.spans.iter().map(|s| s.service).collect();
        services.sort();
        services.dedup();
        services
    }

    /// One line per span, for assertion messages.
    pub fn describe(&self) -> String {
        let lines: Vec<String> = self
            .spans
            .iter()
            .map(|s| {
                format!(
                    "{} {:?} {:?} id={} parent={}",
                    s.service,
                    s.name(),
                    s.kind(),
                    s.span_id(),
                    s.parent_id()
                )
            })
            .collect();
        format!("\n  {}", lines.join("\n  "))
    }
}
