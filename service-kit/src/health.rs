//! `/health`: can this service serve right now?
//!
//! 200 `{"status":"ok"}` when Postgres answers, 503 when it does not.
//! A cache (Redis) being down is not fatal: user-service answers 200
//! `{"status":"degraded"}` and serves from Postgres. Health checks are
//! mounted outside the tracing middleware: a probe every few seconds would
//! drown the interesting traces.

use std::process::ExitCode;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The answer to `GET /health` given what is reachable.
pub fn response(postgres_ok: bool, cache_ok: Option<bool>) -> Response {
    let (status, body) = status(postgres_ok, cache_ok);
    (status, axum::Json(body)).into_response()
}

/// The status code and JSON body of `GET /health`, for a service that adds
/// keys of its own beside `status` (user-service: `consumer_pending`).
pub fn status(postgres_ok: bool, cache_ok: Option<bool>) -> (StatusCode, serde_json::Value) {
    match (postgres_ok, cache_ok) {
        (false, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "postgres": "unreachable"}),
        ),
        (true, Some(false)) => (
            StatusCode::OK,
            json!({"status": "degraded", "redis": "unreachable"}),
        ),
        (true, _) => (StatusCode::OK, json!({"status": "ok"})),
    }
}

/// `<binary> --health`: asks the local service (on `PORT`, else
/// `default_port`) for `/health`; success when it answers 200. Container
/// images have no curl: the binary itself is the healthcheck.
pub async fn probe(default_port: u16) -> ExitCode {
    let port = crate::config::parse_env("PORT", default_port).unwrap_or(default_port);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build();
    let Ok(client) = client else {
        return ExitCode::FAILURE;
    };
    match client
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
    {
        Ok(response) if response.status() == StatusCode::OK => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}
