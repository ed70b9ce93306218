//! The plumbing every service shares that is *not* about tracing: reaching
//! Postgres, answering `/health`, JSON errors, and stopping cleanly.
//!
//! # Layout
//!
//! - [`config`]: environment variables with defaults.
//! - [`lifecycle`]: the `main` of every service (`--health`, telemetry, run, flush).
//! - [`downstream`]: reading another service's answer; what its failures become.
//! - [`postgres`]: create the database if missing, run migrations, keep
//!   retrying with backoff while Postgres is down.
//! - [`json`]: the `{"error", "trace_id"}` body, and JSON body and path
//!   extractors whose rejections (bad JSON, wrong content type, too large,
//!   undecodable path) use it.
//! - [`health`]: the `/health` handler shape and the `--health` probe used
//!   by container healthchecks.
//! - [`router`]: the layers around every API (tracing, panics, limits, 404s).
//! - [`serve`]: serve until SIGTERM/Ctrl-C, then drain with a deadline.

pub mod config;
pub mod downstream;
pub mod health;
pub mod json;
pub mod lifecycle;
pub mod postgres;
pub mod router;
pub mod serve;

pub use json::{error_response, failure_response, ApiJson, ApiPath};
