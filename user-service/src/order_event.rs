//! What an entry of the order stream must hold to be counted.
//!
//! order-service's relay writes `event` = `order.confirmed`, `order_id`,
//! `user_id`, `sku`, `quantity`, `total_cents` (and the trace context). An
//! entry with a field missing, or an id or amount that is not a positive
//! integer, is malformed: the consumer moves it to the dead-letter stream
//! with the reason [`parse`] gives.

use std::collections::HashMap;

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
