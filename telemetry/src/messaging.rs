//! Across a queue: PRODUCER and CONSUMER spans, and the trace context carried
//! in a message's fields.
//!
//! An HTTP call carries the context in headers and the callee continues it
//! at once. A message may wait (in an outbox table, in a stream) for seconds
//! or hours, so the context travels *with the message*, as plain text fields
//! beside the payload:
//!
//! ```text
//! order_events row   traceparent = 00-<trace>-<save_order span>-01      (stored)
//!        │ relay: PRODUCER span `send orders`, child of the stored context
//! stream entry       traceparent = 00-<trace>-<send orders span>-01     (injected)
//!        │ consumer: CONSUMER span `process orders`, child of the entry's context
//! ```
//!
//! The fields are written and read with the same W3C propagators as the
//! HTTP headers ([`crate::propagation`]), so the format is identical.
//! Span names and `messaging.destination.name` use the bare destination
//! (`orders`), never a Redis key with its environment prefix.
//!
//! `fault.*` baggage does not cross a queue: a fault plan belongs to one
//! request, and a worker replaying an old message must not sleep or fail
//! because of it. [`context_from_fields`] drops it.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use opentelemetry_semantic_conventions::attribute::{
    MESSAGING_CONSUMER_GROUP_NAME, MESSAGING_DESTINATION_NAME, MESSAGING_MESSAGE_ID,
    MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM,
};
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{fault, propagation};

/// The message fields that carry the trace context (the W3C header names).
pub const CONTEXT_FIELDS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

/// `cx` as message fields: `traceparent`, plus `tracestate` and `baggage`
/// when there are any. Empty when `cx` holds no valid span context.
pub fn context_fields(cx: &Context) -> Vec<(&'static str, String)> {
    let mut headers = HeaderMap::new();
    propagation::inject(cx, &mut headers);
    CONTEXT_FIELDS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            (!value.is_empty()).then(|| (*name, value.to_string()))
        })
        .collect()
}

/// The context stored in a message's fields (`field(name)` reads one), with
/// `fault.*` baggage removed. An empty context when there is no usable
/// `traceparent`: a span parented by it starts a new trace.
pub fn context_from_fields<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Context {
    let mut headers = HeaderMap::new();
    for name in CONTEXT_FIELDS {
        if let Some(value) = field(name).and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    fault::strip_fault_baggage(&mut headers);
    propagation::extract(&headers)
}

/// Does `cx` carry a valid remote span context (a parent to continue)?
pub fn has_parent(cx: &Context) -> bool {
    cx.span().span_context().is_valid()
}

/// The PRODUCER span of sending one message to `destination`, continuing
/// `parent` (the context stored with the message).
///
/// The parent is set before the span is first entered: that is when the
/// sampler decides, and a parent-based sampler must see it (a sampled-out
/// request's message stays sampled out).
// LESSON 14: the producer side of a queue.
pub fn producer_span(destination: &str, parent: Context) -> Span {
    let span = tracing::info_span!(
        "messaging",
        otel.name = %format!("send {destination}"),
        otel.kind = "producer",
        { MESSAGING_SYSTEM } = "redis",
        { MESSAGING_DESTINATION_NAME } = destination,
        { MESSAGING_OPERATION_NAME } = "send",
        { MESSAGING_OPERATION_TYPE } = "send",
        { MESSAGING_MESSAGE_ID } = Empty,
    );
    if let Err(error) = span.set_parent(parent) {
        propagation::warn_parent_not_set(&error);
    }
    span
}

/// The CONSUMER span of processing message `message_id` from `destination`
/// in consumer group `group`, continuing `parent` (the entry's context).
// LESSON 14: the consumer side: a child of the producer, in the same trace.
pub fn consumer_span(destination: &str, group: &str, message_id: &str, parent: Context) -> Span {
    let span = tracing::info_span!(
        "messaging",
        otel.name = %format!("process {destination}"),
        otel.kind = "consumer",
        { MESSAGING_SYSTEM } = "redis",
        { MESSAGING_DESTINATION_NAME } = destination,
        { MESSAGING_OPERATION_NAME } = "process",
        { MESSAGING_OPERATION_TYPE } = "process",
        { MESSAGING_CONSUMER_GROUP_NAME } = group,
        { MESSAGING_MESSAGE_ID } = message_id,
    );
    if let Err(error) = span.set_parent(parent) {
        propagation::warn_parent_not_set(&error);
    }
    span
}

/// Records the id the broker gave a sent message.
pub fn record_message_id(span: &Span, id: &str) {
    span.record(MESSAGING_MESSAGE_ID, id);
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry::KeyValue;

    fn sampled_context() -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ))
    }

    #[test]
    fn fields_round_trip_without_fault_baggage() {
        propagation::install_propagators();
        let cx = sampled_context().with_baggage(vec![
            KeyValue::new("request.source", "test"),
            KeyValue::new(fault::FAIL_AT, "user-service"),
        ]);
        let fields = context_fields(&cx);
        let get = |name: &str| {
            fields
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(
            get("traceparent"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert!(get("tracestate").is_none(), "empty tracestate is left out");
        let back = context_from_fields(get);
        assert!(has_parent(&back));
        assert_eq!(
            back.span().span_context().trace_id(),
            cx.span().span_context().trace_id()
        );
        assert_eq!(
            back.baggage().get("request.source").map(|v| v.as_str()),
            Some("test")
        );
        assert!(back.baggage().get(fault::FAIL_AT).is_none());
    }

    #[test]
    fn missing_or_garbage_traceparent_gives_no_parent() {
        propagation::install_propagators();
        assert!(!has_parent(&context_from_fields(|_| None)));
        assert!(!has_parent(&context_from_fields(|name| {
            (name == "traceparent").then_some("00-zzz-0-01")
        })));
        assert!(context_fields(&Context::new()).is_empty());
    }
}
