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
}

const FIND: &str = "SELECT id, name, email, tier FROM users WHERE id = $1";

// LESSON 07: a query in a CLIENT span with the database conventions.
pub async fn find_user(db: &Database, id: i64) -> Result<Option<User>, DbError> {
    let span = postgres("SELECT", "users", FIND, &db.peer);
    Ok(traced(span, sqlx::query_as(FIND).bind(id).fetch_optional(&db.pool)).await?)
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
