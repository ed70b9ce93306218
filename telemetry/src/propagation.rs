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

use std::sync::Once;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapCompositePropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::{global, Context};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing_opentelemetry::{OpenTelemetrySpanExt, SetParentError};

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

/// Says, once per process, that `span.set_parent(cx)` failed.
///
/// tracing-opentelemetry starts the OpenTelemetry span (and asks the
/// sampler) when the `tracing` span is first entered, or when its context is
/// first read. After that the parent cannot change: `set_parent` returns
/// `Err(SetParentError::AlreadyStarted)` and the span keeps the parent it
/// started with (none: its trace splits off). Thrown away with `let _ =`,
/// that mistake is silent; logged, it is one warning to find. Once per
/// process: the same code path fails on every request. A span a filter
/// turned off (`SpanDisabled`) has no OpenTelemetry span to parent: not a
/// mistake, not logged.
pub fn warn_parent_not_set(error: &SetParentError) {
    static WARNED: Once = Once::new();
    warn_once(&WARNED, error);
}

fn warn_once(warned: &Once, error: &SetParentError) {
    if matches!(error, SetParentError::SpanDisabled) {
        return;
    }
    warned.call_once(|| match error {
        SetParentError::AlreadyStarted => tracing::warn!(
            %error,
            "set_parent came too late: the span had already started (it was entered, or its \
             context was read), so it keeps the parent it started with and its trace splits off; \
             set the parent right after creating the span (logged once per process)"
        ),
        _ => tracing::warn!(
            %error,
            "set_parent failed: the span keeps the parent it started with (logged once per process)"
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt;

    /// Lesson 05's pitfall: a parent set after the span started is
    /// refused, with an error that used to be thrown away.
    #[test]
    fn set_parent_after_the_span_started_is_refused() {
        let provider = SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let parent = || {
                let mut headers = HeaderMap::new();
                headers.insert(
                    "traceparent",
                    HeaderValue::from_static(
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    ),
                );
                opentelemetry_sdk::propagation::TraceContextPropagator::new()
                    .extract(&HeaderExtractor(&headers))
            };

            let early = tracing::info_span!("early");
            assert!(early.set_parent(parent()).is_ok());
            assert_eq!(
                early.context().span().span_context().trace_id().to_string(),
                "4bf92f3577b34da6a3ce929d0e0e4736"
            );

            let late = tracing::info_span!("late");
            // Entered (and left) once: that starts it.
            drop(late.enter());
            let error = late.set_parent(parent()).unwrap_err();
            assert!(matches!(error, SetParentError::AlreadyStarted), "{error}");
            assert_ne!(
                late.context().span().span_context().trace_id().to_string(),
                "4bf92f3577b34da6a3ce929d0e0e4736"
            );
        });
    }

    /// Counts the WARN events it sees.
    struct Warnings(Arc<AtomicUsize>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn a_refused_parent_is_logged_once_and_a_disabled_span_never() {
        let count = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry().with(Warnings(count.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let warned = Once::new();
            // Not a mistake: no warning, and the one warning is still to come.
            warn_once(&warned, &SetParentError::SpanDisabled);
            assert_eq!(count.load(Ordering::SeqCst), 0);
            for _ in 0..3 {
                warn_once(&warned, &SetParentError::AlreadyStarted);
            }
            assert_eq!(count.load(Ordering::SeqCst), 1);
        });
    }
}
