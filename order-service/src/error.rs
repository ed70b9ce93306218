//! One error type for the whole service, and how each case looks to the
//! client (status + sentence) and in the trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::downstream::CallError;
use telemetry::fault::InjectedFailure;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(String),
    #[error("no order with id {0}")]
    UnknownOrder(i64),
    #[error(transparent)]
    Downstream(#[from] CallError),
    #[error(transparent)]
    Injected(#[from] InjectedFailure),
    #[error("the orders database is not ready")]
    NotReady(#[from] service_kit::postgres::NotReady),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// `exception.type` / `error.type` for this error.
    fn kind(&self) -> &'static str {
        match self {
            ApiError::Invalid(_) => "InvalidOrder",
            ApiError::UnknownOrder(_) => "UnknownOrder",
            ApiError::Downstream(error) => error.kind(),
            ApiError::Injected(_) => "InjectedFailure",
            ApiError::NotReady(_) => "DatabaseNotReady",
            ApiError::Database(_) => "sqlx::Error",
            ApiError::Internal(_) => "Internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unreachable = "order-service cannot reach its database; try again shortly";
        let (status, message) = match &self {
            ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, self.to_string()),
            ApiError::UnknownOrder(_) => (StatusCode::NOT_FOUND, self.to_string()),
            ApiError::Downstream(error) => (error.status(), error.to_string()),
            ApiError::Injected(_) => (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()),
            ApiError::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, unreachable.to_string()),
            ApiError::Database(error) if service_kit::postgres::is_unavailable(error) => {
                (StatusCode::SERVICE_UNAVAILABLE, unreachable.to_string())
            }
            ApiError::Database(_) | ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "order-service failed unexpectedly".to_string(),
            ),
        };
        let detail = match &self {
            ApiError::Downstream(error) => error.detail(),
            other => other.to_string(),
        };
        service_kit::failure_response(status, self.kind(), &detail, message)
    }
}
