//! Test support: a whole workshop stack in one test process.
//!
//! [`TestStack::start`] creates three fresh databases (unique names, dropped
//! afterwards), picks a unique Redis key prefix, and starts the four
//! services on ephemeral ports against real Postgres and Redis.
//!
//! One process normally has one tracer provider and so one `service.name`.
//! To know which service emitted which span, each service here runs on its
//! own thread, with its own current-thread Tokio runtime, its own tracer
//! provider (exporting to its own in-memory exporter) and its own `tracing`
//! dispatcher set as that thread's default. Everything a service does runs
//! on its thread, so its spans land in its exporter.
//!
//! Environment: `TEST_DATABASE_URL` (a server URL, default
//! `postgres://postgres@127.0.0.1:5432`), `TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`), `TEST_LOG=1` to see the services' logs.

mod logs;
mod proxy;
mod resources;
mod service_thread;
mod spans;
mod stack;

pub use logs::show_logs;
pub use proxy::RedisProxy;
pub use resources::{
    database_server_url, drop_databases, drop_streams, free_port, redis_url, unique_name,
};
pub use spans::{attr, event, has_event, CollectedSpan, TraceView};
pub use stack::{ServiceName, StackOptions, TestStack, GATEWAY, INVENTORY, ORDER, USER};
