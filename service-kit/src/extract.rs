//! JSON in, JSON out, including when the input is wrong.
//!
//! axum's own `Json` extractor answers bad input with a plain-text body.
//! Learners (and outside checks) expect every error as
//! `{"error": "<a sentence>", "trace_id": "<32 hex>"}`, so [`ApiJson`] wraps
//! it and turns each rejection into that shape with the right status;
//! [`ApiPath`] and [`ApiQuery`] do the same for path parameters and the
//! query string, and [`ApiId`] reads a path id by the one id rule
//! ([`crate::rules::id`]).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error_body::error_response;
use crate::rules;

/// `axum::Json`, but rejections are JSON errors too.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejection_response(rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path`, but a path it cannot decode (`/orders/%FF`) gets
/// a JSON 400 too, instead of axum's plain-text one.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => {
                let message = format!("the URL path is not valid: {}", rejection.body_text());
                tracing::info!(%message, "rejected request path");
                Err(error_response(StatusCode::BAD_REQUEST, message))
            }
        }
    }
}

/// The `{id}` of a route such as `/orders/{id}`: an integer. Any other
/// value is a JSON 400 saying so, the same at every service, before the
/// handler runs; an integer that names nothing is the handler's 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiId(pub i64);

impl<S> FromRequestParts<S> for ApiId
where
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiPath(raw) = ApiPath::<String>::from_request_parts(parts, state).await?;
        match rules::id("the id in the URL path", &raw) {
            Ok(id) => Ok(ApiId(id)),
            Err(message) => {
                tracing::info!(%message, "rejected request path");
                Err(error_response(StatusCode::BAD_REQUEST, message))
            }
        }
    }
}

/// `axum::extract::Query`, but a query string that does not fit `T` is a
/// JSON 400, instead of axum's plain-text one. Keys `T` does not name are
/// ignored.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection_response(rejection)),
        }
    }
}

fn query_rejection_response(rejection: QueryRejection) -> Response {
    let message = format!("the query string is not valid: {}", rejection.body_text());
    tracing::info!(%message, "rejected query string");
    error_response(StatusCode::BAD_REQUEST, message)
}

fn rejection_response(rejection: JsonRejection) -> Response {
    let (status, message) = match &rejection {
        JsonRejection::MissingJsonContentType(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON with the header Content-Type: application/json".to_string(),
        ),
        JsonRejection::JsonSyntaxError(_) => (
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {}", rejection.body_text()),
        ),
        JsonRejection::JsonDataError(_) => (
            StatusCode::BAD_REQUEST,
            format!(
                "the JSON does not have the expected fields: {}",
                rejection.body_text()
            ),
        ),
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is too large".to_string(),
            )
        }
        _ => (
            StatusCode::BAD_REQUEST,
            format!("could not read the request body: {}", rejection.body_text()),
        ),
    };
    tracing::info!(status = i64::from(status.as_u16()), %message, "rejected request body");
    error_response(status, message)
}
