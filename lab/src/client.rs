//! Reads traces back through Jaeger's HTTP query API, from Jaeger v2.20 or
//! from `lab sink` (which answers the same API).
//!
//! Two versions of that API exist. v1 (`/api/traces`, Jaeger's own JSON) is
//! what Jaeger 2.20 answers; newer Jaegers keep only v3 (`/api/v3/traces`,
//! OTLP JSON), and their UI answers every unknown path with its HTML page.
//! So the first call to a backend probes `/api/services`: JSON means v1;
//! otherwise `/api/v3/services` is tried. The answer is remembered for the
//! rest of the run (every client of the same address shares it).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::model::jaeger::{from_jaeger, Envelope, JTrace};
use crate::model::otlp::{read_stream, V3Services};
use crate::model::{Trace, TraceId};

/// Which query API a backend answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `/api/traces`, `/api/services`: Jaeger's JSON (Jaeger 2.20, the sink).
    V1,
    /// `/api/v3/traces`, `/api/v3/services`: OTLP JSON (newer Jaegers, the sink).
    V3,
}

/// How far back a v3 search looks when no start is given (v3 needs both bounds).
const V3_LOOKBACK_US: u64 = 24 * 3600 * 1_000_000;

/// The probe's answers for this run, by base URL.
fn probed() -> &'static Mutex<HashMap<String, Api>> {
    static PROBED: OnceLock<Mutex<HashMap<String, Api>>> = OnceLock::new();
    PROBED.get_or_init(Default::default)
}

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

    /// Where a learner opens the trace in a browser: the same path in
    /// Jaeger's UI and in the sink's web page.
    pub fn trace_url(&self, id: &TraceId) -> String {
        format!("{}/trace/{}", self.base, id)
    }

    /// Which API the backend answers: probed on first use, then remembered.
    /// A backend that answers neither is taken as v1, whose errors then
    /// say what went wrong.
    pub async fn api(&self) -> Result<Api, ClientError> {
        if let Some(api) = probed()
            .lock()
            .ok()
            .and_then(|m| m.get(&self.base).copied())
        {
            return Ok(api);
        }
        let v1 = format!("{}/api/services", self.base);
        let (status, body) = self.get(&v1, &[]).await?;
        // Jaeger's envelope always has `data` (null when it has no services yet).
        let is_v1 = (200..300).contains(&status)
            && serde_json::from_str::<serde_json::Value>(&body)
                .is_ok_and(|v| v.get("data").is_some());
        let api = if is_v1 {
            Api::V1
        } else {
            let v3 = format!("{}/api/v3/services", self.base);
            let (status, body) = self.get(&v3, &[]).await?;
            let is_v3 =
                (200..300).contains(&status) && serde_json::from_str::<V3Services>(&body).is_ok();
            if is_v3 {
                Api::V3
            } else {
                Api::V1
            }
        };
        if let Ok(mut map) = probed().lock() {
            map.insert(self.base.clone(), api);
        }
        Ok(api)
    }

    /// One trace by id; `Ok(None)` when the backend does not have it (yet).
    pub async fn trace(&self, id: &TraceId) -> Result<Option<Trace>, ClientError> {
        if self.api().await? == Api::V3 {
            let url = format!("{}/api/v3/traces/{}", self.base, id);
            let (status, body) = self.get(&url, &[]).await?;
            if status == 404 {
                return Ok(None);
            }
            return Ok(self.v3_traces(&url, status, &body)?.into_iter().next());
        }
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
        if self.api().await? == Api::V3 {
            return self.find_v3(service, limit, start_us).await;
        }
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

    async fn find_v3(
        &self,
        service: &str,
        limit: usize,
        start_us: Option<u64>,
    ) -> Result<Vec<Trace>, ClientError> {
        let url = format!("{}/api/v3/traces", self.base);
        let now = crate::now_us();
        let start = start_us.unwrap_or(now.saturating_sub(V3_LOOKBACK_US));
        let query = vec![
            ("query.service_name", service.to_string()),
            ("query.start_time_min", crate::time::format_us(start)),
            (
                "query.start_time_max",
                crate::time::format_us(now + 60_000_000),
            ),
            // Jaeger renamed num_traces to search_depth; each ignores the other.
            ("query.num_traces", limit.to_string()),
            ("query.search_depth", limit.to_string()),
        ];
        let (status, body) = self.get(&url, &query).await?;
        if status == 404 {
            // Jaeger's v3 answers an empty search with 404 "No traces found".
            return Ok(Vec::new());
        }
        let mut traces = self.v3_traces(&url, status, &body)?;
        traces.sort_by_key(|t| std::cmp::Reverse(t.start_us()));
        traces.truncate(limit);
        Ok(traces)
    }

    /// Names of the services the backend has seen.
    pub async fn services(&self) -> Result<Vec<String>, ClientError> {
        if self.api().await? == Api::V3 {
            let url = format!("{}/api/v3/services", self.base);
            let (status, body) = self.get(&url, &[]).await?;
            if !(200..300).contains(&status) {
                return Err(api_error(&url, status, &body));
            }
            let parsed: V3Services =
                serde_json::from_str(&body).map_err(|e| ClientError::BadTrace {
                    url: url.clone(),
                    message: e.to_string(),
                })?;
            return Ok(parsed.services);
        }
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

    fn v3_traces(&self, url: &str, status: u16, body: &str) -> Result<Vec<Trace>, ClientError> {
        if !(200..300).contains(&status) {
            return Err(api_error(url, status, body));
        }
        let (traces, error) = read_stream(body).map_err(|e| ClientError::BadTrace {
            url: url.to_string(),
            message: e.to_string(),
        })?;
        match error {
            Some(error) if traces.is_empty() => Err(ClientError::Api {
                url: url.to_string(),
                status: error.http_code,
                message: error.message,
            }),
            _ => Ok(traces),
        }
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

/// A non-2xx v3 answer: its `{"error": {"message"}}`, else the start of the body.
fn api_error(url: &str, status: u16, body: &str) -> ClientError {
    let message = read_stream(body)
        .ok()
        .and_then(|(_, error)| error)
        .map(|e| e.message)
        .unwrap_or_else(|| body.chars().take(200).collect());
    ClientError::Api {
        url: url.to_string(),
        status,
        message,
    }
}
