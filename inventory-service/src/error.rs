//! One error type for the whole service, and how each case looks to the
//! client (status + sentence) and in the trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use telemetry::fault::InjectedFailure;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("no product matches {0:?} (use a product name such as \"Laptop\" or a SKU)")]
    UnknownProduct(String),
    #[error("no reservation with id {0}")]
    UnknownReservation(i64),
    #[error("not enough stock for {sku}: {requested} requested, {available} available")]
    NotEnoughStock {
        sku: String,
        requested: i32,
        available: i32,
    },
    #[error(transparent)]
    Injected(#[from] InjectedFailure),
    #[error("the inventory database is not ready")]
    NotReady(#[from] service_kit::postgres::NotReady),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl ApiError {
    /// `exception.type` / `error.type` for this error.
    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::UnknownProduct(_) => "UnknownProduct",
            ApiError::UnknownReservation(_) => "UnknownReservation",
            ApiError::NotEnoughStock { .. } => "NotEnoughStock",
            ApiError::Injected(_) => "InjectedFailure",
            ApiError::NotReady(_) => "DatabaseNotReady",
            ApiError::Database(_) => "sqlx::Error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, self.to_string()),
            ApiError::UnknownProduct(_) | ApiError::UnknownReservation(_) => {
                (StatusCode::NOT_FOUND, self.to_string())
            }
            ApiError::NotEnoughStock { .. } => (StatusCode::CONFLICT, self.to_string()),
            ApiError::Injected(_) => (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()),
            ApiError::NotReady(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "inventory-service cannot reach its database; try again shortly".to_string(),
            ),
            ApiError::Database(error) if service_kit::postgres::is_unavailable(error) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "inventory-service cannot reach its database; try again shortly".to_string(),
            ),
            ApiError::Database(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "inventory-service failed unexpectedly".to_string(),
            ),
        };
        service_kit::failure_response(status, self.kind(), &self.to_string(), message)
    }
}
