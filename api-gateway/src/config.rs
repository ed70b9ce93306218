//! Settings from the environment (all optional, defaults for a local run).

use service_kit::config::{parse_env, string_env};

/// Everything api-gateway needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// `PORT`, bound on 0.0.0.0. 0 picks a free port (tests).
    pub port: u16,
    /// `ORDER_SERVICE_URL`: where orders are forwarded.
    pub order_service_url: String,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        Ok(Config {
            port: parse_env("PORT", 8080)?,
            order_service_url: string_env("ORDER_SERVICE_URL", "http://127.0.0.1:8081"),
        })
    }
}
