//! HTTP handlers. `create_order` is the heart of the workshop's trace: read
//! it next to the trace in Jaeger, span by span. The order history
//! (`GET /orders?user_id=`) is a handler of its own, in `routes/history.rs`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use service_kit::{ApiId, ApiJson};
use telemetry::fault;
use tracing::{info_span, Instrument};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::db::{self, NewOrder, Order};
use crate::error::ApiError;
use crate::{AppState, SERVICE_NAME};

mod history;
mod validation;
pub use history::{list_orders, HistoryQuery, HistoryResponse};
pub use validation::{validate, CreateOrder, ValidOrder};

/// An order plus the trace it was made in.
#[derive(Debug, Serialize)]
pub struct OrderResponse {
    #[serde(flatten)]
    pub order: Order,
    pub trace_id: String,
}

/// `POST /orders`: validate, look up the user, reserve stock, price, save.
pub async fn create_order(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateOrder>,
) -> Result<(StatusCode, Json<OrderResponse>), ApiError> {
    state.db.require_ready()?;
    // `?fail=order-service` fails in `save_order`, after the reservation, to
    // show the compensation there; a delay happens here, at the start.
    let plan = fault::FaultPlan::current();
    plan.delay(SERVICE_NAME).await;
    let span = tracing::Span::current();

    // INTERNAL spans for the steps: in Jaeger they show where time goes,
    // and their attributes say what each step worked on.
    // LESSON 02: a manual span with business attributes.
    let validate_span = info_span!(
        "validate_order",
        user.id = tracing::field::Empty,
        order.quantity = tracing::field::Empty,
        product.name = tracing::field::Empty,
    );
    let order = validate_span.in_scope(|| validate(&body))?;
    validate_span.record("user.id", order.user_id);
    validate_span.record("order.quantity", i64::from(order.quantity));
    validate_span.record("product.name", order.product.as_str());
    span.set_attribute("user.id", order.user_id);
    span.set_attribute("order.quantity", i64::from(order.quantity));

    // From here on, stock gets reserved. If the client hung up half-way,
    // axum would drop this handler's future and a reservation could stay
    // behind without its order. A spawned task runs to the end whatever the
    // client does.
    // LESSON 15: the task runs on any worker thread, with nothing current;
    // `.instrument(span)` takes this request's span along into it.
    let saved = tokio::spawn(place_order(state, order, plan).instrument(span))
        .await
        .map_err(|error| ApiError::Internal(format!("the order task failed: {error}")))??;

    Ok((
        StatusCode::CREATED,
        Json(OrderResponse {
            order: saved,
            trace_id: telemetry::current_trace_id(),
        }),
    ))
}

/// The user check, the reservation, the price and the save: everything
/// after validation.
async fn place_order(
    state: AppState,
    order: ValidOrder,
    plan: fault::FaultPlan,
) -> Result<Order, ApiError> {
    let span = tracing::Span::current();
    let user = state.users.get_user(order.user_id).await?;
    let reservation = state
        .inventory
        .reserve(&order.product, order.quantity)
        .await?;
    span.set_attribute("product.sku", reservation.sku.clone());

    let total_cents = calculate_total(reservation.price_cents, reservation.quantity);

    let new_order = NewOrder {
        user_id: order.user_id,
        sku: reservation.sku.clone(),
        product: reservation.name.clone(),
        quantity: reservation.quantity,
        unit_price_cents: reservation.price_cents,
        total_cents,
        reservation_id: reservation.reservation_id,
    };
    let saved = save_order(&state, &new_order, &plan).await?;

    span.set_attribute("order.id", saved.order_id);
    // LESSON 03: an event marks a milestone inside a span.
    tracing::info!(
        order.id = saved.order_id,
        order.total_cents = saved.total_cents,
        user.tier = %user.tier,
        "order.confirmed"
    );
    Ok(saved)
}

/// The price step: unit price times quantity, in an INTERNAL span of its
/// own under the current span, with the total as `order.total_cents`
/// (int64: a backend can sum it, sort by it, compare it with a number).
// LESSON 17: routes/span_tests.rs proves this span in a unit test: its name,
// kind, typed attribute and parent. Break one and that test fails.
pub fn calculate_total(price_cents: i64, quantity: i32) -> i64 {
    info_span!("calculate_total", order.total_cents = tracing::field::Empty).in_scope(|| {
        let total = price_cents * i64::from(quantity);
        tracing::Span::current().record("order.total_cents", total);
        total
    })
}

/// Stores the order. If that fails, the stock reserved for it is released
/// again: nothing is left half done.
// LESSON 04: an error, its status and its exception event: `err` records
// the error this function returns on its span (telemetry/src/logging.rs
// turns it into the `exception` event).
// LESSON 16: the span comes from the attribute. Alone, `#[instrument]`
// would record every argument with `Debug`: the whole `AppState` and the
// order as one long string nobody can query. `skip_all` records none of
// them; `fields` says what the span carries, each value typed (`order.id`
// is declared empty and filled in once the order exists).
#[tracing::instrument(
    name = "save_order",
    skip_all,
    fields(
        user.id = order.user_id,
        order.total_cents = order.total_cents,
        order.id = tracing::field::Empty,
    ),
    err
)]
async fn save_order(
    state: &AppState,
    order: &NewOrder,
    plan: &fault::FaultPlan,
) -> Result<Order, ApiError> {
    let result = match plan.fail(SERVICE_NAME) {
        Err(injected) => Err(ApiError::from(injected)),
        // The event keeps this span's context: the relay's PRODUCER span
        // continues the trace from `save_order`.
        Ok(()) => db::insert_order(&state.db, order, &tracing::Span::current().context())
            .await
            .map_err(ApiError::from),
    };
    match result {
        Ok(saved) => {
            tracing::Span::current().record("order.id", saved.order_id);
            // The event is committed: the relay can send it now.
            state.outbox.wake();
            Ok(saved)
        }
        Err(error) => {
            if let Err(release_error) = state.inventory.release(order.reservation_id).await {
                tracing::error!(
                    reservation.id = order.reservation_id,
                    error = %release_error,
                    "could not release the reservation of an unsaved order"
                );
            } else {
                tracing::info!(
                    reservation.id = order.reservation_id,
                    "reservation released"
                );
            }
            Err(error)
        }
    }
}

/// `GET /orders/{id}`.
pub async fn get_order(
    State(state): State<AppState>,
    ApiId(id): ApiId,
) -> Result<Json<OrderResponse>, ApiError> {
    state.db.require_ready()?;
    fault::inject(SERVICE_NAME).await?;
    tracing::Span::current().set_attribute("order.id", id);
    let order = db::find_order(&state.db, id)
        .await?
        .ok_or(ApiError::UnknownOrder(id))?;
    Ok(Json(OrderResponse {
        order,
        trace_id: telemetry::current_trace_id(),
    }))
}

// LESSON 17: the unit test of `calculate_total`'s span.
#[cfg(test)]
mod span_tests;
