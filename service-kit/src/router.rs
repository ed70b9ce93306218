//! The plumbing every service puts around its API routes, in one place.
//!
//! The tracing layer is *not* here: each service's `router()` mounts
//! `telemetry::server::trace_requests` itself, where a learner sees it.

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use telemetry::server::Failure;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error_body::error_response;

/// Largest request body accepted (413 above it). Orders are tiny.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// JSON answers for unknown paths and methods, the body size limit, and
/// panic → 500 JSON. Mount the tracing layer outside these, so a panic or a
/// 404 is still a request with a SERVER span and a trace id.
pub fn api_defaults(api: Router) -> Router {
    api.fallback(unknown_path)
        .method_not_allowed_fallback(unknown_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
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

/// A panic is a bug: answer 500 JSON (never the panic text); the tracing
/// layer records the panic's message on the span.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("panic");
    let mut response = error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
    response
        .extensions_mut()
        .insert(Failure::new("panic", detail));
    response
}
