//! The plumbing every service shares that is *not* about tracing: reaching
//! Postgres, answering `/health`, JSON errors, checking input, and stopping
//! cleanly. Everything a lesson teaches lives in the `telemetry` crate or in
//! the services themselves.
//!
//! # Layout
//!
//! - [`config`]: environment variables with defaults; a bad value is an
//!   error naming the variable.
//! - [`postgres`]: create the database if missing, run migrations, keep
//!   retrying with backoff while Postgres is down; [`postgres::DbError`],
//!   what a failed query means for the client (503 or 500).
//! - [`error_body`]: the `{"error", "trace_id"}` body of every error, and
//!   the failure description that rides along for the trace.
//! - [`extract`]: JSON body, path, path id and query extractors whose
//!   rejections (bad JSON, wrong content type, too large, undecodable path,
//!   an id that is not an integer, a bad query) use that body.
//! - [`rules`]: the id and quantity rules, each with its one sentence.
//! - [`text`]: text from outside is checked where it enters (400, not 500).
//! - [`health`]: the `/health` handler shape and the `--health` probe used
//!   by container healthchecks.
//! - [`router`]: the plumbing around every API (panics, limits, 404s).
//! - [`serve`]: serve until SIGTERM/Ctrl-C, then drain with a deadline.

pub mod config;
pub mod error_body;
pub mod extract;
pub mod health;
pub mod postgres;
pub mod router;
pub mod rules;
pub mod serve;
pub mod text;

pub use error_body::{error_response, failure_response};
pub use extract::{ApiId, ApiJson, ApiPath, ApiQuery};
