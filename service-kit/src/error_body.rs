//! The one shape of every error answer:
//! `{"error": "<a human sentence>", "trace_id": "<32 hex>"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

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
