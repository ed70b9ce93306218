//! The SERVER span of every request: continue the caller's trace, or start one.
//!
//! [`trace_requests`] is axum middleware. For each request it
//!
//! 1. extracts the caller's context from `traceparent` / `baggage`,
//! 2. creates the SERVER span named `{METHOD} {route}`, with the attributes a
//!    sampler may look at, and sets the remote context as its parent **before
//!    the span is first entered** (tracing-opentelemetry starts the OTel span,
//!    and asks the sampler, at that moment: a parent set later is ignored),
//! 3. runs the handler inside the span,
//! 4. records the status code (5xx marks the span ERROR; 4xx does not: on a
//!    server, a bad request is the client's problem, not a failure),
//! 5. adds a `traceresponse` header so the caller learns the trace id, and
//!    writes one INFO log line that carries the ids.
//!
//! Mount it with `Router::layer` so that the matched route (`/users/{id}`,
//! not `/users/7`) is known when the span is created.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, URL_PATH,
};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{errors, propagation};

/// Put in a response's extensions by code that has already recorded the
/// error on the SERVER span, so [`trace_requests`] does not overwrite it.
#[derive(Clone, Copy, Debug)]
pub struct ErrorRecorded;

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
    // 5xx is a failure of this server. The service's error type usually
    // recorded why already (status + `exception`) and says so with an
    // `ErrorRecorded` marker; any other 5xx still marks the span.
    if status.is_server_error() && response.extensions().get::<ErrorRecorded>().is_none() {
        errors::record_error_status(&span, status.as_str(), &format!("HTTP {}", status.as_u16()));
    }
    let span_context = span.context().span().span_context().clone();
    if let Some(value) = propagation::traceresponse(&span_context) {
        response.headers_mut().insert("traceresponse", value);
    }
    // One log line per request, carrying its ids (the formatter finds them
    // in the current span). `parent: None` keeps it out of the trace: the
    // span already has the status and the duration.
    span.in_scope(|| {
        tracing::info!(
            parent: None,
            status = i64::from(status.as_u16()),
            elapsed_ms = started.elapsed().as_millis() as i64,
            "request finished"
        )
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
        { HTTP_RESPONSE_STATUS_CODE } = Empty,
    );
    // No usable `traceparent` (absent or garbage) extracts as an empty
    // context: the span then becomes the root of a new trace.
    let parent = propagation::extract(request.headers());
    let _ = span.set_parent(parent);
    span
}
