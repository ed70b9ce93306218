//! Checks on a collector-shaped config (the collector's and Jaeger's):
//! pipelines that hold together, listeners reachable from other containers,
//! and the component names of the pinned collector-contrib version.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::collector::{collect_endpoints, component_type, host_port, CollectorConfig, Components};
use crate::problem::{Check, Report};

/// Every pipeline names only defined components, has a receiver and an
/// exporter; every connector joins two pipelines; extensions are defined.
pub fn check_pipelines(cfg: &CollectorConfig, file: &str, check: Check, report: &mut Report) {
    if cfg.service.pipelines.is_empty() {
        report.add(
            check,
            format!("{file}: `service.pipelines` is empty: nothing flows"),
        );
    }
    for ext in &cfg.service.extensions {
        if !cfg.extensions.contains_key(ext) {
            report.add(
                check,
                format!("{file}: `service.extensions` names `{ext}`, which is not defined under `extensions:`"),
            );
        }
    }
    for (name, pipeline) in &cfg.service.pipelines {
        let signal = component_type(name);
        if !["traces", "metrics", "logs", "profiles"].contains(&signal) {
            report.add(
                check,
                format!(
                    "{file}: pipeline `{name}`: `{signal}` is not a signal (traces, metrics, logs)"
                ),
            );
        }
        if pipeline.receivers.is_empty() || pipeline.exporters.is_empty() {
            report.add(
                check,
                format!("{file}: pipeline `{name}` needs at least one receiver and one exporter"),
            );
        }
        let sections: [(&str, &[String], Vec<&Components>); 3] = [
            (
                "receiver",
                &pipeline.receivers,
                vec![&cfg.receivers, &cfg.connectors],
            ),
            ("processor", &pipeline.processors, vec![&cfg.processors]),
            (
                "exporter",
                &pipeline.exporters,
                vec![&cfg.exporters, &cfg.connectors],
            ),
        ];
        for (role, ids, defined_in) in sections {
            let mut seen = BTreeSet::new();
            for id in ids {
                if !seen.insert(id) {
                    report.add(
                        check,
                        format!("{file}: pipeline `{name}` lists {role} `{id}` twice"),
                    );
                }
                if !defined_in.iter().any(|m| m.contains_key(id)) {
                    let known: Vec<&str> = defined_in
                        .iter()
                        .flat_map(|m| m.keys().map(String::as_str))
                        .collect();
                    report.add(
                        check,
                        format!(
                            "{file}: pipeline `{name}` uses {role} `{id}`, which is not defined (defined: {})",
                            known.join(", ")
                        ),
                    );
                }
            }
        }
    }
    for id in cfg.connectors.keys() {
        let (as_receiver, as_exporter) = cfg.pipelines_using(id);
        if as_receiver.is_empty() || as_exporter.is_empty() {
            report.add(
                check,
                format!("{file}: connector `{id}` must be an exporter of one pipeline and a receiver of another (exporter of: [{}], receiver of: [{}])", as_exporter.join(", "), as_receiver.join(", ")),
            );
        }
        if let Some(both) = as_receiver.iter().find(|p| as_exporter.contains(p)) {
            report.add(check, format!("{file}: connector `{id}` is both receiver and exporter of pipeline `{both}` (a loop)"));
        }
        if matches!(component_type(id), "span_metrics" | "spanmetrics") {
            let wrong_in = as_exporter.iter().filter(|p| component_type(p) != "traces");
            let wrong_out = as_receiver
                .iter()
                .filter(|p| component_type(p) != "metrics");
            for p in wrong_in.chain(wrong_out) {
                report.add(check, format!("{file}: connector `{id}` turns traces into metrics: it cannot serve pipeline `{p}`"));
            }
        }
    }
}

/// Receivers and extensions listen on 0.0.0.0: since collector v0.104 an
/// endpoint left out defaults to localhost, unreachable from other containers.
pub fn check_binds(cfg: &CollectorConfig, file: &str, check: Check, report: &mut Report) {
    for (id, config) in &cfg.receivers {
        if component_type(id) != "otlp" {
            continue;
        }
        let protocols = config.get("protocols").and_then(Value::as_mapping);
        if protocols.is_none_or(|p| p.is_empty()) {
            report.add(
                check,
                format!("{file}: receiver `{id}` enables no protocol (grpc, http)"),
            );
        }
        for (protocol, settings) in protocols.into_iter().flatten() {
            if settings.get("endpoint").and_then(Value::as_str).is_none() {
                let protocol = protocol.as_str().unwrap_or("?");
                report.add(check, format!("{file}: receiver `{id}` protocol `{protocol}` has no `endpoint`: it defaults to localhost, unreachable from other containers; set 0.0.0.0:<port>"));
            }
        }
    }
    for (id, config) in &cfg.extensions {
        if component_type(id) == "health_check" && config.get("endpoint").is_none() {
            report.add(check, format!("{file}: extension `{id}` has no `endpoint`: it defaults to localhost:13133; set 0.0.0.0:13133"));
        }
    }
    let mut endpoints = Vec::new();
    for (id, config) in cfg.receivers.iter().chain(&cfg.extensions) {
        collect_endpoints(id, config, &mut endpoints);
    }
    for (id, endpoint) in endpoints {
        match host_port(&endpoint) {
            Some(("0.0.0.0" | "[::]" | "::" | "", _)) => {}
            Some((host, port)) => report.add(check, format!("{file}: `{id}` listens on {endpoint}: `{host}` is not reachable from other containers; use 0.0.0.0:{port}")),
            None => report.add(check, format!("{file}: `{id}` endpoint `{endpoint}` is not host:port")),
        }
    }
}

/// Component names of collector-contrib 0.159.0: the renamed and removed ones.
pub fn check_contrib_names(cfg: &CollectorConfig, file: &str, report: &mut Report) {
    let renamed = [
        (
            "exporter",
            &cfg.exporters,
            "otlp",
            "renamed `otlp_grpc` in v0.144.0 (`otlp` is a deprecated alias)",
        ),
        (
            "exporter",
            &cfg.exporters,
            "otlphttp",
            "renamed `otlp_http` in v0.144.0 (`otlphttp` is a deprecated alias)",
        ),
        (
            "exporter",
            &cfg.exporters,
            "logging",
            "removed from the collector: use the `debug` exporter",
        ),
        (
            "connector",
            &cfg.connectors,
            "spanmetrics",
            "renamed `span_metrics` (`spanmetrics` is a deprecated alias)",
        ),
        (
            "processor",
            &cfg.processors,
            "spanmetrics",
            "removed: use the `span_metrics` connector",
        ),
    ];
    for (section, map, old, advice) in renamed {
        for id in map.keys().filter(|id| component_type(id) == old) {
            report.add(
                Check::Collector,
                format!("{file}: {section} `{id}`: {advice}"),
            );
        }
    }
}

/// `memory_limiter` comes first in every pipeline that has processors.
pub fn check_memory_limiter_first(cfg: &CollectorConfig, file: &str, report: &mut Report) {
    for (name, pipeline) in &cfg.service.pipelines {
        let first = pipeline.processors.first().map(|p| component_type(p));
        if !pipeline.processors.is_empty() && first != Some("memory_limiter") {
            report.add(Check::Collector, format!("{file}: pipeline `{name}` must start with the memory_limiter processor (it refuses data before the collector runs out of memory)"));
        }
    }
}
