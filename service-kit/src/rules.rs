//! The input rules every service applies the same way, each with the one
//! sentence a client gets when it is broken.
//!
//! An id or a quantity crosses three services on its way to Postgres. If
//! each checked it its own way, the same typo would be a 400 at one door and
//! a 404 at the next; here the rule is written once and every door uses it.

use std::ops::RangeInclusive;

use serde_json::Value;

/// How many of one product an order may hold.
pub const QUANTITY: RangeInclusive<i64> = 1..=100;

/// An id (a user's, an order's, a reservation's): an integer, surrounding
/// spaces allowed. `Err` is the sentence for the 400, naming `what` was
/// wrong (`"user_id"`, `"the id in the URL path"`).
///
/// Zero and negative numbers pass: they are well-formed ids that name
/// nothing, so the lookup answers 404, as for any absent id (the HTTP
/// contract: 400 only when the id is not an integer).
pub fn id(what: &str, raw: &str) -> Result<i64, String> {
    raw.trim()
        .parse::<i64>()
        .map_err(|_| format!("{what} must be an integer, got {raw:?}"))
}

/// A `user_id` a client sends (in an order's body, in `?user_id=`): a
/// positive integer. Unlike a record's id in a URL path, this is input the
/// client composed, and `0` or `-1` is invalid input (400), never a lookup.
pub fn user_id(raw: &str) -> Result<i64, String> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| format!("user_id must be a positive integer, got {raw:?}"))
}

/// A quantity as the JSON held it: a whole number in [`QUANTITY`]. `Ok` is
/// the quantity as the databases store it (`integer`).
pub fn quantity(value: &Value) -> Result<i32, String> {
    value
        .as_i64()
        .filter(|q| QUANTITY.contains(q))
        .map(|q| q as i32)
        .ok_or_else(|| {
            format!(
                "quantity must be a whole number from {} to {}, got {value}",
                QUANTITY.start(),
                QUANTITY.end()
            )
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_user_id_is_a_positive_integer() {
        assert_eq!(user_id(" 7 "), Ok(7));
        for bad in ["", "abc", "0", "-1", "1.5"] {
            let error = user_id(bad).unwrap_err();
            assert!(
                error.starts_with("user_id must be a positive integer"),
                "{error}"
            );
        }
    }

    #[test]
    fn an_id_is_an_integer() {
        assert_eq!(id("user_id", " 7 "), Ok(7));
        // Well-formed, names nothing: the lookup says 404.
        assert_eq!(id("user_id", "0"), Ok(0));
        assert_eq!(id("user_id", "-1"), Ok(-1));
        for bad in ["", "abc", "1.5", "99999999999999999999"] {
            let error = id("user_id", bad).unwrap_err();
            assert!(error.starts_with("user_id must be an integer"), "{error}");
        }
    }

    #[test]
    fn a_quantity_is_a_whole_number_from_1_to_100() {
        assert_eq!(quantity(&json!(1)), Ok(1));
        assert_eq!(quantity(&json!(100)), Ok(100));
        for bad in [json!(0), json!(101), json!(1.5), json!("2"), json!(null)] {
            let error = quantity(&bad).unwrap_err();
            assert!(
                error.starts_with("quantity must be a whole number from 1 to 100"),
                "{error}"
            );
        }
    }
}
