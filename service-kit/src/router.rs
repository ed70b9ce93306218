//! The layers every service puts around its routes, in one place.

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{middleware, Router};
use tower_http::catch_panic::CatchPanicLayer;

use crate::json::error_response;

/// Largest request body accepted (413 above it). Orders are tiny.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Wraps a service's API routes with what every request needs.
///
/// From the outside in: the SERVER span (everything below runs inside it
/// and can report the trace id), panic → 500 JSON, the body size limit, and
/// JSON answers for unknown paths and methods. Routes added to the returned
/// router afterwards (`/health`) get none of this, and are not traced.
pub fn instrument(api: Router) -> Router {
    api.fallback(unknown_path)
        .method_not_allowed_fallback(unknown_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(telemetry::server::trace_requests))
}

async fn unknown_path() -> Response {
    error_response(StatusCode::NOT_FOUND, "no such endpoint")
}

async fn unknown_method() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not accept that HTTP method",
    )
}

/// A panic is a bug: answer 500 JSON (never the panic text) and record it.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("panic");
    crate::failure_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "panic",
        detail,
        "internal error",
    )
}
