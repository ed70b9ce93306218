//! Users in Postgres, each statement in a CLIENT span.

use serde::{Deserialize, Serialize};
use service_kit::postgres::{Database, DbError};
use sqlx::FromRow;
use telemetry::db::{postgres, traced};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
pub struct User {
    /// A string in JSON: ids are identifiers, not numbers to do sums with.
    #[serde(with = "id_as_string")]
    pub id: i64,
    pub name: String,
    pub email: String,
    pub tier: String,
    /// Orders counted from the order stream.
    pub orders_count: i64,
    /// Loyalty points: `total_cents / 100` per order.
    pub points: i64,
}

const FIND: &str = "SELECT id, name, email, tier, orders_count, points FROM users WHERE id = $1";
const RECORD_PROCESSED: &str = "INSERT INTO processed_orders (order_id, user_id, message_id) \
    VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING";
const ADD_ORDER: &str =
    "UPDATE users SET orders_count = orders_count + 1, points = points + $2 WHERE id = $1";

// LESSON 07: a query in a CLIENT span with the database conventions.
pub async fn find_user(db: &Database, id: i64) -> Result<Option<User>, DbError> {
    let span = postgres("SELECT", "users", FIND, &db.peer);
    Ok(traced(span, sqlx::query_as(FIND).bind(id).fetch_optional(&db.pool)).await?)
}

/// What [`add_order`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// The order is now counted.
    Added,
    /// The order was counted before (a redelivery): nothing changed.
    Duplicate,
    /// No such user: the order is marked processed, nothing else changed.
    UnknownUser,
}

/// Counts one order for its user, once: the order id is recorded in the
/// same transaction as the update, so a second delivery finds it and
/// changes nothing.
///
/// The `INSERT processed_orders` runs untraced: it is the bookkeeping of
/// "exactly once", and the trace shows what the event changed (`UPDATE
/// users`), or, for a duplicate, the `message.duplicate` event instead.
pub async fn add_order(
    db: &Database,
    user_id: i64,
    order_id: i64,
    points: i64,
    message_id: &str,
) -> Result<Counted, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    let first_time = sqlx::query(RECORD_PROCESSED)
        .bind(order_id)
        .bind(user_id)
        .bind(message_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if !first_time {
        tx.rollback().await?;
        return Ok(Counted::Duplicate);
    }
    let span = postgres("UPDATE", "users", ADD_ORDER, &db.peer);
    let query = sqlx::query(ADD_ORDER)
        .bind(user_id)
        .bind(points)
        .execute(&mut *tx);
    let updated = traced(span, query).await?.rows_affected();
    tx.commit().await?;
    Ok(if updated == 1 {
        Counted::Added
    } else {
        Counted::UnknownUser
    })
}

mod id_as_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&id.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}
