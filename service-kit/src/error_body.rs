//! The one shape of every error answer:
//! `{"error": "<a human sentence>", "trace_id": "<32 hex>"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use telemetry::server::Failure;

/// The body of every error response.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: String,
    pub trace_id: String,
}

/// An error response: `status` with `{"error": message, "trace_id": ...}`.
/// The trace id is the current request's (its SERVER span is current here).
pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: message.into(),
        trace_id: telemetry::current_trace_id(),
    };
    (status, axum::Json(body)).into_response()
}

/// A service's error answer: [`error_response`] carrying the [`Failure`]
/// that describes it. The client reads `message`; the telemetry server layer
/// (`telemetry::server::trace_requests`) takes the failure out of the
/// response and records it on the SERVER span, so each service's
/// `IntoResponse` only says which status, which sentence and which failure.
pub fn failure_response(
    status: StatusCode,
    message: impl Into<String>,
    failure: Failure,
) -> Response {
    let mut response = error_response(status, message);
    response.extensions_mut().insert(failure);
    response
}
