//! Redis cache-aside for users, each command in a CLIENT span.
//!
//! Cache-aside: look in Redis first (`GET`); on a miss read Postgres and
//! store the answer (`SET ... EX ttl`). Redis is only a cache: when it is
//! down every method here returns an error quickly (short timeouts), the
//! handler records it and carries on with Postgres.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use telemetry::db::{redis as redis_span, traced, Peer};
use tokio::sync::Mutex;

use crate::db::User;

/// A Redis cache of users under `{prefix}user:{id}`.
pub struct UserCache {
    client: redis::Client,
    /// Connected on first use, not at start-up: the service must start even
    /// when Redis is down. `ConnectionManager` reconnects by itself after
    /// that. A `tokio::sync::Mutex` because connecting awaits.
    connection: Mutex<Option<ConnectionManager>>,
    prefix: String,
    ttl_seconds: u64,
    peer: Peer,
}

impl UserCache {
    pub fn new(url: &str, prefix: &str, ttl_seconds: u64) -> Result<Self, redis::RedisError> {
        Ok(UserCache {
            client: redis::Client::open(url)?,
            connection: Mutex::new(None),
            prefix: prefix.to_string(),
            ttl_seconds,
            peer: Peer::from_url(url),
        })
    }

    fn key(&self, id: i64) -> String {
        format!("{}user:{id}", self.prefix)
    }

    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_millis(500))
            .set_response_timeout(Duration::from_millis(500))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// The cached user, `Ok(None)` on a miss.
    pub async fn get(&self, id: i64) -> redis::RedisResult<Option<User>> {
        let span = redis_span("GET", "user", &self.peer);
        let key = self.key(id);
        let cached: Option<String> =
            traced(span, async { self.connection().await?.get(&key).await }).await?;
        // A value we cannot parse is treated as a miss (and overwritten).
        Ok(cached.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Stores `user` with the configured time to live.
    pub async fn put(&self, user: &User) -> redis::RedisResult<()> {
        let span = redis_span("SET", "user", &self.peer);
        let key = self.key(user.id);
        let json = serde_json::to_string(user).unwrap_or_default();
        traced(span, async {
            self.connection()
                .await?
                .set_ex::<_, _, ()>(&key, json, self.ttl_seconds)
                .await
        })
        .await
    }

    /// Is Redis answering? (for `/health`)
    pub async fn ping(&self) -> bool {
        let ping = async {
            let mut connection = self.connection().await?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(1), ping).await,
            Ok(Ok(_))
        )
    }
}

impl std::fmt::Debug for UserCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCache")
            .field("prefix", &self.prefix)
            .field("ttl_seconds", &self.ttl_seconds)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}
