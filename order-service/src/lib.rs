//! order-service: takes an order, checks the user, reserves stock, saves it.
//!
//! # Layout
//!
//! - `main.rs`: the life of the process: config, telemetry, serve, flush.
//! - `config.rs`: settings from the environment.
//! - `routes.rs`: the HTTP handlers; `create_order` makes the workshop's
//!   main trace (validate → user → reserve → price → save).
//! - `clients.rs`: calls to user-service and inventory-service (CLIENT spans).
//! - `db.rs`: Postgres queries, each in a CLIENT span; an order is saved
//!   with its event (the outbox).
//! - `relay.rs`: sends saved events to the Redis stream `orders` (a PRODUCER
//!   span each, continuing the order's trace).
//! - `error.rs`: the service's error type → JSON response + failure description.

pub mod clients;
pub mod config;
pub mod db;
pub mod error;
pub mod relay;
pub mod routes;

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use service_kit::postgres::Database;
use service_kit::serve::Server;
use telemetry::client::{http_client, ServiceClient};

use clients::{InventoryService, UserService};
pub use config::Config;

/// The name faults and spans know this service by.
pub const SERVICE_NAME: &str = "order-service";

/// Schema, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Database,
    pub users: UserService,
    pub inventory: InventoryService,
    /// Wakes the relay after an order's event is committed.
    pub outbox: relay::Outbox,
}

/// The service's routes. `/health` is outside the tracing layer: a probe
/// every few seconds would drown the interesting traces.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/orders",
            post(routes::create_order).get(routes::list_orders),
        )
        .route("/orders/{id}", get(routes::get_order))
        .with_state(state.clone());
    service_kit::router::api_defaults(api)
        // LESSON 05: every request gets a SERVER span that continues the
        // caller's trace (the `traceparent` header).
        .layer(middleware::from_fn(telemetry::server::trace_requests))
        .route("/health", get(health).with_state(state))
}

async fn health(State(state): State<AppState>) -> Response {
    // Redis down: events wait in the outbox, orders still work: "degraded".
    let (postgres, redis) = tokio::join!(state.db.ping(), state.outbox.redis_reachable());
    service_kit::health::response(postgres, Some(redis))
}

/// A built service: listening, connected (or connecting) to Postgres.
pub struct Application {
    server: Server,
    state: AppState,
}

impl Application {
    /// Binds `0.0.0.0:{port}` and starts preparing the database.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        let db = Database::connect(&config.database, &MIGRATOR).map_err(std::io::Error::other)?;
        // One connection pool, shared by both clients.
        let http = http_client();
        let users = UserService(ServiceClient::new(
            "user-service",
            config.user_service_url,
            http.clone(),
        ));
        let inventory = InventoryService(ServiceClient::new(
            "inventory-service",
            config.inventory_service_url,
            http,
        ));
        let outbox = relay::Outbox::new(&config.redis_url, &config.redis_key_prefix)
            .map_err(std::io::Error::other)?;
        let server = Server::bind(config.port, SERVICE_NAME).await?;
        Ok(Application {
            server,
            state: AppState {
                db,
                users,
                inventory,
                outbox,
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

    /// Serves until `shutdown` completes, then drains; the outbox relay
    /// runs alongside and stops last, after the entry in hand.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_relay, stopped) = tokio::sync::watch::channel(false);
        let relay = self
            .state
            .outbox
            .clone()
            .relay(self.state.db.clone(), stopped);
        let relay = tokio::spawn(relay);
        let served = self.server.run_until(router(self.state), shutdown).await;
        let _ = stop_relay.send(true);
        let _ = relay.await;
        served
    }
}
