//! The outbox relay: sends saved `order.confirmed` events to the Redis stream
//! `{REDIS_KEY_PREFIX}orders`.
//!
//! `save_order` writes each event into the `order_events` table in the same
//! transaction as the order (see `db.rs`), so the HTTP request never waits
//! for Redis and never fails because of it. This task publishes what is
//! waiting there:
//!
//! 1. wake up when an order was committed ([`Outbox::wake`]), or every
//!    [`POLL_INTERVAL`] (events of another replica, or left by a restart);
//! 2. read unpublished rows (`FOR UPDATE SKIP LOCKED`: two replicas never
//!    send the same row at the same time);
//! 3. per row, a PRODUCER span `send orders`, child of the context stored with
//!    the row, whose own context goes into the entry's `traceparent`;
//!    `XADD ... MAXLEN ~ 10000` (`relay/send.rs`); mark the row published.
//!
//! Polling is not traced: a span per poll would make a root trace every
//! 200 ms, skew sampling counts and spend rate-limit tokens. Only sending an
//! event is.
//!
//! Redis down: rows wait in the table, the relay retries with a bounded
//! back-off ([`MAX_BACKOFF`]) and says so in the log, once per attempt.
//! Delivery is at least once: a crash between `XADD` and the commit sends
//! that row again, and the consumer ignores the duplicate.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use service_kit::postgres::Database;
use tokio::sync::{watch, Notify};

mod send;
use send::{send, PendingEvent};

/// The stream's name in spans (`send orders`) and, after the key prefix, in
/// Redis.
pub const DESTINATION: &str = "orders";
/// `XADD MAXLEN ~`: the stream keeps about this many entries, no more.
pub const MAX_LEN: u64 = 10_000;
/// The longest the relay sleeps when nobody wakes it.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The longest wait between two attempts while Redis or Postgres is down.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Rows read per round.
const BATCH: i64 = 100;

const UNPUBLISHED: &str = "SELECT id, event, order_id, user_id, sku, quantity, total_cents, \
    traceparent, tracestate, baggage FROM order_events \
    WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED";
const MARK_PUBLISHED: &str =
    "UPDATE order_events SET published_at = now(), stream_id = $2 WHERE id = $1";

/// What the handlers share with the relay: a way to wake it, and the Redis
/// it publishes to (for `/health`).
#[derive(Clone, Debug)]
pub struct Outbox {
    /// `notify_one` keeps one permit when the relay is busy, so a commit
    /// that happens while it publishes is not missed.
    wakeup: Arc<Notify>,
    redis: redis::Client,
    /// `{REDIS_KEY_PREFIX}orders`.
    stream_key: String,
}

impl Outbox {
    pub fn new(redis_url: &str, key_prefix: &str) -> Result<Self, redis::RedisError> {
        Ok(Outbox {
            wakeup: Arc::new(Notify::new()),
            redis: redis::Client::open(redis_url)?,
            stream_key: format!("{key_prefix}{DESTINATION}"),
        })
    }

    /// Tells the relay that an event was committed.
    pub fn wake(&self) {
        self.wakeup.notify_one();
    }

    /// Is Redis answering? (for `/health`: down means "degraded", not 503)
    pub async fn redis_reachable(&self) -> bool {
        let ping = async {
            let mut connection = connect(&self.redis).await?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(1), ping).await,
            Ok(Ok(_))
        )
    }

    /// The relay task: publishes until `stop` turns true, finishing the
    /// entry in hand first. Spawn it next to the server.
    pub async fn relay(self, db: Database, mut stop: watch::Receiver<bool>) {
        let mut relay = Relay {
            outbox: self,
            db,
            connection: None,
            failing: false,
        };
        let mut backoff = POLL_INTERVAL;
        while !*stop.borrow() {
            let wait = match relay.publish_waiting(&stop).await {
                Ok(()) => {
                    if relay.failing {
                        tracing::info!("order events flow again: the outbox is being emptied");
                        relay.failing = false;
                    }
                    backoff = POLL_INTERVAL;
                    POLL_INTERVAL
                }
                Err(error) => {
                    relay.connection = None;
                    relay.failing = true;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    tracing::warn!(
                        %error,
                        retry_in_ms = backoff.as_millis() as i64,
                        "cannot publish order events; they wait in the outbox (orders are not affected)"
                    );
                    backoff
                }
            };
            // While failing, only time (or the stop signal) wakes the relay:
            // a burst of orders must not turn into a burst of retries.
            tokio::select! {
                () = relay.outbox.wakeup.notified(), if !relay.failing => {}
                () = tokio::time::sleep(wait) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        break; // the service is gone
                    }
                }
            }
        }
        // The server has drained: every order it answered is committed. One
        // last round publishes their events now, in this process, so their
        // PRODUCER spans are flushed with the rest instead of waiting for the
        // next start. Bounded, so a slow Redis cannot hold up the exit.
        if !relay.failing {
            let (_never_stops, keep_going) = watch::channel(false);
            let last_round = relay.publish_waiting(&keep_going);
            match tokio::time::timeout(LAST_ROUND, last_round).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "order events left in the outbox at shutdown; sent at the next start"),
                Err(_) => tracing::warn!("order events left in the outbox at shutdown (Redis too slow); sent at the next start"),
            }
        }
        tracing::info!("order event relay stopped");
    }
}

/// How long the relay's last round at shutdown may take.
const LAST_ROUND: Duration = Duration::from_secs(2);

/// The relay's working state.
struct Relay {
    outbox: Outbox,
    db: Database,
    /// Kept between rounds; dropped after any failure and made again.
    connection: Option<MultiplexedConnection>,
    /// The last round failed (so the next success is worth a log line).
    failing: bool,
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Postgres: {0}")]
    Postgres(#[from] sqlx::Error),
}

impl Relay {
    /// Publishes rows until none are waiting (or `stop`).
    async fn publish_waiting(&mut self, stop: &watch::Receiver<bool>) -> Result<(), RelayError> {
        if !self.db.is_ready() {
            return Ok(());
        }
        loop {
            let mut tx = self.db.pool.begin().await?;
            let rows: Vec<PendingEvent> = sqlx::query_as(UNPUBLISHED)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut connection = self.connection().await?;
            let mut sent = 0;
            for row in &rows {
                if *stop.borrow() {
                    break;
                }
                match send(&mut connection, &self.outbox.stream_key, row).await {
                    Ok(stream_id) => {
                        // Bookkeeping, not part of the trace (like polling).
                        sqlx::query(MARK_PUBLISHED)
                            .bind(row.id)
                            .bind(stream_id)
                            .execute(&mut *tx)
                            .await?;
                        sent += 1;
                    }
                    Err(error) => {
                        // Keep what was sent; the rest waits.
                        tx.commit().await?;
                        return Err(error.into());
                    }
                }
            }
            tx.commit().await?;
            if sent < rows.len() || (rows.len() as i64) < BATCH {
                return Ok(());
            }
        }
    }

    /// The Redis connection, checked with a `PING` (untraced) so that a
    /// connection Redis dropped fails here, not as a failed send span.
    async fn connection(&mut self) -> redis::RedisResult<MultiplexedConnection> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => connect(&self.outbox.redis).await?,
        };
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await?;
        self.connection = Some(connection.clone());
        Ok(connection)
    }
}

/// Short timeouts: a dead Redis must cost a retry, not a hang.
async fn connect(client: &redis::Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}
