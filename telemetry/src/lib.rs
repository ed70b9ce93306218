//! Everything the four services share about OpenTelemetry, in one place.
//!
//! A service calls [`init`] once at start-up, wraps its router with
//! [`server::trace_requests`], talks to other services through
//! [`client::ServiceClient`], wraps each database or cache call in a span from
//! [`db`], and calls [`Telemetry::shutdown`] on the way out.
//!
//! # Layout
//!
//! - [`settings`]: the standard `OTEL_*` environment variables, parsed and
//!   checked (bad values are start-up errors, never silence).
//! - [`provider`]: the tracer provider: OTLP exporter (http/protobuf or
//!   grpc), batch span processor, sampler, resource (`service.name`).
//! - [`export`]: an exporter wrapper that counts failed exports and warns, so
//!   a dead collector is visible.
//! - [`sampler`]: the standard samplers plus the workshop's `rules` and
//!   `ratelimit` samplers.
//! - [`logging`]: the `tracing` subscriber: JSON log lines that carry the
//!   `trace_id` and `span_id` of the request they were written for.
//! - [`propagation`]: W3C `traceparent` + `baggage` headers in and out, and
//!   the `traceresponse` header.
//! - [`server`]: the axum middleware that continues (or starts) a trace for
//!   every request, opens its SERVER span and records a [`server::Failure`].
//! - [`client`]: one typed client per callee; it opens a CLIENT span per call,
//!   injects the trace context into the outgoing headers and records how the
//!   call went; [`client::answer`] says what a failed call becomes.
//! - [`db`]: CLIENT spans for Postgres and Redis calls (sqlx and redis create
//!   none themselves).
//! - [`messaging`]: PRODUCER and CONSUMER spans, and the trace context carried
//!   in a message's fields (the order stream).
//! - [`errors`]: how an error is recorded on a span (status + `exception`).
//! - [`fault`]: `?delay=` / `?fail=` fault injection, carried as baggage.

pub mod client;
pub mod db;
pub mod errors;
pub mod export;
pub mod fault;
pub mod logging;
pub mod messaging;
pub mod propagation;
pub mod provider;
pub mod sampler;
pub mod server;
pub mod settings;

pub use propagation::current_trace_id;
pub use provider::Telemetry;
pub use settings::Settings;

/// Sets up tracing for a service: reads the environment, installs the W3C
/// propagators, the tracer provider and the global `tracing` subscriber.
///
/// Call it once, from `main`, inside the Tokio runtime (the grpc exporter
/// needs one). Keep the returned [`Telemetry`] and call
/// [`Telemetry::shutdown`] after the server stops, or the last spans are lost.
pub fn init(default_service_name: &str) -> Result<Telemetry, settings::SettingsError> {
    let settings = Settings::from_env(default_service_name)?;
    propagation::install_propagators();
    server::set_baggage_span_keys(settings.baggage_span_keys.clone());
    // Building the provider reads the sampler settings, which logs what it
    // found; the real subscriber needs the provider, so log through a
    // temporary one meanwhile.
    let telemetry =
        tracing::dispatcher::with_default(&logging::startup_dispatch(&settings), || {
            Telemetry::from_settings(&settings)
        })?;
    logging::install(&settings, &telemetry);
    telemetry.log_startup(&settings);
    Ok(telemetry)
}
