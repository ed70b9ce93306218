//! Settings from the environment (all optional, defaults for a local run).
//! A value that does not parse is an error naming its variable.

use service_kit::config::{parse_env, string_env, url_env};
use service_kit::postgres::DatabaseConfig;
use url::Url;

/// `PORT` when unset: the port docs/architecture.md gives order-service.
pub const DEFAULT_PORT: u16 = 8081;

/// Everything order-service needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// `PORT`, bound on 0.0.0.0. 0 picks a free port (tests).
    pub port: u16,
    /// `DATABASE_URL`, `DATABASE_MAX_CONNECTIONS`: the `orders` database.
    pub database: DatabaseConfig,
    /// `USER_SERVICE_URL`.
    pub user_service_url: Url,
    /// `INVENTORY_SERVICE_URL`.
    pub inventory_service_url: Url,
    /// `REDIS_URL`: where the outbox relay publishes order events.
    pub redis_url: String,
    /// `REDIS_KEY_PREFIX`: the stream is `{prefix}orders` (user-service must
    /// use the same prefix to consume it).
    pub redis_key_prefix: String,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        Ok(Config {
            port: parse_env("PORT", DEFAULT_PORT)?,
            database: DatabaseConfig::from_env("orders")?,
            user_service_url: url_env("USER_SERVICE_URL", "http://127.0.0.1:8082")?,
            inventory_service_url: url_env("INVENTORY_SERVICE_URL", "http://127.0.0.1:8083")?,
            redis_url: string_env("REDIS_URL", "redis://127.0.0.1:6379"),
            redis_key_prefix: string_env("REDIS_KEY_PREFIX", ""),
        })
    }
}
