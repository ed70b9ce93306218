//! The expected shape of a lesson's traces: `lessons/NN-slug/check.yaml`.
//!
//! ```yaml
//! title: Your first trace
//! requests:                       # sent to the gateway, in order
//!   - method: POST
//!     path: /orders
//!     body: { user_id: "1", product: Laptop, quantity: 1 }
//!     status: 201                 # expected HTTP status
//!     repeat: 1                   # optional: send it this many times
//! trace:                          # every request's trace must look like this
//!   services: [api-gateway, order-service, user-service, inventory-service]
//!   spans:
//!     - { service: api-gateway, name: POST /orders, kind: server, root: true }
//!     - service: order-service
//!       name: POST /orders
//!       kind: server
//!       parent: { service: api-gateway, name: POST, kind: client }
//!       attributes:
//!         - { key: http.response.status_code, type: int64, value: 201 }
//!       events:
//!         - { name: order.confirmed }
//!       status: unset             # unset | ok | error
//!       min_duration_ms: 0
//!       optional: false           # true: check it only if it is there
//! sampling:                       # only for sampling lessons (see below)
//!   ratio: 0.25
//!   tolerance: 0.1                # optional; default: a binomial 4-sigma band
//! ```
//!
//! With `sampling`, requests carry no `traceparent` (a sampled parent would
//! make any parent-based sampler keep the trace); the trace ids are read from
//! the responses, and the share of requests that produced a trace is
//! compared with `ratio`.

use std::path::Path;

use serde::Deserialize;

use crate::model::{SpanKind, Status};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub title: String,
    pub requests: Vec<RequestSpec>,
    #[serde(default)]
    pub trace: TraceSpec,
    pub sampling: Option<SamplingSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default = "default_method")]
    pub method: String,
    /// Path and query on the gateway, e.g. `/orders?delay=1500`.
    pub path: String,
    /// A JSON body (written as YAML).
    pub body: Option<serde_json::Value>,
    /// The status the gateway should answer.
    pub status: Option<u16>,
    #[serde(default = "one")]
    pub repeat: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    /// Services that must have spans in the trace.
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub spans: Vec<SpanSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanSpec {
    pub service: String,
    pub name: String,
    pub kind: Option<KindSpec>,
    /// The span has no parent within the trace.
    #[serde(default)]
    pub root: bool,
    pub parent: Option<SpanRef>,
    #[serde(default)]
    pub attributes: Vec<AttributeSpec>,
    #[serde(default)]
    pub events: Vec<EventSpec>,
    pub status: Option<StatusSpec>,
    pub min_duration_ms: Option<u64>,
    /// Checked only when present (e.g. `SELECT users` happens on a cache miss).
    #[serde(default)]
    pub optional: bool,
}

/// Points at another expected span: service + name (+ kind).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanRef {
    pub service: String,
    pub name: String,
    pub kind: Option<KindSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    pub key: String,
    /// `string`, `int64`, `bool` or `float64`, as Jaeger shows them.
    #[serde(rename = "type")]
    pub value_type: Option<TypeSpec>,
    /// If given, the value must be equal.
    pub value: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    pub name: String,
    #[serde(default)]
    pub attributes: Vec<AttributeSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingSpec {
    /// Expected share of requests that are traced, 0.0 to 1.0.
    pub ratio: f64,
    /// Allowed absolute difference of the observed share.
    pub tolerance: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KindSpec {
    #[serde(alias = "SERVER")]
    Server,
    #[serde(alias = "CLIENT")]
    Client,
    #[serde(alias = "INTERNAL")]
    Internal,
    #[serde(alias = "PRODUCER")]
    Producer,
    #[serde(alias = "CONSUMER")]
    Consumer,
}

impl From<KindSpec> for SpanKind {
    fn from(kind: KindSpec) -> Self {
        match kind {
            KindSpec::Server => SpanKind::Server,
            KindSpec::Client => SpanKind::Client,
            KindSpec::Internal => SpanKind::Internal,
            KindSpec::Producer => SpanKind::Producer,
            KindSpec::Consumer => SpanKind::Consumer,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum TypeSpec {
    #[serde(rename = "string")]
    String,
    #[serde(rename = "int64", alias = "int")]
    Int64,
    #[serde(rename = "bool")]
    Bool,
    #[serde(rename = "float64", alias = "float")]
    Float64,
}

impl TypeSpec {
    /// Jaeger's name of the type, as [`crate::model::Value::type_name`].
    pub fn name(self) -> &'static str {
        match self {
            TypeSpec::String => "string",
            TypeSpec::Int64 => "int64",
            TypeSpec::Bool => "bool",
            TypeSpec::Float64 => "float64",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusSpec {
    #[serde(alias = "UNSET")]
    Unset,
    #[serde(alias = "OK")]
    Ok,
    #[serde(alias = "ERROR")]
    Error,
}

impl From<StatusSpec> for Status {
    fn from(status: StatusSpec) -> Self {
        match status {
            StatusSpec::Unset => Status::Unset,
            StatusSpec::Ok => Status::Ok,
            StatusSpec::Error => Status::Error,
        }
    }
}

fn default_method() -> String {
    "GET".to_string()
}

fn one() -> usize {
    1
}

impl Spec {
    /// Parses a check file; errors name the file and the problem.
    pub fn parse(text: &str) -> Result<Spec, String> {
        let spec: Spec = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        if spec.requests.is_empty() {
            return Err("`requests` is empty: a check needs at least one request".into());
        }
        if let Some(sampling) = &spec.sampling {
            if !(0.0..=1.0).contains(&sampling.ratio) {
                return Err(format!(
                    "sampling.ratio {} is not within 0..=1",
                    sampling.ratio
                ));
            }
        }
        Ok(spec)
    }

    pub fn load(path: &Path) -> anyhow::Result<Spec> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Spec::parse(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a valid check file: {e}", path.display()))
    }

    /// True for sampling lessons: no `traceparent`, ids from the responses.
    pub fn reads_ids_from_responses(&self) -> bool {
        self.sampling.is_some()
    }

    /// Every service the trace must contain: listed ones plus those of
    /// required spans.
    pub fn required_services(&self) -> Vec<&str> {
        let mut services: Vec<&str> = self.trace.services.iter().map(String::as_str).collect();
        for span in self.trace.spans.iter().filter(|s| !s.optional) {
            if !services.contains(&span.service.as_str()) {
                services.push(&span.service);
            }
        }
        services
    }
}

impl SpanSpec {
    /// `order-service POST /orders (server)`: how findings name a span.
    pub fn label(&self) -> String {
        label(&self.service, &self.name, self.kind)
    }
}

impl SpanRef {
    pub fn label(&self) -> String {
        label(&self.service, &self.name, self.kind)
    }
}

fn label(service: &str, name: &str, kind: Option<KindSpec>) -> String {
    match kind {
        Some(kind) => format!("{service} {name} ({})", SpanKind::from(kind).as_str()),
        None => format!("{service} {name}"),
    }
}
