//! The part of Jaeger's HTTP query API that `lab` (and curl) use, served
//! from the sink's memory with Jaeger v2.20's JSON shapes:
//!
//! - `GET /api/traces/{id}`: one trace, 404 with an error JSON if unknown;
//! - `GET /api/traces?service=..&operation=..&limit=..&start=..&end=..&lookback=..`:
//!   search, most recent first (`service` is required, as in Jaeger);
//! - `GET /api/services` and `GET /api/services/{service}/operations`.
//!
//! So `cargo lab trace` and `cargo lab check` work the same against the sink
//! and against a real Jaeger.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::otlp::{lock, SharedStore};
use super::store::Search;
use crate::model::jaeger::{to_jaeger, Envelope, JTrace};
use crate::model::TraceId;

/// Jaeger's default number of search results.
const DEFAULT_LIMIT: usize = 100;

pub fn router(store: SharedStore) -> Router {
    Router::new()
        .route("/api/services", get(services))
        .route("/api/services/{service}/operations", get(operations))
        .route("/api/traces", get(search))
        .route("/api/traces/{id}", get(trace_by_id))
        .with_state(store)
}

async fn services(State(store): State<SharedStore>) -> Json<Envelope<Vec<String>>> {
    let names = lock(&store).services();
    let total = names.len() as u64;
    Json(Envelope::ok(names, total))
}

async fn operations(
    State(store): State<SharedStore>,
    Path(service): Path<String>,
) -> Json<Envelope<Vec<String>>> {
    let query = Search {
        service: service.clone(),
        operation: None,
        start_us: None,
        end_us: None,
        limit: usize::MAX,
    };
    let mut names: Vec<String> = lock(&store)
        .search(&query)
        .iter()
        .flat_map(|t| t.spans.iter())
        .filter(|s| s.service() == service)
        .map(|s| s.name.clone())
        .collect();
    names.sort();
    names.dedup();
    let total = names.len() as u64;
    Json(Envelope::ok(names, total))
}

async fn trace_by_id(State(store): State<SharedStore>, Path(id): Path<String>) -> Response {
    let id = match TraceId::parse(&id) {
        Ok(id) => id,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let trace = lock(&store).get(&id);
    match trace {
        Some(trace) => Json(Envelope::ok(vec![to_jaeger(&trace)], 0)).into_response(),
        None => error(StatusCode::NOT_FOUND, "trace not found".to_string()),
    }
}

async fn search(
    State(store): State<SharedStore>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let query = match parse_search(&params, now_us()) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let traces: Vec<JTrace> = lock(&store).search(&query).iter().map(to_jaeger).collect();
    let total = traces.len() as u64;
    Json(Envelope::ok(traces, total)).into_response()
}

/// Reads the search parameters; the message of an error is sent back as is.
pub fn parse_search(params: &HashMap<String, String>, now_us: u64) -> Result<Search, String> {
    let get = |key: &str| params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let number = |key: &str| -> Result<Option<u64>, String> {
        get(key)
            .map(|v| v.parse::<u64>())
            .transpose()
            .map_err(|_| format!("parameter '{key}' must be a whole number"))
    };
    let service = get("service")
        .ok_or("parameter 'service' is required")?
        .to_string();
    let mut start_us = number("start")?;
    if start_us.is_none() {
        if let Some(lookback) = get("lookback") {
            let back = parse_lookback(lookback)
                .ok_or_else(|| format!("cannot parse lookback {lookback:?} (try 1h, 30m, 2d)"))?;
            start_us = Some(now_us.saturating_sub(back));
        }
    }
    Ok(Search {
        service,
        operation: get("operation").map(str::to_string),
        start_us,
        end_us: number("end")?,
        limit: number("limit")?
            .map(|l| l as usize)
            .filter(|l| *l > 0)
            .unwrap_or(DEFAULT_LIMIT),
    })
}

/// `30s`, `15m`, `1h`, `2d` → microseconds.
fn parse_lookback(text: &str) -> Option<u64> {
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(unit_at);
    let seconds: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(seconds * 1_000_000)
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Jaeger's error shape: `{"data":null,...,"errors":[{"code":404,"msg":"..."}]}`.
fn error(status: StatusCode, message: String) -> Response {
    let body: Envelope<()> = Envelope::error(status.as_u16(), message);
    (status, Json(body)).into_response()
}
