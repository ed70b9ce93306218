//! api-gateway: the workshop's front door on port 8080.
//!
//! # Layout
//!
//! - `main.rs`: the life of the process: config, telemetry, serve, flush.
//! - `config.rs`: settings from the environment.
//! - `routes.rs`: `POST /orders`, `GET /orders/{id}`: fault parameters,
//!   forwarding to order-service, the response with its `trace_id`.
//! - `clients.rs`: the calls to order-service (CLIENT spans, baggage).
//! - `error.rs`: the gateway's error type → JSON response + failure description.
//!
//! The gateway is the trust boundary for fault injection: `fault.*` baggage
//! from outside is removed before anything reads it ([`router`]).

pub mod clients;
pub mod config;
pub mod error;
pub mod routes;

use std::future::Future;

use axum::extract::Request;
use axum::middleware::{self, map_request};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use service_kit::serve::Server;
use telemetry::client::{http_client, ServiceClient};

use clients::OrderService;
pub use config::Config;

/// The name faults and spans know this service by.
pub const SERVICE_NAME: &str = "api-gateway";

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub orders: OrderService,
}

/// The gateway's routes. `/health` is outside the tracing layer: a probe
/// every few seconds would drown the interesting traces.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/orders",
            post(routes::create_order).get(routes::list_orders),
        )
        .route("/orders/{id}", get(routes::get_order))
        .with_state(state);
    service_kit::router::api_defaults(api)
        // LESSON 05: every request gets a SERVER span that continues the
        // caller's trace (the `traceparent` header).
        .layer(middleware::from_fn(telemetry::server::trace_requests))
        // Outermost, so it runs before the SERVER span reads the baggage.
        .layer(map_request(drop_outside_faults))
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
}

/// Faults may only come from this gateway's own query parameters.
async fn drop_outside_faults(mut request: Request) -> Request {
    telemetry::fault::strip_fault_baggage(request.headers_mut());
    request
}

/// A built gateway, listening.
pub struct Application {
    server: Server,
    state: AppState,
}

impl Application {
    /// Binds `0.0.0.0:{port}`.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        let orders = OrderService(ServiceClient::new(
            "order-service",
            config.order_service_url,
            http_client(),
        ));
        let server = Server::bind(config.port, SERVICE_NAME).await?;
        Ok(Application {
            server,
            state: AppState { orders },
        })
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Serves until `shutdown` completes, then drains.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.server.run_until(router(self.state), shutdown).await
    }
}
