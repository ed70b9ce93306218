//! Jaeger's v3 query API, served from the sink's memory in OTLP JSON, as
//! newer Jaegers answer it (the lab's client reads either version):
//!
//! - `GET /api/v3/traces/{id}`: `{"result": {"resourceSpans": [...]}}`, or
//!   404 with `{"error": {"httpCode": 404, "message": ...}}`;
//! - `GET /api/v3/traces?query.service_name=..&query.start_time_min=<RFC 3339>
//!   &query.start_time_max=<RFC 3339>[&query.operation_name=..][&query.num_traces=..]`:
//!   one `{"result": ...}` document per trace, newline-separated, most recent
//!   first; 404 "No traces found" when none match, as Jaeger does;
//! - `GET /api/v3/services`: `{"services": [...]}`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::otlp::{lock, SharedStore};
use super::store::Search;
use crate::model::otlp::{to_otlp, V3Document, V3Error, V3Services};
use crate::model::TraceId;

pub fn router(store: SharedStore) -> Router {
    Router::new()
        .route("/api/v3/services", get(services))
        .route("/api/v3/traces", get(search))
        .route("/api/v3/traces/{id}", get(trace_by_id))
        .with_state(store)
}

async fn services(State(store): State<SharedStore>) -> Json<V3Services> {
    Json(V3Services {
        services: lock(&store).services(),
    })
}

async fn trace_by_id(State(store): State<SharedStore>, Path(id): Path<String>) -> Response {
    let id = match TraceId::parse(&id) {
        Ok(id) => id,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let trace = lock(&store).get(&id);
    match trace {
        Some(trace) => Json(V3Document {
            result: Some(to_otlp(&trace)),
            error: None,
        })
        .into_response(),
        None => error(StatusCode::NOT_FOUND, format!("trace {id} not found")),
    }
}

async fn search(
    State(store): State<SharedStore>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let query = match parse_search(&params) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let traces = lock(&store).search(&query);
    if traces.is_empty() {
        return error(StatusCode::NOT_FOUND, "No traces found".to_string());
    }
    let mut body = String::new();
    for trace in &traces {
        let document = V3Document {
            result: Some(to_otlp(trace)),
            error: None,
        };
        body.push_str(&serde_json::to_string(&document).unwrap_or_default());
        body.push('\n');
    }
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The v3 search parameters; both time bounds are required, as in Jaeger.
pub fn parse_search(params: &HashMap<String, String>) -> Result<Search, String> {
    let get = |key: &str| params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let time = |key: &str| -> Result<u64, String> {
        let text = get(key).ok_or_else(|| format!("parameter '{key}' is required"))?;
        crate::time::parse_us(text)
            .ok_or_else(|| format!("parameter '{key}' must be an RFC 3339 time, got {text:?}"))
    };
    let limit = get("query.num_traces")
        .or(get("query.search_depth"))
        .map(|v| v.parse::<usize>())
        .transpose()
        .map_err(|_| "query.num_traces must be a whole number".to_string())?;
    Ok(Search {
        service: get("query.service_name")
            .ok_or("parameter 'query.service_name' is required")?
            .to_string(),
        operation: get("query.operation_name").map(str::to_string),
        start_us: Some(time("query.start_time_min")?),
        end_us: Some(time("query.start_time_max")?),
        limit: limit.filter(|l| *l > 0).unwrap_or(100),
    })
}

fn error(status: StatusCode, message: String) -> Response {
    let body = V3Document {
        result: None,
        error: Some(V3Error {
            http_code: status.as_u16(),
            message,
        }),
    };
    (status, Json(body)).into_response()
}
