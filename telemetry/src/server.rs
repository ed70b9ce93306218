//! The SERVER span of every request: continue the caller's trace, or start one.
//!
//! [`trace_requests`] is axum middleware. For each request it
//!
//! 1. extracts the caller's context from `traceparent` / `baggage`,
//! 2. creates the SERVER span named `{METHOD} {route}`, with the attributes a
//!    sampler may look at, and sets the remote context as its parent **before
//!    the span is first entered** (tracing-opentelemetry starts the OTel span,
//!    and asks the sampler, at that moment: a parent set later is ignored),
//!    and copies the baggage entries named in `BAGGAGE_SPAN_KEYS` onto it
//!    as attributes (an allowlist: see [`copy_baggage`]),
//! 3. runs the handler inside the span,
//! 4. records the status code and, on a 5xx, the failure: status ERROR and an
//!    `exception` event built from the [`Failure`] the service's error type
//!    put in the response (4xx is not an error on a SERVER span: a bad
//!    request is the client's problem, not a failure of this server),
//! 5. adds a `traceresponse` header so the caller learns the trace id, and
//!    writes one log line that carries the ids.
//!
//! This is the only place a SERVER span's status is set: the services'
//! `error.rs` *describe* a failure; they never touch the span.
//!
//! Mount it with `Router::layer` so that the matched route (`/users/{id}`,
//! not `/users/7`) is known when the span is created.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, URL_PATH, URL_SCHEME,
};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{errors, propagation, settings};

/// The baggage keys copied onto SERVER spans, set once by [`crate::init`].
static BAGGAGE_SPAN_KEYS: OnceLock<Vec<String>> = OnceLock::new();

/// Sets the baggage keys [`copy_baggage`] copies (from `Settings`). The
/// first call wins; without one, `BAGGAGE_SPAN_KEYS` is read on first use.
pub fn set_baggage_span_keys(keys: Vec<String>) {
    let _ = BAGGAGE_SPAN_KEYS.set(keys);
}

/// The baggage keys every SERVER span copies (`BAGGAGE_SPAN_KEYS`).
pub fn baggage_span_keys() -> &'static [String] {
    BAGGAGE_SPAN_KEYS.get_or_init(settings::baggage_span_keys)
}

/// What went wrong in a request, as the service's error type describes it.
///
/// A handler's error puts one in its response's extensions
/// (`response.extensions_mut().insert(failure)`); [`trace_requests`] reads it
/// and records it on the SERVER span. `error_type` becomes `exception.type`
/// (a short, stable name such as `InjectedFailure`); `message` may hold
/// internal detail: it goes to the span and the log, never to the client.
#[derive(Clone, Debug)]
pub struct Failure {
    pub error_type: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(error_type: &'static str, message: impl Into<String>) -> Self {
        Failure {
            error_type,
            message: message.into(),
        }
    }
}

/// axum middleware: one SERVER span per request (see the module docs).
// LESSON 05: context propagation, the receiving side.
pub async fn trace_requests(request: Request, next: Next) -> Response {
    let span = server_span(&request);
    let started = Instant::now();

    let mut response = next.run(request).instrument(span.clone()).await;

    let status = response.status();
    // Status codes are integers in OTel: cast to i64 (u64 would be recorded
    // as a string by the tracing bridge).
    span.record(HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
    let failure = response.extensions_mut().remove::<Failure>();
    // LESSON 04: on a SERVER span only 5xx is an error.
    if status.is_server_error() {
        match &failure {
            Some(failure) => errors::record_exception(&span, failure.error_type, &failure.message),
            // A 5xx nobody described (a bug in a layer): still a failure.
            None => errors::record_error_status(
                &span,
                status.as_str(),
                &format!("HTTP {}", status.as_u16()),
            ),
        }
    }
    let span_context = span.context().span().span_context().clone();
    if let Some(value) = propagation::traceresponse(&span_context) {
        response.headers_mut().insert("traceresponse", value);
    }
    // One log line per request, carrying its ids (the formatter finds them
    // in the current span). `parent: None` keeps it out of the trace: the
    // span already has the status, the exception and the duration.
    let status_code = i64::from(status.as_u16());
    let elapsed_ms = started.elapsed().as_millis() as i64;
    span.in_scope(|| {
        if let Some(f) = &failure {
            if status.is_server_error() {
                tracing::error!(parent: None, status = status_code, error.type = f.error_type, error = %f.message, "request failed");
            } else {
                tracing::info!(parent: None, status = status_code, error.type = f.error_type, error = %f.message, "request rejected");
            }
        }
        tracing::info!(parent: None, status = status_code, elapsed_ms, "request finished");
    });
    response
}

/// Creates the SERVER span for `request`, parented by the remote context.
fn server_span(request: &Request) -> Span {
    let method = request.method().as_str();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    // Span name per the HTTP conventions: `{method} {route}`, or just the
    // method when no route matched (never the raw path: it has ids in it).
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    // The fields given here are what a sampler sees: `otel.name`, the kind,
    // the method and the route. Anything recorded later is too late for it.
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = %name,
        otel.kind = "server",
        { HTTP_REQUEST_METHOD } = %method,
        { HTTP_ROUTE } = route.as_deref(),
        { URL_PATH } = %request.uri().path(),
        // The services serve plain HTTP (TLS, if any, ends in front of them).
        { URL_SCHEME } = "http",
        { HTTP_RESPONSE_STATUS_CODE } = Empty,
    );
    // No usable `traceparent` (absent or garbage) extracts as an empty
    // context: the span then becomes the root of a new trace.
    let parent = propagation::extract(request.headers());
    copy_baggage(&span, &parent);
    // Only before the span is first entered: later it fails (AlreadyStarted).
    if let Err(error) = span.set_parent(parent) {
        propagation::warn_parent_not_set(&error);
    }
    span
}

/// Copies the baggage entries named in `BAGGAGE_SPAN_KEYS` from the caller's
/// context onto `span`, as string attributes under the same keys
/// (`baggage: request.source=mobile` → `request.source = "mobile"`).
///
/// Every service does this on its own SERVER span, so the value is
/// searchable on all of them. Only the listed keys: baggage comes from
/// outside (any client can send any entry), and an attribute is stored and
/// indexed by the backend. Read the baggage from `parent`, the extracted
/// context: nothing is current yet while the span is being built.
// LESSON 06: baggage entries become attributes of every SERVER span.
fn copy_baggage(span: &Span, parent: &Context) {
    use opentelemetry::baggage::BaggageExt;
    let baggage = parent.baggage();
    for key in baggage_span_keys() {
        if let Some(value) = baggage.get(key.as_str()) {
            span.set_attribute(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests;
