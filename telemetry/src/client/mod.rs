//! The calling side: one typed client per service we call, one CLIENT span
//! per request, and the trace context injected into its headers.
//!
//! The downstream SERVER span becomes a child of *this* CLIENT span, because
//! the `traceparent` we send names this span's id. That is how Jaeger can
//! draw one tree across processes.
//!
//! A service keeps one [`ServiceClient`] per callee (see its `clients.rs`):
//!
//! ```text
//! let inventory = ServiceClient::new("inventory-service", base_url, http);
//! let product: Product = inventory.get_json("/inventory/LAPTOP-01").await?;
//! ```
//!
//! What a failed call becomes for *our* caller (502, 503, a passed-on 404)
//! is in [`answer`].

pub mod answer;

use std::time::Duration;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::{KeyValue, Value};
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, SERVER_ADDRESS, SERVER_PORT, URL_FULL,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use url::Url;

pub use answer::CallError;

use crate::{errors, propagation};

/// How long a downstream call may take in total. Longer than the largest
/// injected delay (10 s), so `?delay=` never turns into a timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP connection pool a service shares between its clients.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("a plain-HTTP reqwest client always builds")
}

/// Calls one other service. Cheap to clone (the connection pool is shared).
#[derive(Clone, Debug)]
pub struct ServiceClient {
    /// The callee's name, used in error sentences ("inventory-service is
    /// unreachable").
    name: &'static str,
    /// Parsed at start-up, so a typo in `*_SERVICE_URL` stops the service
    /// there instead of failing every request.
    base_url: Url,
    http: reqwest::Client,
    /// Baggage entries to add to every request (see [`Self::with_baggage`]).
    extra_baggage: Vec<KeyValue>,
}

impl ServiceClient {
    pub fn new(name: &'static str, base_url: Url, http: reqwest::Client) -> Self {
        ServiceClient {
            name,
            base_url,
            http,
            extra_baggage: Vec::new(),
        }
    }

    /// The callee's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A copy of this client that adds `entries` to the baggage of every
    /// request it sends (the gateway uses it to carry fault injection).
    pub fn with_baggage(&self, entries: Vec<KeyValue>) -> Self {
        let mut client = self.clone();
        client.extra_baggage.extend(entries);
        client
    }

    /// `GET {base}{path}`, answer read as JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, CallError> {
        let request = self.http.request(Method::GET, self.url(path)?);
        answer::read_json(self.name, self.send(request).await).await
    }

    /// `POST {base}{path}` with a JSON body, answer read as JSON.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CallError> {
        let request = self.http.request(Method::POST, self.url(path)?).json(body);
        answer::read_json(self.name, self.send(request).await).await
    }

    /// `DELETE {base}{path}`; any 2xx is success.
    pub async fn delete(&self, path: &str) -> Result<(), CallError> {
        let request = self.http.request(Method::DELETE, self.url(path)?);
        answer::read_empty(self.name, self.send(request).await).await
    }

    fn url(&self, path: &str) -> Result<Url, CallError> {
        self.base_url.join(path).map_err(|error| CallError::Failed {
            service: self.name,
            message: "we could not build a request for it".to_string(),
            detail: format!("{}{path} is not a valid URL: {error}", self.base_url),
        })
    }

    /// Sends `request` inside a CLIENT span, with the current trace context
    /// (and its baggage) in the headers.
    // LESSON 05: context propagation, the sending side.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = request.build()?;
        let span = client_span(&request);

        // `span.context()` is the context *with this CLIENT span active*:
        // injecting it makes the callee's SERVER span our child.
        let mut cx = span.context();
        if !self.extra_baggage.is_empty() {
            let mut entries: Vec<KeyValue> = cx
                .baggage()
                .iter()
                .map(|(key, (value, _))| KeyValue::new(key.clone(), Value::String(value.clone())))
                .collect();
            entries.extend(self.extra_baggage.iter().cloned());
            cx = cx.with_baggage(entries);
        }
        propagation::inject(&cx, request.headers_mut());

        let result = self.http.execute(request).instrument(span.clone()).await;
        record_outcome(&span, &result);
        result
    }
}

/// The CLIENT span of one request, named by its method (HTTP conventions).
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

/// Records how the call went on its CLIENT span: this is the one place a
/// CLIENT span's status is set.
// LESSON 04: on a CLIENT span both 4xx and 5xx are errors.
fn record_outcome(span: &Span, result: &Result<reqwest::Response, reqwest::Error>) {
    match result {
        Ok(response) => {
            let status = response.status();
            span.record(HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
            // The call did not get what it asked for; nothing was thrown,
            // so a status without an `exception` event.
            if status.is_client_error() || status.is_server_error() {
                errors::record_error_status(
                    span,
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
            errors::record_exception(span, kind, &error.to_string());
        }
    }
}
