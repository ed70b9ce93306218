//! The calling side: one CLIENT span per outgoing HTTP request, and the
//! trace context injected into its headers.
//!
//! The downstream SERVER span becomes a child of *this* CLIENT span, because
//! the `traceparent` we send names this span's id. That is how Jaeger can
//! draw one tree across processes.

use std::time::Duration;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::{KeyValue, Value};
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, SERVER_ADDRESS, SERVER_PORT, URL_FULL,
};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{errors, propagation};

/// How long a downstream call may take in total. Longer than the largest
/// injected delay (10 s), so `?delay=` never turns into a timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP client whose every request is a CLIENT span.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    pub fn new() -> Self {
        let inner = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("a plain-HTTP reqwest client always builds");
        HttpClient { inner }
    }

    /// The underlying reqwest client, to build requests with.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Sends `request` inside a CLIENT span, with the current trace context
    /// (and its baggage) in the headers.
    pub async fn send(
        &self,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.send_with_baggage(request, Vec::new()).await
    }

    /// Like [`HttpClient::send`], adding `extra_baggage` entries to the
    /// baggage that travels downstream (the gateway uses it for faults).
    // LESSON 05: context propagation, the sending side.
    pub async fn send_with_baggage(
        &self,
        mut request: reqwest::Request,
        extra_baggage: Vec<KeyValue>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let span = client_span(&request);

        // `span.context()` is the context *with this CLIENT span active*:
        // injecting it makes the callee's SERVER span our child.
        let mut cx = span.context();
        if !extra_baggage.is_empty() {
            let mut entries: Vec<KeyValue> = cx
                .baggage()
                .iter()
                .map(|(key, (value, _))| KeyValue::new(key.clone(), Value::String(value.clone())))
                .collect();
            entries.extend(extra_baggage);
            cx = cx.with_baggage(entries);
        }
        propagation::inject(&cx, request.headers_mut());

        let result = self.inner.execute(request).instrument(span.clone()).await;
        match &result {
            Ok(response) => {
                let status = response.status();
                span.record(HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
                // On a CLIENT span both 4xx and 5xx are errors: the call did
                // not get what it asked for.
                if status.is_client_error() || status.is_server_error() {
                    errors::record_error_status(
                        &span,
                        status.as_str(),
                        &format!("HTTP {}", status.as_u16()),
                    );
                }
            }
            Err(error) => {
                let kind = if error.is_timeout() {
                    "timeout"
                } else if error.is_connect() {
                    // Refused, unknown host, unreachable network...
                    "connect_error"
                } else {
                    "reqwest::Error"
                };
                errors::record_exception(&span, kind, &error.to_string());
            }
        }
        result
    }
}

fn client_span(request: &reqwest::Request) -> Span {
    let method = request.method().as_str();
    let url = request.url();
    tracing::info_span!(
        "HTTP client",
        otel.name = %method,
        otel.kind = "client",
        { HTTP_REQUEST_METHOD } = %method,
        { URL_FULL } = %url,
        { SERVER_ADDRESS } = url.host_str().unwrap_or_default(),
        { SERVER_PORT } = url.port_or_known_default().map(i64::from),
        { HTTP_RESPONSE_STATUS_CODE } = Empty,
    )
}
