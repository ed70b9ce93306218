//! HTTP handlers: short, `?`-driven; the work is in `db.rs`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use service_kit::{rules, ApiId, ApiJson, ApiPath, ApiQuery};
use telemetry::fault;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::db::{self, Product, Reservation};
use crate::error::ApiError;
use crate::{AppState, SERVICE_NAME};

/// Body of `POST /inventory/reservations`.
#[derive(Debug, Deserialize)]
pub struct ReservationRequest {
    /// A product name (any case) or SKU.
    pub product: String,
    pub quantity: i64,
}

/// Query of `GET /inventory`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// `?skus=A,B,C`: only these products (a batch lookup).
    pub skus: Option<String>,
}

/// Most SKUs one batch lookup may name.
pub const MAX_SKUS: usize = 100;

/// `GET /inventory`: every product with its stock; with `?skus=A,B` only
/// those, in the order first named, each once (unknown SKUs left out).
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Product>>, ApiError> {
    state.db.require_ready()?;
    fault::inject(SERVICE_NAME).await?;
    let Some(skus) = query.skus else {
        return Ok(Json(db::list_products(&state.db).await?));
    };
    let skus = parse_skus(&skus)?;
    tracing::Span::current().set_attribute("product.count", skus.len() as i64);
    Ok(Json(db::find_products(&state.db, &skus).await?))
}

/// `A,B,A` → `[A, B]`: trimmed, each once, in the order first named.
fn parse_skus(list: &str) -> Result<Vec<String>, ApiError> {
    let mut skus: Vec<String> = Vec::new();
    for sku in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        service_kit::text::check_text("skus", sku).map_err(ApiError::BadRequest)?;
        if !skus.iter().any(|seen| seen.eq_ignore_ascii_case(sku)) {
            skus.push(sku.to_string());
        }
    }
    if skus.is_empty() || skus.len() > MAX_SKUS {
        return Err(ApiError::BadRequest(format!(
            "skus must list 1 to {MAX_SKUS} SKUs separated by commas, got {}",
            skus.len()
        )));
    }
    Ok(skus)
}

/// `GET /inventory/{sku}`: one product (by SKU or name).
pub async fn get(
    State(state): State<AppState>,
    ApiPath(sku): ApiPath<String>,
) -> Result<Json<Product>, ApiError> {
    state.db.require_ready()?;
    fault::inject(SERVICE_NAME).await?;
    service_kit::text::check_text("sku", &sku).map_err(ApiError::BadRequest)?;
    let span = tracing::Span::current();
    span.set_attribute("product.query", sku.clone());
    let product = db::find_product(&state.db, &sku)
        .await?
        .ok_or(ApiError::UnknownProduct(sku))?;
    span.set_attribute("product.sku", product.sku.clone());
    Ok(Json(product))
}

/// `POST /inventory/reservations`: take stock for an order.
pub async fn reserve(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ReservationRequest>,
) -> Result<(StatusCode, Json<Reservation>), ApiError> {
    state.db.require_ready()?;
    // LESSON 08: with `?delay=` the time is spent here, inside this span.
    fault::inject(SERVICE_NAME).await?;
    let quantity = rules::quantity(&request.quantity.into()).map_err(ApiError::BadRequest)?;
    service_kit::text::check_text("product", &request.product).map_err(ApiError::BadRequest)?;
    let span = tracing::Span::current();
    span.set_attribute("order.quantity", i64::from(quantity));

    let reservation = db::reserve(&state.db, request.product.trim(), quantity).await?;
    span.set_attribute("product.sku", reservation.sku.clone());
    span.set_attribute("reservation.id", reservation.reservation_id);
    tracing::info!(
        reservation.id = reservation.reservation_id,
        product.sku = %reservation.sku,
        quantity,
        "stock reserved"
    );
    Ok((StatusCode::CREATED, Json(reservation)))
}

/// `DELETE /inventory/reservations/{id}`: give the stock back.
pub async fn release(
    State(state): State<AppState>,
    ApiId(id): ApiId,
) -> Result<Response, ApiError> {
    state.db.require_ready()?;
    fault::inject(SERVICE_NAME).await?;
    match db::release(&state.db, id).await? {
        Some((sku, quantity)) => {
            tracing::info!(reservation.id = id, product.sku = %sku, quantity, "reservation released");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        None => Err(ApiError::UnknownReservation(id)),
    }
}
