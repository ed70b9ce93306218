//! The public API. The gateway owns no data: it checks the request, turns
//! `?delay=` / `?fail=` into baggage, forwards to order-service, and shapes
//! the answer (with the `trace_id`, so a learner can paste it into Jaeger).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use service_kit::{ApiId, ApiJson, ApiQuery};
use telemetry::fault::FaultPlan;
use tracing::info_span;

use crate::error::ApiError;
use crate::{AppState, SERVICE_NAME};

/// Keys of an order in every gateway response (plus `trace_id`).
const ORDER_KEYS: [&str; 7] = [
    "order_id",
    "user_id",
    "sku",
    "product",
    "quantity",
    "total_cents",
    "status",
];

/// The fault-injection parameters every route takes: `?delay=`,
/// `&delay_at=`, `&fail=` (checked by [`FaultPlan::from_query`]).
#[derive(Debug, Default, Deserialize)]
pub struct FaultQuery {
    pub delay: Option<String>,
    pub delay_at: Option<String>,
    pub fail: Option<String>,
}

impl FaultQuery {
    /// The plan these parameters describe; `default_delay_at` is where a
    /// `delay` without `delay_at` happens on this route.
    fn plan(&self, default_delay_at: &str) -> Result<FaultPlan, ApiError> {
        Ok(FaultPlan::from_query(
            self.delay.as_deref(),
            self.delay_at.as_deref(),
            self.fail.as_deref(),
            default_delay_at,
        )?)
    }
}

/// Query of `GET /orders`, beside the fault parameters.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    pub user_id: Option<String>,
}

/// `POST /orders`: forward a new order to order-service.
pub async fn create_order(
    State(state): State<AppState>,
    ApiQuery(faults): ApiQuery<FaultQuery>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let plan = faults.plan("inventory-service")?;
    let Some(fields) = body.as_object() else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object like {\"user_id\": \"1\", \"product\": \"Laptop\", \"quantity\": 1}"
                .to_string(),
        ));
    };
    // order-service checks the order; text that could never be valid (a NUL
    // byte, control characters) is refused here, at the edge.
    for (field, value) in fields {
        if let Value::String(text) = value {
            service_kit::text::check_text(field, text).map_err(ApiError::BadRequest)?;
        }
    }
    plan.delay(SERVICE_NAME).await;
    plan.fail(SERVICE_NAME)?;

    let order = state.orders.create_order(&body, &plan).await?;
    Ok((StatusCode::CREATED, Json(format_response(&order))))
}

/// `GET /orders/{id}`: fetch an order from order-service.
pub async fn get_order(
    State(state): State<AppState>,
    ApiId(id): ApiId,
    ApiQuery(faults): ApiQuery<FaultQuery>,
) -> Result<Json<Value>, ApiError> {
    let plan = faults.plan("order-service")?;
    plan.delay(SERVICE_NAME).await;
    plan.fail(SERVICE_NAME)?;

    let order = state.orders.get_order(id, &plan).await?;
    Ok(Json(format_response(&order)))
}

/// `GET /orders?user_id=`: a user's order history from order-service.
pub async fn list_orders(
    State(state): State<AppState>,
    ApiQuery(faults): ApiQuery<FaultQuery>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let plan = faults.plan("order-service")?;
    let user_id = service_kit::rules::user_id(query.user_id.as_deref().unwrap_or_default())
        .map_err(ApiError::BadRequest)?;
    plan.delay(SERVICE_NAME).await;
    plan.fail(SERVICE_NAME)?;

    let history = state.orders.orders_of_user(user_id, &plan).await?;
    let orders: Vec<Value> = history["orders"]
        .as_array()
        .map(|orders| orders.iter().map(order_fields).collect())
        .unwrap_or_default();
    Ok(Json(json!({
        "orders": orders,
        "trace_id": telemetry::current_trace_id(),
    })))
}

/// The response body: the order's public fields plus this trace's id.
fn format_response(order: &Value) -> Value {
    info_span!("format_response").in_scope(|| {
        let mut body = order_fields(order);
        body["trace_id"] = telemetry::current_trace_id().into();
        body
    })
}

/// Exactly the public keys of an order (internal ones never leak through).
fn order_fields(order: &Value) -> Value {
    let fields: Map<String, Value> = ORDER_KEYS
        .iter()
        .map(|key| {
            (
                key.to_string(),
                order.get(*key).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    Value::Object(fields)
}
