//! One error type for the whole service, and how each case looks to the
//! client (status + sentence) and in the trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use telemetry::fault::InjectedFailure;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("user id must be a positive integer, got {0:?}")]
    BadUserId(String),
    #[error("no user with id {0}")]
    UnknownUser(i64),
    #[error(transparent)]
    Injected(#[from] InjectedFailure),
    #[error("the users database is not ready")]
    NotReady(#[from] service_kit::postgres::NotReady),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl ApiError {
    /// `exception.type` / `error.type` for this error.
    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadUserId(_) => "BadUserId",
            ApiError::UnknownUser(_) => "UnknownUser",
            ApiError::Injected(_) => "InjectedFailure",
            ApiError::NotReady(_) => "DatabaseNotReady",
            ApiError::Database(_) => "sqlx::Error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unreachable = "user-service cannot reach its database; try again shortly";
        let (status, message) = match &self {
            ApiError::BadUserId(_) => (StatusCode::BAD_REQUEST, self.to_string()),
            ApiError::UnknownUser(_) => (StatusCode::NOT_FOUND, self.to_string()),
            ApiError::Injected(_) => (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()),
            ApiError::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, unreachable.to_string()),
            ApiError::Database(error) if service_kit::postgres::is_unavailable(error) => {
                (StatusCode::SERVICE_UNAVAILABLE, unreachable.to_string())
            }
            ApiError::Database(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "user-service failed unexpectedly".to_string(),
            ),
        };
        service_kit::failure_response(status, self.kind(), &self.to_string(), message)
    }
}
