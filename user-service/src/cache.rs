//! Redis cache-aside for users, each command in a CLIENT span.
//!
//! Cache-aside: look in Redis first (`GET`); on a miss read Postgres and
//! store the answer (`SET ... EX ttl`). Redis is only a cache: when it is
//! down every method here returns an error quickly, the handler records it
//! and carries on with Postgres. "Quickly": short timeouts, no retries, and
//! after a failed connection attempt we do not try again for
//! [`RETRY_AFTER`], so a dead Redis costs a request nothing.

use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use telemetry::db::{redis as redis_span, traced, Peer};
use tokio::sync::Mutex;

use crate::db::User;

/// After a failed connection attempt, calls fail at once for this long.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The connection, once made, or when we may try again.
#[derive(Default)]
struct Slot {
    connection: Option<ConnectionManager>,
    retry_after: Option<Instant>,
}

/// A Redis cache of users under `{prefix}user:{id}`.
pub struct UserCache {
    client: redis::Client,
    /// Connected on first use, not at start-up: the service must start even
    /// when Redis is down. `ConnectionManager` reconnects by itself after
    /// that. A `tokio::sync::Mutex` because connecting awaits (at most the
    /// connection timeout).
    slot: Mutex<Slot>,
    prefix: String,
    ttl_seconds: u64,
    peer: Peer,
}

impl UserCache {
    pub fn new(url: &str, prefix: &str, ttl_seconds: u64) -> Result<Self, redis::RedisError> {
        Ok(UserCache {
            client: redis::Client::open(url)?,
            slot: Mutex::new(Slot::default()),
            prefix: prefix.to_string(),
            ttl_seconds,
            peer: Peer::from_url(url),
        })
    }

    fn key(&self, id: i64) -> String {
        format!("{}user:{id}", self.prefix)
    }

    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let mut slot = self.slot.lock().await;
        if let Some(connection) = &slot.connection {
            return Ok(connection.clone());
        }
        if slot.retry_after.is_some_and(|at| Instant::now() < at) {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis was unreachable moments ago; not trying again yet",
            )));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(0);
        match ConnectionManager::new_with_config(self.client.clone(), config).await {
            Ok(connection) => {
                slot.connection = Some(connection.clone());
                Ok(connection)
            }
            Err(error) => {
                slot.retry_after = Some(Instant::now() + RETRY_AFTER);
                Err(error)
            }
        }
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

    /// Removes a user's entry (its counts changed): the next read refills
    /// it from Postgres.
    pub async fn delete(&self, id: i64) -> redis::RedisResult<()> {
        let span = redis_span("DEL", "user", &self.peer);
        let key = self.key(id);
        traced(span, async {
            self.connection().await?.del::<_, ()>(&key).await
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
