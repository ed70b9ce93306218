//! user-service: users in Postgres behind a Redis cache.
//!
//! # Layout
//!
//! - `main.rs`: the life of the process: config, telemetry, serve, flush.
//! - `config.rs`: settings from the environment.
//! - `routes.rs`: the HTTP handler (cache-aside read).
//! - `db.rs`: Postgres queries, each in a CLIENT span.
//! - `cache.rs`: Redis `GET` / `SET`, each in a CLIENT span; never fatal.
//! - `error.rs`: the service's error type → JSON response + failure description.

pub mod cache;
pub mod config;
pub mod consumer;
pub mod db;
pub mod error;
pub mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{middleware, Router};
use service_kit::postgres::Database;
use service_kit::serve::Server;

use cache::UserCache;
pub use config::Config;

/// The name faults and spans know this service by.
pub const SERVICE_NAME: &str = "user-service";

/// Schema and seed data, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Database,
    pub cache: Arc<UserCache>,
}

/// The service's routes. `/health` is outside the tracing layer: a probe
/// every few seconds would drown the interesting traces.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/users/{id}", get(routes::get_user))
        .with_state(state.clone());
    service_kit::router::api_defaults(api)
        // LESSON 05: every request gets a SERVER span that continues the
        // caller's trace (the `traceparent` header).
        .layer(middleware::from_fn(telemetry::server::trace_requests))
        .route("/health", get(health).with_state(state))
}

async fn health(State(state): State<AppState>) -> Response {
    let (postgres, redis) = tokio::join!(state.db.ping(), state.cache.ping());
    service_kit::health::response(postgres, Some(redis))
}

/// A built service: listening, connected (or connecting) to Postgres.
pub struct Application {
    server: Server,
    state: AppState,
}

impl Application {
    /// Binds `0.0.0.0:{port}`, starts preparing the database; Redis is
    /// connected on first use.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        let db = Database::connect(&config.database, &MIGRATOR).map_err(std::io::Error::other)?;
        let cache = UserCache::new(
            &config.redis_url,
            &config.redis_key_prefix,
            config.cache_ttl_seconds,
        )
        .map_err(std::io::Error::other)?;
        let server = Server::bind(config.port, SERVICE_NAME).await?;
        Ok(Application {
            server,
            state: AppState {
                db,
                cache: Arc::new(cache),
            },
        })
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Waits until the database is ready (tests use it).
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        self.state.db.wait_ready(timeout).await
    }

    /// Serves until `shutdown` completes, then drains.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.server.run_until(router(self.state), shutdown).await
    }
}
