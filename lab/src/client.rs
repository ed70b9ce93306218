//! Reads traces back through Jaeger's HTTP query API, from Jaeger v2.20 or
//! from `lab sink` (which answers the same API).

use std::time::Duration;

use crate::model::jaeger::{from_jaeger, Envelope, JTrace};
use crate::model::{Trace, TraceId};

/// The default query API address (Jaeger's UI port, also the sink's).
pub const DEFAULT_JAEGER: &str = "http://localhost:16686";

/// What went wrong talking to the trace backend, in words a learner can act on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no trace backend answers at {url} ({reason}).\n\
         Start one: `docker compose up -d` (Jaeger) or `cargo lab sink` (no Docker), \
         or point --jaeger at yours"
    )]
    Unreachable { url: String, reason: String },
    #[error("{url} answered {status}: {message}")]
    Api {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} sent a trace we could not read: {message}")]
    BadTrace { url: String, message: String },
}

/// A small client for the query API.
#[derive(Clone, Debug)]
pub struct JaegerClient {
    base: String,
    http: reqwest::Client,
}

impl JaegerClient {
    /// `base` is e.g. `http://localhost:16686` (a trailing `/` is fine).
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        JaegerClient {
            base: base.trim_end_matches('/').to_string(),
            http,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// One trace by id; `Ok(None)` when the backend does not have it (yet).
    pub async fn trace(&self, id: &TraceId) -> Result<Option<Trace>, ClientError> {
        let url = format!("{}/api/traces/{}", self.base, id);
        let (status, body) = self.get(&url, &[]).await?;
        if status == 404 {
            return Ok(None);
        }
        let traces = self.traces_from(&url, status, &body)?;
        Ok(traces.into_iter().next())
    }

    /// Recent traces that contain a span of `service`, most recent first.
    /// `start_us` narrows the search to traces that started after it.
    pub async fn find(
        &self,
        service: &str,
        limit: usize,
        start_us: Option<u64>,
    ) -> Result<Vec<Trace>, ClientError> {
        let url = format!("{}/api/traces", self.base);
        let mut query = vec![
            ("service", service.to_string()),
            ("limit", limit.to_string()),
        ];
        if let Some(start) = start_us {
            query.push(("start", start.to_string()));
            query.push(("end", (crate::now_us() + 60_000_000).to_string()));
        }
        let (status, body) = self.get(&url, &query).await?;
        let mut traces = self.traces_from(&url, status, &body)?;
        // Jaeger's storage decides the order of search results; sort so that
        // "most recent first" holds whatever backend answered.
        traces.sort_by_key(|t| std::cmp::Reverse(t.start_us()));
        Ok(traces)
    }

    /// Names of the services the backend has seen.
    pub async fn services(&self) -> Result<Vec<String>, ClientError> {
        let url = format!("{}/api/services", self.base);
        let (status, body) = self.get(&url, &[]).await?;
        let envelope: Envelope<Vec<String>> = parse(&url, status, &body)?;
        Ok(envelope.data.unwrap_or_default())
    }

    async fn get(&self, url: &str, query: &[(&str, String)]) -> Result<(u16, String), ClientError> {
        let unreachable = |error: reqwest::Error| ClientError::Unreachable {
            url: self.base.clone(),
            reason: root_cause(&error),
        };
        let response = self
            .http
            .get(url)
            .query(query)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(unreachable)?;
        Ok((status, body))
    }

    fn traces_from(&self, url: &str, status: u16, body: &str) -> Result<Vec<Trace>, ClientError> {
        let envelope: Envelope<Vec<JTrace>> = parse(url, status, body)?;
        envelope
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|t| {
                from_jaeger(t).map_err(|e| ClientError::BadTrace {
                    url: url.to_string(),
                    message: e.to_string(),
                })
            })
            .collect()
    }
}

/// The innermost error: "Connection refused (os error 111)" says more to a
/// learner than reqwest's outer "error sending request for url".
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

/// Parses an envelope; a non-2xx answer becomes an error with Jaeger's message.
fn parse<T: serde::de::DeserializeOwned>(
    url: &str,
    status: u16,
    body: &str,
) -> Result<Envelope<T>, ClientError> {
    let parsed = serde_json::from_str::<Envelope<T>>(body);
    if !(200..300).contains(&status) {
        let message = match &parsed {
            Ok(Envelope {
                errors: Some(errors),
                ..
            }) => errors
                .iter()
                .map(|e| e.msg.clone())
                .collect::<Vec<_>>()
                .join("; "),
            _ => body.chars().take(200).collect(),
        };
        return Err(ClientError::Api {
            url: url.to_string(),
            status,
            message,
        });
    }
    parsed.map_err(|e| ClientError::BadTrace {
        url: url.to_string(),
        message: e.to_string(),
    })
}
