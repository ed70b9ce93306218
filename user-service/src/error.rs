//! One error type for the whole service: how each case looks to the client
//! (status + sentence) and how it is described for the trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::postgres::DbError;
use telemetry::fault::InjectedFailure;
use telemetry::server::Failure;

use crate::SERVICE_NAME;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no user with id {0}")]
    UnknownUser(i64),
    #[error(transparent)]
    Injected(#[from] InjectedFailure),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl ApiError {
    /// `exception.type` / `error.type` for this error.
    fn kind(&self) -> &'static str {
        match self {
            ApiError::UnknownUser(_) => "UnknownUser",
            ApiError::Injected(_) => "InjectedFailure",
            ApiError::Database(error) => error.kind(),
        }
    }

    /// The status and the sentence the client gets (5xx: never internal text).
    fn public(&self) -> (StatusCode, String) {
        match self {
            ApiError::UnknownUser(_) => (StatusCode::NOT_FOUND, self.to_string()),
            ApiError::Injected(_) => (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()),
            ApiError::Database(error) => (error.status(), error.public_message(SERVICE_NAME)),
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
