//! An order event: what an entry of the order stream must hold to be
//! counted ([`parse`]), and what counting it does to the user ([`count`]).
//! The stream plumbing around it is in `consumer.rs`.
//!
//! order-service's relay writes `event` = `order.confirmed`, `order_id`,
//! `user_id`, `sku`, `quantity`, `total_cents` (and the trace context). An
//! entry with a field missing, or an id or amount that is not a positive
//! integer, is malformed: the consumer moves it to the dead-letter stream
//! with the reason [`parse`] gives.

use std::collections::HashMap;

use service_kit::postgres::Database;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::cache::UserCache;
use crate::db::{self, Counted};

/// An `order.confirmed` entry that passed validation.
#[derive(Debug, Clone, Copy)]
pub struct OrderEvent {
    pub order_id: i64,
    pub user_id: i64,
    pub total_cents: i64,
}

/// Checks an entry's business fields; `Err` says what is wrong.
pub fn parse(fields: &HashMap<String, String>) -> Result<OrderEvent, String> {
    for name in [
        "event",
        "order_id",
        "user_id",
        "sku",
        "quantity",
        "total_cents",
    ] {
        if fields.get(name).is_none_or(|value| value.trim().is_empty()) {
            return Err(format!("field {name} is missing"));
        }
    }
    if fields["event"] != "order.confirmed" {
        return Err(format!("unknown event {:?}", fields["event"]));
    }
    let positive = |name: &str| {
        fields[name]
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{name} must be a positive integer, got {:?}", fields[name]))
    };
    positive("quantity")?;
    Ok(OrderEvent {
        order_id: positive("order_id")?,
        user_id: positive("user_id")?,
        total_cents: positive("total_cents")?,
    })
}

/// What an order does to its user: counted once (`orders_count`, and
/// `points`: one per whole currency unit, rounded down), and the user's
/// cache entry dropped so that `GET /users/{id}` is fresh. Runs in the
/// entry's CONSUMER span; `Err` (Postgres) leaves the entry to be retried.
pub async fn count(
    db: &Database,
    cache: &UserCache,
    event: OrderEvent,
    message_id: &str,
) -> Result<(), sqlx::Error> {
    let span = tracing::Span::current();
    span.set_attribute("order.id", event.order_id);
    span.set_attribute("user.id", event.user_id);
    // Points: one per whole currency unit, rounded down.
    let points = event.total_cents / 100;
    let counted = db::add_order(db, event.user_id, event.order_id, points, message_id).await;
    match counted {
        Ok(Counted::Added) => {
            // Redis down: the entry expires with its TTL; nothing to retry.
            if let Err(error) = cache.delete(event.user_id).await {
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
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
    #[test]
    fn a_complete_entry_parses() {
        let event = parse(&fields(&[
            ("event", "order.confirmed"),
            ("order_id", "7"),
            ("user_id", "1"),
            ("sku", "LAPTOP-001"),
            ("quantity", "1"),
            ("total_cents", "129999"),
        ]))
        .unwrap();
        assert_eq!((event.order_id, event.user_id), (7, 1));
        assert_eq!(event.total_cents / 100, 1299, "points round down");
    }

    #[test]
    fn malformed_entries_say_why() {
        let mut entry = fields(&[
            ("event", "order.confirmed"),
            ("order_id", "7"),
            ("user_id", "1"),
            ("sku", "X"),
            ("quantity", "1"),
            ("total_cents", "100"),
        ]);
        entry.remove("sku");
        assert_eq!(parse(&entry).unwrap_err(), "field sku is missing");
        entry.insert("sku".into(), "X".into());
        entry.insert("user_id".into(), "-3".into());
        assert!(parse(&entry).unwrap_err().contains("user_id"));
        entry.insert("user_id".into(), "1".into());
        entry.insert("total_cents".into(), "ten".into());
        assert!(parse(&entry).unwrap_err().contains("total_cents"));
    }
}
