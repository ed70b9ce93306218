//! One error type for the gateway: how each case looks to the client
//! (status + sentence, always with the `trace_id`) and how it is described
//! for the trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use telemetry::client::CallError;
use telemetry::fault::{FaultError, InjectedFailure};
use telemetry::server::Failure;

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

    /// The status the client gets.
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::BadFault(_) => StatusCode::BAD_REQUEST,
            ApiError::Downstream(error) => error.status(),
            ApiError::Injected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail = match &self {
            ApiError::Downstream(error) => error.detail(),
            other => other.to_string(),
        };
        // Every sentence here is safe to show: a downstream failure carries
        // the other service's public sentence, never its internal text.
        let failure = Failure::new(self.kind(), detail);
        service_kit::failure_response(self.status(), self.to_string(), failure)
    }
}
