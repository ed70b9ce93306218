//! Settings from the environment (all optional, defaults for a local run).
//! A value that does not parse is an error naming its variable.

use std::time::Duration;

use service_kit::config::{parse_env, string_env};
use service_kit::postgres::DatabaseConfig;

use crate::consumer::CLAIM_IDLE;

/// `PORT` when unset: the port docs/architecture.md gives user-service.
pub const DEFAULT_PORT: u16 = 8082;

/// Everything user-service needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// `PORT`, bound on 0.0.0.0. 0 picks a free port (tests).
    pub port: u16,
    /// `DATABASE_URL`, `DATABASE_MAX_CONNECTIONS`: the `users` database.
    pub database: DatabaseConfig,
    /// `REDIS_URL`: the cache. The service runs without it, only slower.
    pub redis_url: String,
    /// `REDIS_KEY_PREFIX`: prepended to every key (tests use a unique one).
    pub redis_key_prefix: String,
    /// `CACHE_TTL_SECONDS`: how long a cached user stays fresh.
    pub cache_ttl_seconds: u64,
    /// `CONSUMER_NAME`: this instance's name in the order stream's consumer
    /// group (default `{hostname}-{pid}`).
    pub consumer_name: String,
    /// `CONSUMER_CLAIM_IDLE_MS`: entries another consumer left pending this
    /// long are taken over (default 30 s).
    pub claim_idle: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        Ok(Config {
            port: parse_env("PORT", DEFAULT_PORT)?,
            database: DatabaseConfig::from_env("users")?,
            redis_url: string_env("REDIS_URL", "redis://127.0.0.1:6379"),
            redis_key_prefix: string_env("REDIS_KEY_PREFIX", ""),
            cache_ttl_seconds: parse_env("CACHE_TTL_SECONDS", 60)?,
            consumer_name: string_env("CONSUMER_NAME", &default_consumer_name()),
            claim_idle: Duration::from_millis(parse_env(
                "CONSUMER_CLAIM_IDLE_MS",
                CLAIM_IDLE.as_millis() as u64,
            )?),
        })
    }
}

/// `CONSUMER_NAME`, else `{hostname}-{pid}`: stable for one instance, so a
/// restarted container finds its own pending entries at once.
pub fn default_consumer_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "user-service".to_string());
    format!("{host}-{}", std::process::id())
}
