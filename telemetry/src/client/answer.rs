//! Reading another service's answer, and what its failures become here.
//!
//! | downstream answered                      | we answer                            |
//! |------------------------------------------|--------------------------------------|
//! | 2xx with the expected JSON               | (success: the parsed body)           |
//! | 400, 404 or 409 `{"error": s}`           | the same status and sentence `s`     |
//! | 5xx `{"error": s}`                       | 502 "`service` failed: `s`"          |
//! | anything else (other 4xx, unexpected body) | 502 "`service` failed: ..." (a bug between us, not the client's fault) |
//! | nothing (refused, timed out)             | 503 "`service` is unreachable"       |
//!
//! The CLIENT span of the call has already recorded the error (see
//! [`super::ServiceClient`]); this only decides what our caller sees.

use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The error body every service in the workshop answers with.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// Statuses whose sentence is about the client's own request, so they are
/// passed on as they are: bad input, unknown user/product/order, no stock.
const PASSED_ON: [StatusCode; 3] = [
    StatusCode::BAD_REQUEST,
    StatusCode::NOT_FOUND,
    StatusCode::CONFLICT,
];

/// A call to another service that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer at all: refused, reset, timed out.
    #[error("{service} is unreachable")]
    Unreachable {
        service: &'static str,
        detail: String,
    },
    /// An answer that means the other service (or our use of it) is broken.
    /// `message` is safe to show; `detail` is for the span and the log.
    #[error("{service} failed: {message}")]
    Failed {
        service: &'static str,
        message: String,
        detail: String,
    },
    /// The other service refused the client's request (400/404/409): the
    /// client gets the same status and sentence.
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
            CallError::Failed { detail, .. } => detail.clone(),
            CallError::Rejected { .. } => self.to_string(),
        }
    }
}

/// Turns the result of a call to `service` into its JSON body or a
/// [`CallError`].
pub(crate) async fn read_json<T: DeserializeOwned>(
    service: &'static str,
    result: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, CallError> {
    let unreachable = |error: reqwest::Error| CallError::Unreachable {
        service,
        detail: error.to_string(),
    };
    let response = result.map_err(unreachable)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(unreachable)?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|error| CallError::Failed {
            service,
            message: "it answered with an unexpected response".to_string(),
            detail: format!("{service} answered HTTP {status} with a body we cannot read: {error}"),
        });
    }
    let sentence = serde_json::from_slice::<ErrorBody>(&bytes).map(|body| body.error);
    let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    match sentence {
        Ok(message) if PASSED_ON.contains(&status) => Err(CallError::Rejected {
            service,
            status,
            message,
        }),
        Ok(message) if status.is_server_error() => Err(CallError::Failed {
            service,
            detail: format!("{service} answered HTTP {}: {message}", status.as_u16()),
            message,
        }),
        _ => Err(CallError::Failed {
            service,
            message: format!("it answered HTTP {}", status.as_u16()),
            detail: format!(
                "{service} answered HTTP {} to our request: {}",
                status.as_u16(),
                String::from_utf8_lossy(&bytes)
            ),
        }),
    }
}

/// Like [`read_json`] for answers without a body (`204 No Content`).
pub(crate) async fn read_empty(
    service: &'static str,
    result: Result<reqwest::Response, reqwest::Error>,
) -> Result<(), CallError> {
    match result {
        Ok(response) if response.status().is_success() => Ok(()),
        other => read_json::<serde_json::Value>(service, other)
            .await
            .map(drop),
    }
}
