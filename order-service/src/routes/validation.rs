//! What a valid order is: the body of `POST /orders` as the client sent it
//! ([`CreateOrder`]), and the checked order the handler works with
//! ([`ValidOrder`]). Each mistake gets its own sentence, and the ids and the
//! quantity follow the rules every service shares (`service_kit::rules`).

use serde::Deserialize;
use serde_json::Value;
use service_kit::rules;

use crate::error::ApiError;

/// Body of `POST /orders`. Fields are read as raw JSON so that every
/// mistake gets its own clear sentence (see [`validate`]).
#[derive(Debug, Deserialize)]
pub struct CreateOrder {
    #[serde(default)]
    pub user_id: Value,
    #[serde(default)]
    pub product: Value,
    #[serde(default)]
    pub quantity: Value,
}

/// A request that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidOrder {
    pub user_id: i64,
    pub product: String,
    pub quantity: i32,
}

/// Checks the body of `POST /orders`, one clear sentence per mistake. A
/// rejection is also an `order.rejected` event, with the sentence, in the
/// span that is current: the trace of a 400 says why.
pub fn validate(body: &CreateOrder) -> Result<ValidOrder, ApiError> {
    let checked = check_body(body);
    if let Err(error) = &checked {
        tracing::info!(order.rejection_reason = %error, "order.rejected");
    }
    checked
}

fn check_body(body: &CreateOrder) -> Result<ValidOrder, ApiError> {
    // A JSON string or number, read by the one id rule.
    let user_id = match &body.user_id {
        Value::String(text) => rules::user_id(text),
        other => rules::user_id(&other.to_string()),
    }
    .map_err(ApiError::BadRequest)?;

    let product = match &body.product {
        Value::String(s) if !s.trim().is_empty() && s.len() <= 100 => s.trim().to_string(),
        _ => return Err(ApiError::BadRequest(
            "product must be a product name or SKU (a non-empty string of at most 100 characters)"
                .to_string(),
        )),
    };
    service_kit::text::check_text("product", &product).map_err(ApiError::BadRequest)?;

    let quantity = rules::quantity(&body.quantity).map_err(ApiError::BadRequest)?;

    Ok(ValidOrder {
        user_id,
        product,
        quantity,
    })
}
