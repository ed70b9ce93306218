//! One error type for the whole service: how each case looks to the client
//! (status + sentence) and how it is described for the trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::postgres::DbError;
use telemetry::fault::InjectedFailure;
use telemetry::server::Failure;

use crate::db;
use crate::SERVICE_NAME;

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
    #[error(transparent)]
    Database(#[from] DbError),
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
            ApiError::Database(error) => error.kind(),
        }
    }

    /// The status and the sentence the client gets (5xx: never internal text).
    fn public(&self) -> (StatusCode, String) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, self.to_string()),
            ApiError::UnknownProduct(_) | ApiError::UnknownReservation(_) => {
                (StatusCode::NOT_FOUND, self.to_string())
            }
            ApiError::NotEnoughStock { .. } => (StatusCode::CONFLICT, self.to_string()),
            ApiError::Injected(_) => (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()),
            ApiError::Database(error) => (error.status(), error.public_message(SERVICE_NAME)),
        }
    }
}

/// The data layer's cases, as the client will see them.
impl From<db::Error> for ApiError {
    fn from(error: db::Error) -> Self {
        match error {
            db::Error::UnknownProduct(product) => ApiError::UnknownProduct(product),
            db::Error::NotEnoughStock {
                sku,
                requested,
                available,
            } => ApiError::NotEnoughStock {
                sku,
                requested,
                available,
            },
            db::Error::Database(error) => ApiError::Database(error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = self.public();
        // Describe the failure; the tracing layer records it on the span
        // (`telemetry::server::trace_requests`).
        let failure = Failure::new(self.kind(), self.to_string());
        service_kit::failure_response(status, message, failure)
    }
}
