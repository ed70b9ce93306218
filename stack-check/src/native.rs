//! The collector configs `scripts/dev-up.sh` generates for a native
//! `otelcol-contrib` (`.lab/run/otel-collector.yaml`): the compose config
//! with localhost endpoints. The same pipeline checks as in compose, plus
//! what native means: every listener on 127.0.0.1, the OTLP receiver on the
//! stack's OTLP ports, and every OTLP exporter pointing at the sink.

use serde_yaml::Value;

use crate::checks::pipelines;
use crate::collector::{collect_endpoints, component_type, host_port, CollectorConfig};
use crate::problem::{Check, Problem, Report};

/// The ports a native stack gives its collector.
#[derive(Clone, Copy, Debug)]
pub struct NativePorts {
    /// The OTLP receiver (the services export here).
    pub otlp_grpc: u16,
    pub otlp_http: u16,
    /// The trace backend's OTLP receiver (lab sink), 10000 higher.
    pub sink_grpc: u16,
    pub sink_http: u16,
}

/// Checks a generated native collector config; `file` names it in messages.
pub fn check_native_collector(text: &str, file: &str, ports: NativePorts) -> Vec<Problem> {
    let mut report = Report::default();
    let cfg = match CollectorConfig::parse(text) {
        Ok(cfg) => cfg,
        Err(e) => {
            report.add(Check::Collector, format!("{file} does not parse: {e}"));
            return report.into_problems();
        }
    };
    pipelines::check_pipelines(&cfg, file, Check::Collector, &mut report);
    pipelines::check_contrib_names(&cfg, file, &mut report);
    pipelines::check_memory_limiter_first(&cfg, file, &mut report);

    let mut endpoints = Vec::new();
    for (id, config) in cfg.receivers.iter().chain(&cfg.extensions) {
        collect_endpoints(id, config, &mut endpoints);
    }
    for (id, endpoint) in &endpoints {
        match host_port(endpoint) {
            Some(("127.0.0.1" | "localhost", _)) => {}
            _ => report.add(
                Check::Collector,
                format!("{file}: `{id}` listens on {endpoint}: a native collector listens on 127.0.0.1 only"),
            ),
        }
    }
    let wanted = (Some(ports.otlp_grpc), Some(ports.otlp_http));
    if cfg.otlp_ports() != wanted {
        report.add(
            Check::Collector,
            format!(
                "{file}: the otlp receiver takes {:?}, expected gRPC {} and HTTP {} (where the services export)",
                cfg.otlp_ports(),
                ports.otlp_grpc,
                ports.otlp_http
            ),
        );
    }
    let mut to_sink = false;
    for (id, settings) in &cfg.exporters {
        let kind = component_type(id);
        let grpc = matches!(kind, "otlp_grpc" | "otlp");
        if !grpc && !matches!(kind, "otlp_http" | "otlphttp") {
            continue;
        }
        let endpoint = settings
            .get("endpoint")
            .and_then(Value::as_str)
            .unwrap_or("");
        let without_scheme = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
        let expected = if grpc {
            ports.sink_grpc
        } else {
            ports.sink_http
        };
        match host_port(without_scheme.trim_end_matches('/')) {
            Some(("127.0.0.1" | "localhost", port)) if port == expected => to_sink = true,
            _ => report.add(
                Check::Collector,
                format!("{file}: exporter `{id}` sends to `{endpoint}`, expected the sink at 127.0.0.1:{expected}"),
            ),
        }
    }
    if !to_sink {
        report.add(
            Check::Collector,
            format!("{file}: no OTLP exporter sends to the sink: traces would go nowhere"),
        );
    }
    report.into_problems()
}
