//! How the services fit together: start order (`depends_on`), healthchecks,
//! published ports, memory limits and mounted files.

use std::collections::BTreeMap;

use crate::contract::{HEALTHY_DEPENDENCIES, HOST_PORTS, NEED_HEALTHCHECK, NO_HEALTHCHECK};
use crate::problem::{Check, Report};
use crate::stack::{bind_source, relative, Stack};

pub fn check(stack: &Stack, report: &mut Report) {
    check_healthchecks(stack, report);
    check_depends_on(stack, report);
    check_ports(stack, report);
    check_memory(stack, report);
    check_mounts(stack, report);
}

fn check_healthchecks(stack: &Stack, report: &mut Report) {
    for name in NEED_HEALTHCHECK {
        if stack.service(name).is_some_and(|s| !s.has_healthcheck()) {
            report.add(Check::Healthcheck, format!("{name} has no healthcheck: the services that wait for it to be healthy would never start"));
        }
    }
    for name in NO_HEALTHCHECK {
        if stack.service(name).is_some_and(|s| s.has_healthcheck()) {
            report.add(Check::Healthcheck, format!("{name} has a healthcheck, but its image is built from scratch (no shell, no curl, no wget): it can never pass and would keep the services that wait for it from starting; remove it and depend on {name} with condition: service_started"));
        }
    }
}

fn check_depends_on(stack: &Stack, report: &mut Report) {
    for (name, service) in &stack.compose.services {
        for (dependency, condition) in service.dependencies() {
            let Some(target) = stack.service(&dependency) else {
                report.add(
                    Check::DependsOn,
                    format!("{name} depends on `{dependency}`, which is not a service"),
                );
                continue;
            };
            match condition.as_str() {
                "service_started" | "service_healthy" | "service_completed_successfully" => {}
                other => report.add(
                    Check::DependsOn,
                    format!("{name}: depends_on {dependency} has unknown condition `{other}`"),
                ),
            }
            if NO_HEALTHCHECK.contains(&dependency.as_str()) && condition != "service_started" {
                report.add(Check::DependsOn, format!("{name} waits for {dependency} with `{condition}`; {dependency} has no healthcheck (its image has no shell): use condition: service_started"));
            } else if condition == "service_healthy" && !target.has_healthcheck() {
                report.add(Check::DependsOn, format!("{name} waits for {dependency} to be healthy, but {dependency} has no healthcheck, so {name} would never start"));
            }
            if !target.profiles.is_empty() && service.profiles.is_empty() {
                report.add(Check::DependsOn, format!("{name} depends on {dependency}, which only runs with profile(s) {:?}: a plain `up` would fail", target.profiles));
            }
        }
    }
    for (name, dependency) in HEALTHY_DEPENDENCIES {
        let Some(service) = stack.service(name) else {
            continue;
        };
        if stack.service(dependency).is_none() {
            continue;
        }
        let waits = service
            .dependencies()
            .iter()
            .any(|(d, c)| d == dependency && c == "service_healthy");
        if !waits {
            report.add(Check::DependsOn, format!("{name} must wait for {dependency} with `depends_on: {dependency}: condition: service_healthy`, so the first request works as soon as `up` returns"));
        }
    }
}

fn check_ports(stack: &Stack, report: &mut Report) {
    let mut owners: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for (name, service) in &stack.compose.services {
        let mut published = Vec::new();
        for mapping in service.port_mappings() {
            match mapping {
                Ok(m) => published.push(m),
                Err(e) => report.add(Check::Ports, format!("{name}: {e}")),
            }
        }
        for m in &published {
            if let Some(host) = m.host {
                owners.entry(host).or_default().push(name);
            }
        }
        let expected: Vec<(u16, u16)> = HOST_PORTS
            .iter()
            .filter(|(s, _, _)| s == name)
            .map(|&(_, host, container)| (host, container))
            .collect();
        if expected.is_empty() {
            continue;
        }
        for &(host, container) in &expected {
            if !published
                .iter()
                .any(|m| m.host == Some(host) && m.container == container)
            {
                report.add(
                    Check::Ports,
                    format!("{name} must publish \"{host}:{container}\" (docs/architecture.md host ports)"),
                );
            }
        }
        for m in &published {
            let listed = expected
                .iter()
                .any(|&(h, c)| Some(h) == m.host && c == m.container);
            if !listed {
                let host = m
                    .host
                    .map_or("a random port".to_string(), |h| h.to_string());
                report.add(
                    Check::Ports,
                    format!(
                        "{name} publishes {host} -> {}, which docs/architecture.md does not list for it",
                        m.container
                    ),
                );
            }
        }
    }
    for (port, names) in owners {
        if names.len() > 1 {
            report.add(
                Check::Ports,
                format!(
                    "host port {port} is published by {}: only one can have it",
                    names.join(" and ")
                ),
            );
        }
    }
}

fn check_memory(stack: &Stack, report: &mut Report) {
    for (name, service) in &stack.compose.services {
        if service.memory_limit().is_none() {
            report.add(Check::Memory, format!("{name} has no memory limit (`mem_limit:`): one runaway container could take the learner's whole machine"));
        }
    }
}

fn check_mounts(stack: &Stack, report: &mut Report) {
    for (name, service) in &stack.compose.services {
        for mount in service.mounts() {
            if mount.bind {
                let path = bind_source(&stack.root, &mount.source);
                if !path.exists() {
                    report.add(
                        Check::Mount,
                        format!(
                            "{name} mounts {} into {}, but {} does not exist",
                            mount.source,
                            mount.target,
                            relative(&stack.root, &path)
                        ),
                    );
                }
            } else if !mount.source.is_empty() && !stack.compose.volumes.contains(&mount.source) {
                report.add(Check::Mount, format!("{name} uses volume `{}`, which is not declared under the top-level `volumes:`", mount.source));
            }
        }
    }
}
