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
//! Reading the stream is not traced (an idle consumer polls several times a
//! second); processing an entry is. The consumer has its own Redis
//! connection: a blocking read must not hold up cache calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingReply, StreamReadReply};
use redis::{AsyncConnectionConfig, FromRedisValue};
use service_kit::postgres::Database;
use telemetry::db::{redis as redis_span, traced, Peer};
use telemetry::messaging;
use tokio::sync::watch;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::cache::UserCache;
use crate::db::{self, Counted};
use crate::order_event::{self, OrderEvent};

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

        let pending: StreamPendingReply = redis::cmd("XPENDING")
            .arg(&self.stream_key)
            .arg(GROUP)
            .query_async(&mut connection)
            .await?;
        self.stats
            .pending
            .store(pending.count() as i64, Ordering::Relaxed);
        Ok(())
    }

    /// On the way out: a consumer that holds no pending entries leaves the
    /// group (`XGROUP DELCONSUMER`), so `XINFO CONSUMERS` lists only live
    /// ones. One that holds some stays: its entries are read again when it
    /// restarts under the same name, or taken over after `claim_idle`.
    async fn leave_group(&mut self) {
        let Some(mut connection) = self.connection.clone() else {
            return;
        };
        let mine: redis::RedisResult<redis::Value> = redis::cmd("XPENDING")
            .arg(&self.stream_key)
            .arg(GROUP)
            .arg("-")
            .arg("+")
            .arg(1)
            .arg(&self.config.name)
            .query_async(&mut connection)
            .await;
        if matches!(mine, Ok(redis::Value::Array(ref entries)) if entries.is_empty()) {
            let _: redis::RedisResult<i64> = redis::cmd("XGROUP")
                .arg("DELCONSUMER")
                .arg(&self.stream_key)
                .arg(GROUP)
                .arg(&self.config.name)
                .query_async(&mut connection)
                .await;
        }
    }

    /// Our connection; a new one also makes sure the group exists.
    async fn connection(&mut self) -> redis::RedisResult<MultiplexedConnection> {
        if let Some(connection) = &self.connection {
            return Ok(connection.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            // Longer than the blocking read.
            .set_response_timeout(BLOCK + Duration::from_secs(2));
        let mut connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        // `0`: a new group starts at the beginning of the stream, so events
        // sent while user-service was away (or before it ever ran) count.
        // MKSTREAM: the stream may not exist yet.
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream_key)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut connection)
            .await;
        match created {
            Ok(()) => {
                tracing::info!(stream = %self.stream_key, group = GROUP, "created the consumer group")
            }
            Err(error) if error.code() == Some("BUSYGROUP") => {}
            Err(error) => return Err(error),
        }
        self.connection = Some(connection.clone());
        self.backlog = true;
        Ok(connection)
    }

    /// `XAUTOCLAIM`: entries another consumer took and left unacknowledged
    /// for longer than `claim_idle` (it crashed) become ours.
    async fn reclaim(
        &mut self,
        connection: &mut MultiplexedConnection,
    ) -> redis::RedisResult<Vec<StreamId>> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream_key)
            .arg(GROUP)
            .arg(&self.config.name)
            .arg(self.config.claim_idle.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(COUNT)
            .query_async(connection)
            .await?;
        if !reply.claimed.is_empty() {
            tracing::info!(
                entries = reply.claimed.len(),
                "took over order events left pending by another consumer"
            );
        }
        Ok(reply.claimed)
    }

    /// `XREADGROUP`: our own pending entries first, then new ones.
    async fn read(
        &mut self,
        connection: &mut MultiplexedConnection,
    ) -> redis::RedisResult<Vec<StreamId>> {
        let mut read = redis::cmd("XREADGROUP");
        read.arg("GROUP")
            .arg(GROUP)
            .arg(&self.config.name)
            .arg("COUNT")
            .arg(COUNT);
        if !self.backlog {
            read.arg("BLOCK").arg(BLOCK.as_millis() as u64);
        }
        read.arg("STREAMS")
            .arg(&self.stream_key)
            .arg(if self.backlog { "0" } else { ">" });
        let reply: Option<StreamReadReply> = read.query_async(connection).await?;
        let entries: Vec<StreamId> = reply
            .map(|reply| reply.keys.into_iter().flat_map(|key| key.ids).collect())
            .unwrap_or_default();
        if self.backlog && entries.is_empty() {
            self.backlog = false;
        }
        Ok(entries)
    }

    /// Processes one entry in its CONSUMER span, then acknowledges it.
    /// A Postgres failure leaves it unacknowledged (retried).
    // LESSON 14: the consumer continues the trace from the entry's fields.
    async fn handle(
        &mut self,
        connection: &mut MultiplexedConnection,
        entry: StreamId,
    ) -> Result<(), ConsumerError> {
        let fields: HashMap<String, String> = entry
            .map
            .iter()
            .filter_map(|(key, value)| Some((key.clone(), String::from_redis_value(value).ok()?)))
            .collect();
        if fields.is_empty() {
            // Trimmed from the stream while pending: nothing left to do.
            return Ok(self.ack(connection, &entry.id).await?);
        }
        let parent = messaging::context_from_fields(|name| fields.get(name).map(String::as_str));
        let has_parent = messaging::has_parent(&parent);
        let span = messaging::consumer_span(DESTINATION, GROUP, &entry.id, parent);
        if !has_parent {
            span.in_scope(|| {
                tracing::warn!(
                    entry.id = %entry.id,
                    "order event without a valid traceparent; processing it under a new trace"
                )
            });
        }

        match order_event::parse(&fields) {
            Ok(event) => {
                self.process(event, &entry.id)
                    .instrument(span.clone())
                    .await?;
            }
            Err(reason) => {
                telemetry::errors::record_exception(&span, "MalformedEvent", &reason);
                self.dead_letter(connection, &entry.id, &fields, &reason)
                    .instrument(span.clone())
                    .await?;
            }
        }
        Ok(self.ack(connection, &entry.id).await?)
    }

    /// Counts the order (once) and drops the user's cache entry.
    async fn process(&self, event: OrderEvent, message_id: &str) -> Result<(), ConsumerError> {
        let span = tracing::Span::current();
        span.set_attribute("order.id", event.order_id);
        span.set_attribute("user.id", event.user_id);
        // Points: one per whole currency unit, rounded down.
        let points = event.total_cents / 100;
        let counted =
            db::add_order(&self.db, event.user_id, event.order_id, points, message_id).await;
        match counted {
            Ok(Counted::Added) => {
                // Redis down: the entry expires with its TTL; nothing to retry.
                if let Err(error) = self.cache.delete(event.user_id).await {
                    tracing::warn!(user.id = event.user_id, %error, "could not drop the cached user");
                }
                Ok(())
            }
            Ok(Counted::Duplicate) => {
                // The message becomes the span event's name.
                tracing::info!(order.id = event.order_id, "message.duplicate");
                Ok(())
            }
            Ok(Counted::UnknownUser) => {
                tracing::warn!(
                    order.id = event.order_id,
                    user.id = event.user_id,
                    "order event for an unknown user; nothing to count"
                );
                Ok(())
            }
            Err(error) => {
                telemetry::errors::record_exception(&span, "sqlx::Error", &error.to_string());
                Err(error.into())
            }
        }
    }

    /// Copies a malformed entry to `{prefix}orders.dead` with the reason.
    async fn dead_letter(
        &self,
        connection: &mut MultiplexedConnection,
        id: &str,
        fields: &HashMap<String, String>,
        reason: &str,
    ) -> redis::RedisResult<()> {
        tracing::warn!(
            entry.id = %id,
            reason,
            "malformed order event moved to the dead-letter stream"
        );
        let mut xadd = redis::cmd("XADD");
        xadd.arg(&self.dead_key)
            .arg("MAXLEN")
            .arg("~")
            .arg(MAX_LEN)
            .arg("*");
        for (key, value) in fields {
            if key != "reason" && key != "original_id" {
                xadd.arg(key).arg(value);
            }
        }
        xadd.arg("reason").arg(reason).arg("original_id").arg(id);
        let span = redis_span("XADD", &format!("{DESTINATION}.dead"), &self.peer);
        traced(span, xadd.query_async::<String>(connection))
            .await
            .map(|_| ())
    }

    async fn ack(
        &self,
        connection: &mut MultiplexedConnection,
        id: &str,
    ) -> redis::RedisResult<()> {
        redis::cmd("XACK")
            .arg(&self.stream_key)
            .arg(GROUP)
            .arg(id)
            .query_async(connection)
            .await
    }
}

/// How often to look for abandoned entries.
fn claim_check_interval(claim_idle: Duration) -> Duration {
    (claim_idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(10))
}

/// `CONSUMER_NAME`, else `{hostname}-{pid}`: stable for one instance, so a
/// restarted container finds its own pending entries at once.
pub fn default_consumer_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "user-service".to_string());
    format!("{host}-{}", std::process::id())
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
