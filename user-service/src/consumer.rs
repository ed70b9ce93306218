//! The order stream consumer: counts each confirmed order for its user.
//!
//! order-service's relay adds one entry per order to the Redis stream
//! `{REDIS_KEY_PREFIX}orders`. This task reads it as a member of the consumer
//! group `user-service` (every replica shares the work; each entry goes to
//! one of them) and, per entry:
//!
//! 1. opens a CONSUMER span `process orders`, child of the entry's
//!    `traceparent`: the order's one trace shows the work done after the
//!    response;
//! 2. adds the order to the user's `orders_count` and `points` (`UPDATE
//!    users`), once: the order id is recorded in the same transaction, so a
//!    redelivery changes nothing (its span gets a `message.duplicate` event);
//! 3. deletes the user's cache entry (`DEL`), so `GET /users/{id}` is fresh;
//! 4. acknowledges the entry (`XACK`).
//!
//! What can go wrong, and what happens:
//!
//! - A malformed entry (a field missing, an id or amount that is not a
//!   positive integer) is copied to `{prefix}orders.dead` with `reason` and
//!   `original_id`, logged and acknowledged: it never stops the consumer.
//! - No usable `traceparent`: processed under a new root trace, logged.
//! - Postgres down: the entry is not acknowledged and is retried.
//! - Redis down: the consumer retries with a bounded back-off.
//! - A consumer died with entries in hand: they stay pending in the group;
//!   after [`CLAIM_IDLE`] another consumer takes them over (`XAUTOCLAIM`).
//! - The group is gone (Redis restarted without its data): `NOGROUP`, so
//!   the group is created again.
//!
//! This file holds the task and its loop; `consumer/stream.rs` talks to the
//! stream (untraced), `consumer/entry.rs` handles one entry (traced), and
//! `order_event.rs` says what an order does to its user. The consumer has
//! its own Redis connection: a blocking read must not hold up cache calls.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use service_kit::postgres::Database;
use telemetry::db::Peer;
use tokio::sync::watch;

use crate::cache::UserCache;

mod entry;
mod stream;

/// The stream's name in spans, and after the key prefix in Redis.
pub const DESTINATION: &str = "orders";
/// The consumer group: all user-service replicas share it.
pub const GROUP: &str = "user-service";
/// An entry pending this long with another consumer is taken over.
pub const CLAIM_IDLE: Duration = Duration::from_secs(30);
/// How long one read waits for new entries. Short, so that a stop request
/// is noticed quickly (the read itself is never cut off).
const BLOCK: Duration = Duration::from_millis(250);
/// Entries per read.
const COUNT: usize = 10;
/// The longest wait between two attempts while Redis or Postgres is down.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// `XADD ... MAXLEN ~` for the dead-letter stream, like the main stream.
const MAX_LEN: u64 = 10_000;

/// How the consumer is set up.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub redis_url: String,
    pub key_prefix: String,
    /// This consumer's name in the group; stable across restarts of one
    /// instance, so it finds its own unacknowledged entries again.
    pub name: String,
    /// [`CLAIM_IDLE`] unless a test wants it shorter.
    pub claim_idle: Duration,
}

/// What `/health` reports about the consumer.
#[derive(Clone, Debug, Default)]
pub struct ConsumerStats {
    /// Entries delivered to the group and not yet acknowledged (`XPENDING`);
    /// -1 until first known.
    pending: Arc<AtomicI64>,
}

impl ConsumerStats {
    fn new() -> Self {
        let stats = ConsumerStats::default();
        stats.pending.store(-1, Ordering::Relaxed);
        stats
    }

    /// Pending entries; `None` while the consumer cannot reach Redis.
    pub fn pending(&self) -> Option<i64> {
        Some(self.pending.load(Ordering::Relaxed)).filter(|n| *n >= 0)
    }
}

/// The consumer task's state.
pub struct Consumer {
    config: ConsumerConfig,
    client: redis::Client,
    /// Our own connection (not the cache's); dropped after a Redis error.
    connection: Option<MultiplexedConnection>,
    db: Database,
    cache: Arc<UserCache>,
    stats: ConsumerStats,
    stream_key: String,
    dead_key: String,
    peer: Peer,
    /// Read our own unacknowledged entries (`0`) before new ones (`>`):
    /// after a restart, or after an entry could not be processed.
    backlog: bool,
    last_claim: Instant,
}

#[derive(Debug, thiserror::Error)]
enum ConsumerError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Postgres: {0}")]
    Postgres(#[from] sqlx::Error),
}

impl Consumer {
    pub fn new(
        config: ConsumerConfig,
        db: Database,
        cache: Arc<UserCache>,
    ) -> Result<Self, redis::RedisError> {
        Ok(Consumer {
            client: redis::Client::open(config.redis_url.as_str())?,
            connection: None,
            stream_key: format!("{}{DESTINATION}", config.key_prefix),
            dead_key: format!("{}{DESTINATION}.dead", config.key_prefix),
            peer: Peer::from_url(&config.redis_url),
            config,
            db,
            cache,
            stats: ConsumerStats::new(),
            backlog: true,
            last_claim: Instant::now(),
        })
    }

    /// For `/health`.
    pub fn stats(&self) -> ConsumerStats {
        self.stats.clone()
    }

    /// Consumes until `stop` turns true, finishing the entry in hand first.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(200);
        let mut failing = false;
        while !*stop.borrow() {
            match self.round(&stop).await {
                Ok(()) => {
                    if failing {
                        tracing::info!("order stream consumer running again");
                        failing = false;
                    }
                    backoff = Duration::from_millis(200);
                    continue;
                }
                Err(ConsumerError::Redis(error)) if error.code() == Some("NOGROUP") => {
                    tracing::warn!(
                        %error,
                        "the consumer group is gone (Redis restarted without its data?); creating it again"
                    );
                    self.connection = None;
                    continue;
                }
                Err(error) => {
                    if matches!(error, ConsumerError::Redis(_)) {
                        self.connection = None;
                        // Unknown until Redis answers again.
                        self.stats.pending.store(-1, Ordering::Relaxed);
                    }
                    self.backlog = true;
                    failing = true;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    tracing::warn!(
                        %error,
                        retry_in_ms = backoff.as_millis() as i64,
                        "order stream consumer cannot proceed; order events wait in the stream"
                    );
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        self.leave_group().await;
        tracing::info!("order stream consumer stopped");
    }

    /// One round: take over abandoned entries, read, process, report.
    async fn round(&mut self, stop: &watch::Receiver<bool>) -> Result<(), ConsumerError> {
        if !self.db.is_ready() {
            // Reading entries we cannot process would only leave them pending.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return Ok(());
        }
        let mut connection = self.connection().await?;

        let mut entries = Vec::new();
        if self.last_claim.elapsed() >= claim_check_interval(self.config.claim_idle) {
            self.last_claim = Instant::now();
            entries = self.reclaim(&mut connection).await?;
        }
        if entries.is_empty() {
            entries = self.read(&mut connection).await?;
        }
        for entry in entries {
            if *stop.borrow() {
                break; // unacknowledged: read again after a restart
            }
            self.handle(&mut connection, entry).await?;
        }
        self.count_pending(&mut connection).await?;
        Ok(())
    }
}

/// How often to look for abandoned entries.
fn claim_check_interval(claim_idle: Duration) -> Duration {
    (claim_idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_checks_are_frequent_enough() {
        assert_eq!(
            claim_check_interval(CLAIM_IDLE),
            Duration::from_millis(7500)
        );
        assert_eq!(
            claim_check_interval(Duration::from_millis(200)),
            Duration::from_millis(100)
        );
    }
}
