//! The sink's web page, on the query port next to the Jaeger API: the
//! no-Docker stand-in for Jaeger's UI. Server-rendered HTML with an inline
//! stylesheet and a few lines of vanilla JS, so it works offline.
//!
//! - [`list`]: `/`, recent traces, filtered by `?service=` and `?min_ms=`.
//! - [`trace`]: `/trace/{id}`, the waterfall, each span's details on click.
//! - [`map`]: `/map`, the service map (calls, errors and p50 per edge).
//! - [`operations`]: `/operations`, rate, errors and p50/p95/p99 per
//!   operation, each percentile a link to a trace that shows it.
//! - [`diff`]: `/diff/{a}/{b}`, two traces compared ([`crate::compare`]).
//! - [`html`]: escaping, the page shell, colours, the 404 page.

pub mod diff;
pub mod html;
pub mod list;
pub mod map;
pub mod operations;
pub mod trace;

use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::otlp::{lock, SharedStore};
use crate::model::{Trace, TraceId};

/// How many recent traces the list and the map look at.
const RECENT: usize = 2_000;

pub fn router(store: SharedStore) -> Router {
    Router::new()
        .route("/", get(list::page))
        .route("/trace/{id}", get(trace::page))
        .route("/map", get(map::page))
        .route("/operations", get(operations::page))
        .route("/diff", get(diff::pick))
        .route("/diff/{a}/{b}", get(diff::page))
        .fallback(not_found)
        .with_state(store)
}

async fn not_found() -> Response {
    html::not_found("There is no page here.")
}

/// A stored trace by the id in the URL, or what the 404 page should say.
pub fn find(store: &SharedStore, id: &str) -> Result<Trace, String> {
    let id = TraceId::parse(id).map_err(|e| e.to_string())?;
    lock(store).get(&id).ok_or_else(|| {
        format!("Trace {id} is not in the sink (it keeps recent traces in memory only).")
    })
}

fn recent(store: &SharedStore) -> Vec<Trace> {
    lock(store).recent(RECENT)
}
