//! Carrying the trace across process boundaries: W3C `traceparent`,
//! `baggage` and `traceresponse` headers.
//!
//! A trace is one tree of spans across many processes. The only thing that
//! ties a span in user-service to its parent in order-service is a header:
//!
//! ```text
//! traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//!              ^^ ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ ^^^^^^^^^^^^^^^^ ^^
//!         version          trace id                parent span id  flags (01 = sampled)
//! ```
//!
//! The caller *injects* its current context into the outgoing headers, the
//! callee *extracts* it and makes it the parent of its SERVER span. The two
//! small adapters below are all it takes to teach the OpenTelemetry
//! propagators to read and write `http::HeaderMap`.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapCompositePropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::{global, Context};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Installs the W3C TraceContext + Baggage propagators for this process.
pub fn install_propagators() {
    global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
}

/// Lets a propagator read headers of an incoming request.
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        // A header that is not valid ASCII is treated as absent: a garbage
        // `traceparent` must start a new trace, never fail the request.
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Lets a propagator write headers of an outgoing request.
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The remote parent context (trace context and baggage) sent by the caller.
/// Empty when the caller sent nothing usable.
pub fn extract(headers: &HeaderMap) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)))
}

/// Writes `cx` (its span as the parent, and its baggage) into `headers`.
pub fn inject(cx: &Context, headers: &mut HeaderMap) {
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(cx, &mut HeaderInjector(headers))
    });
}

/// The span context of the current `tracing` span (starting it if needed).
pub fn current_span_context() -> SpanContext {
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .clone()
}

/// The current trace id as 32 lowercase hex digits, or 32 zeros outside any
/// trace.
pub fn current_trace_id() -> String {
    current_span_context().trace_id().to_string()
}

/// `traceresponse` header value (W3C Trace Context Level 2): tells the
/// caller which trace its request became, even when the caller sent none.
pub fn traceresponse(span_context: &SpanContext) -> Option<HeaderValue> {
    if !span_context.is_valid() {
        return None;
    }
    let value = format!(
        "00-{}-{}-{:02x}",
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags().to_u8()
    );
    HeaderValue::from_str(&value).ok()
}
