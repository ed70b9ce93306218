//! One error type for the gateway, and how each case looks to the client
//! (status + sentence, always with the `trace_id`) and in the trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::downstream::CallError;
use telemetry::fault::{FaultError, InjectedFailure};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    BadFault(#[from] FaultError),
    #[error(transparent)]
    Downstream(#[from] CallError),
    #[error(transparent)]
    Injected(#[from] InjectedFailure),
}

impl ApiError {
    /// `exception.type` / `error.type` for this error.
    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::BadFault(_) => "BadFaultParameter",
            ApiError::Downstream(error) => error.kind(),
            ApiError::Injected(_) => "InjectedFailure",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) | ApiError::BadFault(_) => StatusCode::BAD_REQUEST,
            ApiError::Downstream(error) => error.status(),
            ApiError::Injected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let detail = match &self {
            ApiError::Downstream(error) => error.detail(),
            other => other.to_string(),
        };
        service_kit::failure_response(status, self.kind(), &detail, self.to_string())
    }
}
