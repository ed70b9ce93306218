//! Settings from the environment (all optional, defaults for a local run).
//! A value that does not parse is an error naming its variable.

use service_kit::config::{parse_env, url_env};
use url::Url;

/// `PORT` when unset: the port docs/architecture.md gives the gateway.
pub const DEFAULT_PORT: u16 = 8080;

/// Everything api-gateway needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// `PORT`, bound on 0.0.0.0. 0 picks a free port (tests).
    pub port: u16,
    /// `ORDER_SERVICE_URL`: where orders are forwarded.
    pub order_service_url: Url,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        Ok(Config {
            port: parse_env("PORT", DEFAULT_PORT)?,
            order_service_url: url_env("ORDER_SERVICE_URL", "http://127.0.0.1:8081")?,
        })
    }
}
