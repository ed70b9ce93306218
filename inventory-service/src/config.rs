//! Settings from the environment (all optional, defaults for a local run).

use service_kit::config::{parse_env, string_env};

/// Everything inventory-service needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// `PORT`, bound on 0.0.0.0. 0 picks a free port (tests).
    pub port: u16,
    /// `DATABASE_URL`: the `inventory` database (created if missing).
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`: pool size.
    pub max_connections: u32,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        Ok(Config {
            port: parse_env("PORT", 8083)?,
            database_url: string_env(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/inventory",
            ),
            max_connections: parse_env("DATABASE_MAX_CONNECTIONS", 5)?,
        })
    }
}
