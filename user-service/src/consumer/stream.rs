//! The consumer's side of the Redis stream: the group, reading, taking
//! over what a dead consumer left, acknowledging, leaving.
//!
//! None of this is traced: an idle consumer reads several times a second,
//! and a span per read would make a root trace each time.

use std::sync::atomic::Ordering;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingReply, StreamReadReply};
use redis::AsyncConnectionConfig;

use super::{Consumer, BLOCK, COUNT, GROUP};

impl Consumer {
    /// On the way out: a consumer that holds no pending entries leaves the
    /// group (`XGROUP DELCONSUMER`), so `XINFO CONSUMERS` lists only live
    /// ones. One that holds some stays: its entries are read again when it
    /// restarts under the same name, or taken over after `claim_idle`.
    pub(super) async fn leave_group(&mut self) {
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
    pub(super) async fn connection(&mut self) -> redis::RedisResult<MultiplexedConnection> {
        if let Some(connection) = &self.connection {
            return Ok(connection.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            // Longer than the blocking read.
            .set_response_timeout(Some(BLOCK + Duration::from_secs(2)));
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
    pub(super) async fn reclaim(
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
    pub(super) async fn read(
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

    /// `XACK`: the entry is done with (processed, or dead-lettered).
    pub(super) async fn ack(
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

    /// `XPENDING`: entries delivered to the group and not yet acknowledged,
    /// for `/health`.
    pub(super) async fn count_pending(
        &self,
        connection: &mut MultiplexedConnection,
    ) -> redis::RedisResult<()> {
        let pending: StreamPendingReply = redis::cmd("XPENDING")
            .arg(&self.stream_key)
            .arg(GROUP)
            .query_async(connection)
            .await?;
        self.stats
            .pending
            .store(pending.count() as i64, Ordering::Relaxed);
        Ok(())
    }
}
