//! The telemetry backends across files: the collector config against the
//! compose services it exports to, Jaeger's config, Prometheus' scrape
//! targets, and the databases the Postgres init script creates.

use serde_yaml::Value;

use crate::collector::{component_type, host_port, CollectorConfig};
use crate::contract::{APP_SERVICES, COLLECTOR, JAEGER, PROMETHEUS};
use crate::problem::{Check, Report};
use crate::stack::{host_path, relative, LoadedConfig, Stack};

use super::pipelines;

pub fn check(stack: &Stack, report: &mut Report) {
    if let Some(loaded) = &stack.collector {
        check_collector(stack, loaded, report);
    }
    if let Some(loaded) = &stack.jaeger {
        check_jaeger(stack, loaded, report);
    }
    check_prometheus(stack, report);
    if let Some(databases) = &stack.databases {
        for app in APP_SERVICES {
            let Some(db) = app.database else { continue };
            if !databases.contains(db) {
                report.add(Check::Postgres, format!("the Postgres init script does not create database `{db}` ({}'s); add CREATE DATABASE {db};", app.name));
            }
        }
    }
}

fn check_collector(stack: &Stack, loaded: &LoadedConfig, report: &mut Report) {
    let (file, cfg) = (loaded.file.as_str(), &loaded.config);
    pipelines::check_pipelines(cfg, file, Check::Collector, report);
    pipelines::check_binds(cfg, file, Check::Collector, report);
    pipelines::check_contrib_names(cfg, file, report);
    pipelines::check_memory_limiter_first(cfg, file, report);
    check_published_ports(
        stack,
        COLLECTOR,
        &cfg.listening_ports().into_iter().collect::<Vec<_>>(),
        file,
        report,
    );

    let jaeger_ports = stack.jaeger.as_ref().map(|j| j.config.otlp_ports());
    let mut exports_to_jaeger = false;
    for (id, settings) in &cfg.exporters {
        let kind = component_type(id);
        if !matches!(kind, "otlp_grpc" | "otlp" | "otlp_http" | "otlphttp") {
            continue;
        }
        let Some(endpoint) = settings.get("endpoint").and_then(Value::as_str) else {
            report.add(
                Check::Collector,
                format!("{file}: exporter `{id}` has no endpoint"),
            );
            continue;
        };
        let without_scheme = endpoint
            .split_once("://")
            .map_or(endpoint, |(_, rest)| rest);
        let Some((host, port)) = host_port(without_scheme.trim_end_matches('/')) else {
            report.add(
                Check::Collector,
                format!("{file}: exporter `{id}` endpoint `{endpoint}` has no host:port"),
            );
            continue;
        };
        if stack.service(host).is_none() {
            report.add(
                Check::Collector,
                format!(
                    "{file}: exporter `{id}` sends to `{host}`, which is not a compose service"
                ),
            );
            continue;
        }
        let grpc = matches!(kind, "otlp_grpc" | "otlp");
        if grpc
            && !endpoint.starts_with("http://")
            && settings
                .get("tls")
                .and_then(|t| t.get("insecure"))
                .and_then(Value::as_bool)
                != Some(true)
        {
            report.add(Check::Collector, format!("{file}: exporter `{id}` would use TLS, which {host} does not speak inside the compose network; set `tls: {{insecure: true}}`"));
        }
        if host == JAEGER {
            exports_to_jaeger |= cfg
                .service
                .pipelines
                .iter()
                .any(|(name, p)| component_type(name) == "traces" && p.exporters.contains(id));
            if let Some((jaeger_grpc, jaeger_http)) = jaeger_ports {
                let expected = if grpc { jaeger_grpc } else { jaeger_http };
                if expected.is_some_and(|e| e != port) {
                    report.add(Check::Collector, format!("{file}: exporter `{id}` sends to jaeger port {port}, but Jaeger's otlp receiver takes {} on {}", if grpc { "gRPC" } else { "HTTP" }, expected.unwrap_or_default()));
                }
            }
        }
    }
    if stack.service(JAEGER).is_some() && !exports_to_jaeger {
        report.add(
            Check::Collector,
            format!(
                "{file}: no traces pipeline exports to jaeger: traces would never reach the UI"
            ),
        );
    }
}

fn check_jaeger(stack: &Stack, loaded: &LoadedConfig, report: &mut Report) {
    let (file, cfg) = (loaded.file.as_str(), &loaded.config);
    pipelines::check_pipelines(cfg, file, Check::Jaeger, report);
    pipelines::check_binds(cfg, file, Check::Jaeger, report);
    for needed in ["jaeger_storage", "jaeger_query"] {
        if !cfg
            .service
            .extensions
            .iter()
            .any(|e| component_type(e) == needed)
        {
            report.add(
                Check::Jaeger,
                format!("{file}: `service.extensions` must include {needed}"),
            );
        }
    }
    let storage = cfg.extensions.get("jaeger_storage");
    let names = |section: &str| -> Vec<String> {
        storage
            .and_then(|s| s.get(section))
            .and_then(Value::as_mapping)
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (backends, metric_backends) = (names("backends"), names("metric_backends"));
    let query = cfg.extensions.get("jaeger_query");
    let mut references = vec![(
        "jaeger_query storage.traces",
        query.and_then(|q| q.get("storage")?.get("traces")?.as_str()),
        &backends,
    )];
    if let Some(metrics) = query.and_then(|q| q.get("storage")?.get("metrics")?.as_str()) {
        references.push((
            "jaeger_query storage.metrics",
            Some(metrics),
            &metric_backends,
        ));
    }
    let storage_exporters = cfg
        .exporters
        .iter()
        .filter(|(id, _)| component_type(id) == "jaeger_storage_exporter");
    for (_, settings) in storage_exporters {
        references.push((
            "jaeger_storage_exporter trace_storage",
            settings.get("trace_storage").and_then(Value::as_str),
            &backends,
        ));
    }
    for (what, name, defined) in references {
        match name {
            None => report.add(Check::Jaeger, format!("{file}: {what} is not set")),
            Some(n) if !defined.iter().any(|d| d == n) => report.add(Check::Jaeger, format!("{file}: {what} names `{n}`, which jaeger_storage does not define (defined: {})", defined.join(", "))),
            Some(_) => {}
        }
    }
    if let Some(backends) = storage
        .and_then(|s| s.get("metric_backends"))
        .and_then(Value::as_mapping)
    {
        for backend in backends.values() {
            let endpoint = backend
                .get("prometheus")
                .and_then(|p| p.get("endpoint"))
                .and_then(Value::as_str);
            let host = endpoint
                .and_then(|e| url::Url::parse(e).ok())
                .and_then(|u| u.host_str().map(str::to_string));
            if let Some(host) = host.filter(|h| stack.service(h).is_none()) {
                report.add(Check::Jaeger, format!("{file}: the Prometheus metrics backend points at `{host}`, which is not a compose service"));
            }
        }
    }
    let mut listening: Vec<u16> = cfg.listening_ports().into_iter().collect();
    listening.extend([16686, 16685]); // jaeger_query's defaults when not configured
    check_published_ports(stack, JAEGER, &listening, file, report);
}

/// Every container port `service` publishes is one its config listens on.
fn check_published_ports(
    stack: &Stack,
    service: &str,
    listening: &[u16],
    file: &str,
    report: &mut Report,
) {
    let Some(s) = stack.service(service) else {
        return;
    };
    for mapping in s.port_mappings().into_iter().flatten() {
        if !listening.contains(&mapping.container) {
            report.add(
                Check::Ports,
                format!(
                    "{service} publishes container port {}, but nothing in {file} listens on it",
                    mapping.container
                ),
            );
        }
    }
}

fn check_prometheus(stack: &Stack, report: &mut Report) {
    let Some(service) = stack.service(PROMETHEUS) else {
        return;
    };
    if !service.profiles.iter().any(|p| p == "metrics") {
        report.add(
            Check::Prometheus,
            "prometheus must be in the `metrics` profile (profiles: [\"metrics\"]): it is optional",
        );
    }
    let in_container = service
        .command_words()
        .iter()
        .find_map(|w| w.strip_prefix("--config.file=").map(str::to_string))
        .unwrap_or_else(|| "/etc/prometheus/prometheus.yml".to_string());
    let Some((source, path)) = host_path(&stack.root, service, &in_container) else {
        report.add(Check::Prometheus, format!("prometheus reads {in_container}, but no bind mount provides it: the image's default config scrapes only itself"));
        return;
    };
    if !source.exists() {
        return; // the mount check reports it
    }
    let file = relative(&stack.root, &path);
    let config: Value = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_yaml::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => return report.add(Check::Prometheus, format!("{file}: {e}")),
    };
    let targets = config
        .get("scrape_configs")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|job| job.get("static_configs")?.as_sequence())
        .flatten()
        .filter_map(|sc| sc.get("targets")?.as_sequence())
        .flatten()
        .filter_map(Value::as_str);
    let collector_ports = stack
        .collector
        .as_ref()
        .map(|c| prometheus_exporter_ports(&c.config));
    for target in targets {
        let Some((host, port)) = host_port(target) else {
            report.add(
                Check::Prometheus,
                format!("{file}: target `{target}` is not host:port"),
            );
            continue;
        };
        if stack.service(host).is_none() {
            report.add(
                Check::Prometheus,
                format!("{file}: target `{target}`: `{host}` is not a compose service"),
            );
        } else if let (COLLECTOR, Some(ports)) = (host, &collector_ports) {
            if !ports.contains(&port) {
                report.add(Check::Prometheus, format!("{file}: target `{target}`: no prometheus exporter of the collector listens on {port} (it listens on {ports:?})"));
            }
        }
    }
}

fn prometheus_exporter_ports(cfg: &CollectorConfig) -> Vec<u16> {
    cfg.exporters
        .iter()
        .filter(|(id, _)| component_type(id) == "prometheus")
        .filter_map(|(_, s)| host_port(s.get("endpoint")?.as_str()?).map(|(_, p)| p))
        .collect()
}
