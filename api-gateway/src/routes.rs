//! The public API. The gateway owns no data: it checks the request, turns
//! `?delay=` / `?fail=` into baggage, forwards to order-service, and shapes
//! the answer (with the `trace_id`, so a learner can paste it into Jaeger).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};
use service_kit::{ApiJson, ApiPath};
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

/// `POST /orders`: forward a new order to order-service.
pub async fn create_order(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let plan = fault_plan(query.as_deref(), "inventory-service")?;
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
    ApiPath(raw_id): ApiPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let plan = fault_plan(query.as_deref(), "order-service")?;
    let id: i64 = raw_id.trim().parse().map_err(|_| {
        ApiError::BadRequest(format!("order id must be an integer, got {raw_id:?}"))
    })?;
    plan.delay(SERVICE_NAME).await;
    plan.fail(SERVICE_NAME)?;

    let order = state.orders.get_order(id, &plan).await?;
    Ok(Json(format_response(&order)))
}

/// `GET /orders?user_id=`: a user's order history from order-service.
pub async fn list_orders(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let plan = fault_plan(query.as_deref(), "order-service")?;
    let raw = query_value(query.as_deref(), "user_id").unwrap_or_default();
    let user_id = raw
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ApiError::BadRequest(format!("user_id must be a positive integer, got {raw:?}"))
        })?;
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

/// The first value of `key` in the query string.
fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, value)| value.into_owned())
}

/// Reads `delay`, `delay_at` and `fail` from the query string.
fn fault_plan(query: Option<&str>, default_delay_at: &str) -> Result<FaultPlan, ApiError> {
    let (mut delay, mut delay_at, mut fail) = (None, None, None);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "delay" => delay = Some(value.into_owned()),
            "delay_at" => delay_at = Some(value.into_owned()),
            "fail" => fail = Some(value.into_owned()),
            _ => {}
        }
    }
    let plan = FaultPlan::from_query(
        delay.as_deref(),
        delay_at.as_deref(),
        fail.as_deref(),
        default_delay_at,
    )?;
    Ok(plan)
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
