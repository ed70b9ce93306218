//! Settings from the environment (all optional, defaults for a local run).
//! A value that does not parse is an error naming its variable.

use service_kit::config::parse_env;
use service_kit::postgres::DatabaseConfig;

/// `PORT` when unset: the port docs/architecture.md gives inventory-service.
pub const DEFAULT_PORT: u16 = 8083;

/// Everything inventory-service needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// `PORT`, bound on 0.0.0.0. 0 picks a free port (tests).
    pub port: u16,
    /// `DATABASE_URL`, `DATABASE_MAX_CONNECTIONS`: the `inventory` database.
    pub database: DatabaseConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        Ok(Config {
            port: parse_env("PORT", DEFAULT_PORT)?,
            database: DatabaseConfig::from_env("inventory")?,
        })
    }
}
