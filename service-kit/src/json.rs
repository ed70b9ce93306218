//! JSON in, JSON out, including when the input is wrong.
//!
//! axum's own `Json` extractor answers bad input with a plain-text body.
//! Learners (and outside checks) expect every error as
//! `{"error": "<a sentence>", "trace_id": "<32 hex>"}`, so [`ApiJson`] wraps
//! it and turns each rejection into that shape with the right status.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use telemetry::server::ErrorRecorded;

/// The body of every error response.
#[derive(Debug, Serialize, serde::Deserialize)]
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

/// `axum::Json`, but rejections are JSON errors too.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejection_response(rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path`, but a path it cannot decode (`/orders/%FF`) gets
/// a JSON 400 too, instead of axum's plain-text one.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => {
                let message = format!("the URL path is not valid: {}", rejection.body_text());
                tracing::info!(%message, "rejected request path");
                Err(error_response(StatusCode::BAD_REQUEST, message))
            }
        }
    }
}

fn rejection_response(rejection: JsonRejection) -> Response {
    let (status, message) = match &rejection {
        JsonRejection::MissingJsonContentType(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON with the header Content-Type: application/json".to_string(),
        ),
        JsonRejection::JsonSyntaxError(_) => (
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {}", rejection.body_text()),
        ),
        JsonRejection::JsonDataError(_) => (
            StatusCode::BAD_REQUEST,
            format!(
                "the JSON does not have the expected fields: {}",
                rejection.body_text()
            ),
        ),
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is too large".to_string(),
            )
        }
        _ => (
            StatusCode::BAD_REQUEST,
            format!("could not read the request body: {}", rejection.body_text()),
        ),
    };
    tracing::info!(status = i64::from(status.as_u16()), %message, "rejected request body");
    error_response(status, message)
}

/// The response for a failed request: records the error (see below), then
/// answers `status` with `{"error": message, "trace_id": ...}`.
///
/// Recording: on a 5xx the current (SERVER) span gets status ERROR and an
/// `exception` event whose `exception.type` is `error_type` and whose
/// message is `detail` (internal text is fine there: it goes to the span and
/// the log, never to the client), plus an ERROR log line. On a 4xx only an
/// INFO log line: per the HTTP conventions a client's mistake is not a
/// server failure.
pub fn failure_response(
    status: StatusCode,
    error_type: &str,
    detail: &str,
    message: impl Into<String>,
) -> Response {
    let status_code = i64::from(status.as_u16());
    let mut response = error_response(status, message);
    if status.is_server_error() {
        telemetry::errors::record_exception(&tracing::Span::current(), error_type, detail);
        tracing::error!(status = status_code, error.type = error_type, error = detail, "request failed");
        // Tells the server middleware the span already says why.
        response.extensions_mut().insert(ErrorRecorded);
    } else {
        tracing::info!(status = status_code, error.type = error_type, error = detail, "request rejected");
    }
    response
}
