//! Sending one event: the row as the outbox holds it, and the stream entry
//! it becomes.
//!
//! The relay's loop (`relay.rs`) decides when to send; this file decides
//! what an entry holds and what its PRODUCER span `send orders` says. That
//! span is a child of the context stored with the row (the order's
//! `save_order`), and its own context travels in the entry's `traceparent`,
//! so the consumer's span continues the order's one trace.

use redis::aio::MultiplexedConnection;
use sqlx::FromRow;
use telemetry::db::traced;
use telemetry::messaging;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{DESTINATION, MAX_LEN};

/// An unpublished row of `order_events`.
#[derive(Debug, FromRow)]
pub(super) struct PendingEvent {
    pub(super) id: i64,
    pub(super) event: String,
    pub(super) order_id: i64,
    pub(super) user_id: i64,
    pub(super) sku: String,
    pub(super) quantity: i32,
    pub(super) total_cents: i64,
    pub(super) traceparent: Option<String>,
    pub(super) tracestate: Option<String>,
    pub(super) baggage: Option<String>,
}

/// Sends one event: a PRODUCER span continuing the stored context, whose own
/// context travels in the entry. Returns the entry's id.
pub(super) async fn send(
    connection: &mut MultiplexedConnection,
    stream_key: &str,
    row: &PendingEvent,
) -> redis::RedisResult<String> {
    let stored = messaging::context_from_fields(|name| match name {
        "traceparent" => row.traceparent.as_deref(),
        "tracestate" => row.tracestate.as_deref(),
        "baggage" => row.baggage.as_deref(),
        _ => None,
    });
    let span = messaging::producer_span(DESTINATION, stored);
    span.set_attribute("order.id", row.order_id);

    let mut xadd = redis::cmd("XADD");
    xadd.arg(stream_key)
        .arg("MAXLEN")
        .arg("~")
        .arg(MAX_LEN)
        .arg("*")
        .arg("event")
        .arg(&row.event)
        .arg("order_id")
        .arg(row.order_id)
        .arg("user_id")
        .arg(row.user_id)
        .arg("sku")
        .arg(&row.sku)
        .arg("quantity")
        .arg(row.quantity)
        .arg("total_cents")
        .arg(row.total_cents);
    // LESSON 14: the trace context travels with the entry, as fields beside
    // the order's. The PRODUCER span's own context: the consumer's span
    // becomes its child, in the order's trace.
    for (name, value) in messaging::context_fields(&span.context()) {
        xadd.arg(name).arg(value);
    }
    let id: String = traced(span.clone(), xadd.query_async(connection)).await?;
    messaging::record_message_id(&span, &id);
    Ok(id)
}
