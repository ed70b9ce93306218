//! Reading another service's answer, and what its failures become here.
//!
//! | downstream answered            | we answer                              |
//! |--------------------------------|----------------------------------------|
//! | 2xx                            | (success: the parsed body)             |
//! | 4xx `{"error": s}`             | the same status and sentence `s`       |
//! | 5xx `{"error": s}`             | 502 "`service` failed: `s`"            |
//! | nothing (refused, timed out)   | 503 "`service` is unreachable"         |
//!
//! The CLIENT span of the call has already recorded the error (see
//! `telemetry::client`); this only decides what our caller sees.

use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::json::ErrorBody;

/// A call to another service that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{service} is unreachable")]
    Unreachable {
        service: &'static str,
        detail: String,
    },
    #[error("{service} failed: {message}")]
    Failed {
        service: &'static str,
        status: StatusCode,
        message: String,
    },
    #[error("{message}")]
    Rejected {
        service: &'static str,
        status: StatusCode,
        message: String,
    },
}

impl CallError {
    /// The status we answer with (see the module docs).
    pub fn status(&self) -> StatusCode {
        match self {
            CallError::Unreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            CallError::Failed { .. } => StatusCode::BAD_GATEWAY,
            CallError::Rejected { status, .. } => *status,
        }
    }

    /// A stable `exception.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Unreachable { .. } => "DownstreamUnreachable",
            CallError::Failed { .. } => "DownstreamFailed",
            CallError::Rejected { .. } => "DownstreamRejected",
        }
    }

    /// Internal detail for the span and the log (not for the client).
    pub fn detail(&self) -> String {
        match self {
            CallError::Unreachable { service, detail } => format!("{service}: {detail}"),
            other => other.to_string(),
        }
    }
}

/// Turns the result of a call to `service` into its JSON body or a
/// [`CallError`].
pub async fn read_json<T: DeserializeOwned>(
    service: &'static str,
    result: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, CallError> {
    let response = result.map_err(|error| CallError::Unreachable {
        service,
        detail: error.to_string(),
    })?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| CallError::Unreachable {
            service,
            detail: error.to_string(),
        })?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|error| CallError::Failed {
            service,
            status: StatusCode::BAD_GATEWAY,
            message: format!("unexpected response ({error})"),
        });
    }
    let message = serde_json::from_slice::<ErrorBody>(&bytes)
        .map(|body| body.error)
        .unwrap_or_else(|_| format!("HTTP {}", status.as_u16()));
    let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    if status.is_client_error() {
        Err(CallError::Rejected {
            service,
            status,
            message,
        })
    } else {
        Err(CallError::Failed {
            service,
            status,
            message,
        })
    }
}
