//! `GET /orders?user_id=`: a user's order history.
//!
//! The orders come from Postgres, the products' current names from
//! inventory-service, in one batch call however many orders there are: the
//! history is the workshop's place to see what one call per order (an N+1)
//! does to a trace (lesson 08).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use service_kit::{rules, ApiQuery};
use telemetry::fault;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::db::{self, Order};
use crate::error::ApiError;
use crate::{AppState, SERVICE_NAME};

/// Query of `GET /orders`.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    pub user_id: Option<String>,
}

/// `GET /orders?user_id=`: a user's order history.
#[derive(Debug, Serialize)]
pub struct HistoryResponse {
    pub orders: Vec<Order>,
    pub trace_id: String,
}

/// `GET /orders?user_id=`: the user's orders, newest first, each with its
/// product's current name from inventory-service.
pub async fn list_orders(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryResponse>, ApiError> {
    state.db.require_ready()?;
    fault::inject(SERVICE_NAME).await?;
    let user_id = rules::user_id(query.user_id.as_deref().unwrap_or_default())
        .map_err(ApiError::BadRequest)?;
    tracing::Span::current().set_attribute("user.id", user_id);
    // An unknown user is a 404 from user-service, passed on.
    state.users.get_user(user_id).await?;

    let mut orders = db::orders_of_user(&state.db, user_id).await?;
    if !orders.is_empty() {
        // LESSON 08: one call for all the products, however many orders.
        let mut skus: Vec<&str> = orders.iter().map(|order| order.sku.as_str()).collect();
        skus.sort_unstable();
        skus.dedup();
        let products = state.inventory.products(&skus).await?;
        for order in &mut orders {
            if let Some(product) = products.iter().find(|p| p.sku == order.sku) {
                order.product = product.name.clone();
            }
        }
    }
    tracing::Span::current().set_attribute("order.count", orders.len() as i64);
    Ok(Json(HistoryResponse {
        orders,
        trace_id: telemetry::current_trace_id(),
    }))
}
