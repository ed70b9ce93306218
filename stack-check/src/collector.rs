//! OpenTelemetry Collector configuration as typed data: components and
//! pipelines. Jaeger v2 is built on the collector, so config/jaeger.yaml has
//! the same shape. The checks on it are in `checks/pipelines.rs`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_yaml::Value;

use crate::compose::nullable;

/// Components by id (`type` or `type/name`) with their settings.
pub type Components = BTreeMap<String, Value>;

/// A collector configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CollectorConfig {
    #[serde(deserialize_with = "nullable")]
    pub receivers: Components,
    #[serde(deserialize_with = "nullable")]
    pub processors: Components,
    #[serde(deserialize_with = "nullable")]
    pub exporters: Components,
    #[serde(deserialize_with = "nullable")]
    pub connectors: Components,
    #[serde(deserialize_with = "nullable")]
    pub extensions: Components,
    pub service: ServiceSection,
}

/// The `service:` section: which extensions run, and the pipelines.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServiceSection {
    #[serde(deserialize_with = "nullable")]
    pub extensions: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub pipelines: BTreeMap<String, Pipeline>,
}

/// One pipeline: data flows receivers -> processors (in order) -> exporters.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Pipeline {
    #[serde(deserialize_with = "nullable")]
    pub receivers: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub processors: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub exporters: Vec<String>,
}

/// The `type` of a component id: `otlp_grpc` for `otlp_grpc/jaeger`.
pub fn component_type(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

/// Splits `host:port` (`0.0.0.0:4317`, `[::]:4317`, `:4317`).
pub fn host_port(endpoint: &str) -> Option<(&str, u16)> {
    let (host, port) = endpoint.rsplit_once(':')?;
    Some((host, port.parse().ok()?))
}

impl CollectorConfig {
    /// Parses the YAML text of a configuration.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }

    /// The ports of the first `otlp` receiver's `(grpc, http)` protocols.
    pub fn otlp_ports(&self) -> (Option<u16>, Option<u16>) {
        let Some((_, otlp)) = self
            .receivers
            .iter()
            .find(|(id, _)| component_type(id) == "otlp")
        else {
            return (None, None);
        };
        let port = |protocol: &str| {
            let endpoint = otlp.get("protocols")?.get(protocol)?.get("endpoint")?;
            Some(host_port(endpoint.as_str()?)?.1)
        };
        (port("grpc"), port("http"))
    }

    /// Every port a receiver or extension listens on (`endpoint: host:port`).
    pub fn listening_ports(&self) -> BTreeSet<u16> {
        let mut endpoints = Vec::new();
        for (id, config) in self.receivers.iter().chain(&self.extensions) {
            collect_endpoints(id, config, &mut endpoints);
        }
        endpoints
            .iter()
            .filter_map(|(_, e)| host_port(e).map(|(_, p)| p))
            .collect()
    }

    /// The ids of the pipelines that list `id` among their receivers / exporters.
    pub fn pipelines_using(&self, id: &str) -> (Vec<&str>, Vec<&str>) {
        let mut as_receiver = Vec::new();
        let mut as_exporter = Vec::new();
        for (name, p) in &self.service.pipelines {
            if p.receivers.iter().any(|r| r == id) {
                as_receiver.push(name.as_str());
            }
            if p.exporters.iter().any(|e| e == id) {
                as_exporter.push(name.as_str());
            }
        }
        (as_receiver, as_exporter)
    }
}

/// `endpoint: host:port` strings anywhere inside a component's settings;
/// URLs (`http://...`) are clients, not listeners, and are skipped.
pub(crate) fn collect_endpoints(id: &str, config: &Value, out: &mut Vec<(String, String)>) {
    match config {
        Value::Mapping(map) => {
            for (key, value) in map {
                match (key.as_str(), value.as_str()) {
                    (Some("endpoint"), Some(e)) if !e.contains("://") => {
                        out.push((id.to_string(), e.to_string()))
                    }
                    _ => collect_endpoints(id, value, out),
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| collect_endpoints(id, v, out)),
        _ => {}
    }
}
