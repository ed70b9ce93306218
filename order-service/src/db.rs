//! Orders in Postgres, each statement in a CLIENT span.

use serde::Serialize;
use service_kit::postgres::{Database, DbError};
use sqlx::FromRow;
use telemetry::db::{postgres, traced};

/// A stored order, as the API returns it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Order {
    pub order_id: i64,
    #[serde(serialize_with = "as_string")]
    pub user_id: i64,
    pub sku: String,
    pub product: String,
    pub quantity: i32,
    pub total_cents: i64,
    pub status: String,
}

/// What `save_order` stores.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub user_id: i64,
    pub sku: String,
    pub product: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub total_cents: i64,
    pub reservation_id: i64,
}

const INSERT: &str = "INSERT INTO orders \
    (user_id, sku, product, quantity, unit_price_cents, total_cents, reservation_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7) \
    RETURNING id AS order_id, user_id, sku, product, quantity, total_cents, status";
const INSERT_EVENT: &str = "INSERT INTO order_events \
    (order_id, user_id, sku, quantity, total_cents, traceparent, tracestate, baggage) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const FIND: &str = "SELECT id AS order_id, user_id, sku, product, quantity, total_cents, status \
    FROM orders WHERE id = $1";
/// The most orders one history answer holds.
pub const HISTORY_LIMIT: i64 = 50;
const BY_USER: &str =
    "SELECT id AS order_id, user_id, sku, product, quantity, total_cents, status \
    FROM orders WHERE user_id = $1 ORDER BY id DESC LIMIT $2";

/// Saves the order and its `order.confirmed` event in one transaction (the
/// outbox): both are stored, or neither. The relay sends the event later.
///
/// `trace` is the context the event carries (the caller's `save_order`
/// span): the PRODUCER span that sends it continues that trace. It is an
/// argument, not the span current here, so what is stored does not depend
/// on which span happens to be entered when this runs.
// LESSON 14: the trace context stored with the event.
pub async fn insert_order(
    db: &Database,
    order: &NewOrder,
    trace: &opentelemetry::Context,
) -> Result<Order, DbError> {
    let context = telemetry::messaging::context_fields(trace);
    let field = |name: &str| {
        context
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    };
    let mut tx = db.pool.begin().await?;

    let span = postgres("INSERT", "orders", INSERT, &db.peer);
    let query = sqlx::query_as(INSERT)
        .bind(order.user_id)
        .bind(&order.sku)
        .bind(&order.product)
        .bind(order.quantity)
        .bind(order.unit_price_cents)
        .bind(order.total_cents)
        .bind(order.reservation_id)
        .fetch_one(&mut *tx);
    let saved: Order = traced(span, query).await?;

    let span = postgres("INSERT", "order_events", INSERT_EVENT, &db.peer);
    let query = sqlx::query(INSERT_EVENT)
        .bind(saved.order_id)
        .bind(saved.user_id)
        .bind(&saved.sku)
        .bind(saved.quantity)
        .bind(saved.total_cents)
        .bind(field("traceparent"))
        .bind(field("tracestate"))
        .bind(field("baggage"))
        .execute(&mut *tx);
    traced(span, query).await?;

    tx.commit().await?;
    Ok(saved)
}

pub async fn find_order(db: &Database, id: i64) -> Result<Option<Order>, DbError> {
    let span = postgres("SELECT", "orders", FIND, &db.peer);
    Ok(traced(span, sqlx::query_as(FIND).bind(id).fetch_optional(&db.pool)).await?)
}

fn as_string<S: serde::Serializer>(id: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&id.to_string())
}

/// A user's orders, newest first, at most [`HISTORY_LIMIT`].
pub async fn orders_of_user(db: &Database, user_id: i64) -> Result<Vec<Order>, DbError> {
    let span = postgres("SELECT", "orders", BY_USER, &db.peer);
    let query = sqlx::query_as(BY_USER)
        .bind(user_id)
        .bind(HISTORY_LIMIT)
        .fetch_all(&db.pool);
    Ok(traced(span, query).await?)
}
