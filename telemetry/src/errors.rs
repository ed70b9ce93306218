//! Recording an error on a span, the way the OpenTelemetry conventions ask.
//!
//! A failed span gets two things: status ERROR (with a short description)
//! and an `exception` event carrying `exception.type` and
//! `exception.message`. Jaeger shows the first as a red span and the second
//! in the span's logs. The `tracing` bridge could set the status from an
//! `error!` log line, but it would not add `exception.type`, and it would mark
//! every error log, so we do it explicitly here.

use opentelemetry::trace::Status;
use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE,
};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Marks `span` as failed with an `exception` event.
///
/// `error_type` is a short, stable name for the kind of failure (e.g.
/// `InjectedFailure`, `sqlx::Error`); `message` is the human detail. The
/// message may hold internal text: spans and logs are for operators, and it
/// never reaches the HTTP client.
pub fn record_exception(span: &Span, error_type: &str, message: &str) {
    span.set_status(Status::error(message.to_string()));
    span.set_attribute(ERROR_TYPE, error_type.to_string());
    span.add_event(
        "exception",
        vec![
            KeyValue::new(EXCEPTION_TYPE, error_type.to_string()),
            KeyValue::new(EXCEPTION_MESSAGE, message.to_string()),
        ],
    );
}

/// Marks `span` as failed without an exception (e.g. a CLIENT span whose
/// peer answered 4xx: nothing was thrown, but the call did not succeed).
pub fn record_error_status(span: &Span, error_type: &str, description: &str) {
    span.set_status(Status::error(description.to_string()));
    span.set_attribute(ERROR_TYPE, error_type.to_string());
}
