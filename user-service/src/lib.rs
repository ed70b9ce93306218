//! user-service: users in Postgres behind a Redis cache.
//!
//! # Layout
//!
//! - `main.rs`: the life of the process: config, telemetry, serve, flush.
//! - `config.rs`: settings from the environment.
//! - `routes.rs`: the HTTP handler (cache-aside read).
//! - `db.rs`: Postgres queries, each in a CLIENT span.
//! - `cache.rs`: Redis `GET` / `SET` / `DEL`, each in a CLIENT span; never fatal.
//! - `consumer.rs`: reads the order stream (consumer group `user-service`),
//!   counts each order for its user once (a CONSUMER span each).
//! - `order_event.rs`: what a stream entry must hold; the rest is dead-lettered.
//! - `error.rs`: the service's error type → JSON response + failure description.

pub mod cache;
pub mod config;
pub mod consumer;
pub mod db;
pub mod error;
pub mod order_event;
pub mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use service_kit::postgres::Database;
use service_kit::serve::Server;

use cache::UserCache;
pub use config::Config;
use consumer::{Consumer, ConsumerConfig, ConsumerStats};

/// The name faults and spans know this service by.
pub const SERVICE_NAME: &str = "user-service";

/// Schema and seed data, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Database,
    pub cache: Arc<UserCache>,
    /// The order stream consumer's lag, for `/health`.
    pub consumer: ConsumerStats,
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
    let (status, mut body) = service_kit::health::status(postgres, Some(redis));
    body["consumer_pending"] = serde_json::json!(state.consumer.pending());
    (status, axum::Json(body)).into_response()
}

/// A built service: listening, connected (or connecting) to Postgres.
pub struct Application {
    server: Server,
    state: AppState,
    consumer: Consumer,
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
        let cache = Arc::new(cache);
        // Its own Redis connection: a blocking read must not hold up the cache.
        let consumer = Consumer::new(
            ConsumerConfig {
                redis_url: config.redis_url,
                key_prefix: config.redis_key_prefix,
                name: config.consumer_name,
                claim_idle: config.claim_idle,
            },
            db.clone(),
            cache.clone(),
        )
        .map_err(std::io::Error::other)?;
        let server = Server::bind(config.port, SERVICE_NAME).await?;
        Ok(Application {
            server,
            state: AppState {
                db,
                cache,
                consumer: consumer.stats(),
            },
            consumer,
        })
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Waits until the database is ready (tests use it).
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        self.state.db.wait_ready(timeout).await
    }

    /// Serves until `shutdown` completes, then drains; the order stream
    /// consumer runs alongside and stops last, after the entry in hand.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_consumer, stopped) = tokio::sync::watch::channel(false);
        let consumer = tokio::spawn(self.consumer.run(stopped));
        let served = self.server.run_until(router(self.state), shutdown).await;
        let _ = stop_consumer.send(true);
        let _ = consumer.await;
        served
    }
}
