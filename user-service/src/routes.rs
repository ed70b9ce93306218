//! HTTP handlers: short, `?`-driven; data access is in `db.rs` / `cache.rs`.

use axum::extract::State;
use axum::Json;
use service_kit::ApiId;
use telemetry::fault;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::db::{self, User};
use crate::error::ApiError;
use crate::{AppState, SERVICE_NAME};

/// `GET /users/{id}`: cache-aside read of one user.
// LESSON 07: the three CLIENT spans under this SERVER span.
pub async fn get_user(
    State(state): State<AppState>,
    ApiId(id): ApiId,
) -> Result<Json<User>, ApiError> {
    state.db.require_ready()?;
    fault::inject(SERVICE_NAME).await?;
    let span = tracing::Span::current();
    span.set_attribute("user.id", id);

    let mut cache_up = true;
    match state.cache.get(id).await {
        Ok(Some(user)) => {
            span.set_attribute("cache.hit", true);
            // Log messages inside a span become span events, named by the message.
            tracing::info!(user.id = id, "cache.hit");
            record_user(&span, &user);
            return Ok(Json(user));
        }
        Ok(None) => {
            span.set_attribute("cache.hit", false);
            tracing::info!(user.id = id, "cache.miss");
        }
        Err(error) => {
            // Redis is down or slow: the GET span already holds the error.
            // Serve from Postgres; the request still succeeds.
            cache_up = false;
            span.set_attribute("cache.hit", false);
            tracing::warn!(user.id = id, %error, "cache.unavailable");
        }
    }

    let user = db::find_user(&state.db, id)
        .await?
        .ok_or(ApiError::UnknownUser(id))?;
    if cache_up {
        if let Err(error) = state.cache.put(&user).await {
            tracing::warn!(user.id = id, %error, "could not store the user in the cache");
        }
    }
    record_user(&span, &user);
    Ok(Json(user))
}

fn record_user(span: &tracing::Span, user: &User) {
    span.set_attribute("user.tier", user.tier.clone());
    // PII, on purpose: the collector lesson hashes it with the attributes
    // processor before it reaches Jaeger.
    span.set_attribute("user.email", user.email.clone());
}
