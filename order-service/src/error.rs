//! One error type for the whole service: how each case looks to the client
//! (status + sentence) and how it is described for the trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::postgres::DbError;
use telemetry::client::CallError;
use telemetry::fault::InjectedFailure;
use telemetry::server::Failure;

use crate::SERVICE_NAME;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("no order with id {0}")]
    UnknownOrder(i64),
    #[error(transparent)]
    Downstream(#[from] CallError),
    #[error(transparent)]
    Injected(#[from] InjectedFailure),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// `exception.type` / `error.type` for this error.
    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::UnknownOrder(_) => "UnknownOrder",
            ApiError::Downstream(error) => error.kind(),
            ApiError::Injected(_) => "InjectedFailure",
            ApiError::Database(error) => error.kind(),
            ApiError::Internal(_) => "Internal",
        }
    }

    /// The status and the sentence the client gets (5xx: never internal text).
    fn public(&self) -> (StatusCode, String) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, self.to_string()),
            ApiError::UnknownOrder(_) => (StatusCode::NOT_FOUND, self.to_string()),
            ApiError::Downstream(error) => (error.status(), error.to_string()),
            ApiError::Injected(_) => (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()),
            ApiError::Database(error) => (error.status(), error.public_message(SERVICE_NAME)),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{SERVICE_NAME} failed unexpectedly"),
            ),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Database(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = self.public();
        let detail = match &self {
            ApiError::Downstream(error) => error.detail(),
            other => other.to_string(),
        };
        // Describe the failure; the tracing layer records it on the span
        // (`telemetry::server::trace_requests`).
        service_kit::failure_response(status, message, Failure::new(self.kind(), detail))
    }
}
