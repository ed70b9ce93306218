//! One entry of the stream: its CONSUMER span `process orders`, child of
//! the context in the entry, and under it either the order counted for its
//! user (`order_event::count`) or, for a malformed entry, a copy in the
//! dead-letter stream. Then the entry is acknowledged.

use std::collections::HashMap;

use redis::aio::MultiplexedConnection;
use redis::streams::StreamId;
use redis::FromRedisValue;
use telemetry::db::{redis as redis_span, traced};
use telemetry::messaging;
use tracing::Instrument;

use super::{Consumer, ConsumerError, DESTINATION, GROUP, MAX_LEN};
use crate::order_event;

impl Consumer {
    /// Processes one entry in its CONSUMER span, then acknowledges it.
    /// A Postgres failure leaves it unacknowledged (retried).
    // LESSON 14: the consumer continues the trace from the entry's fields.
    pub(super) async fn handle(
        &mut self,
        connection: &mut MultiplexedConnection,
        entry: StreamId,
    ) -> Result<(), ConsumerError> {
        let fields: HashMap<String, String> = entry
            .map
            .iter()
            .filter_map(|(key, value)| {
                Some((key.clone(), String::from_redis_value_ref(value).ok()?))
            })
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
                order_event::count(&self.db, &self.cache, event, &entry.id)
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

    /// Copies a malformed entry to `{prefix}orders.dead` with the reason.
    pub(super) async fn dead_letter(
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
}
