//! Static assertions on a collector config (`collector:` in check.yaml):
//! read the YAML, never run it. Equivalent configs pass: components match
//! by type (`attributes/pii` is an `attributes` processor), in any traces
//! pipeline (`traces`, `traces/jaeger`), wherever the action sits in the list.

use std::path::Path;

use serde_yaml::Value as Yaml;

use super::diagnosis::Cause;
use super::outcome::Report;
use super::spec::{CollectorExpect, CollectorSpec};

/// Adds a finding per unmet expectation.
pub fn check(root: &Path, spec: &CollectorSpec, report: &mut Report) {
    let path = root.join(&spec.file);
    let config: Yaml = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_yaml::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(config) => config,
        Err(e) => {
            let problem = format!("{}: cannot read it as YAML ({e})", spec.file);
            report.add(None, problem, Cause::CollectorConfig);
            return;
        }
    };
    for expect in &spec.expect {
        if let Some(problem) = check_one(&config, expect) {
            report.add(
                None,
                format!("{}: {problem}", spec.file),
                Cause::CollectorConfig,
            );
        }
    }
}

/// `attributes/pii` → `attributes`.
fn component_type(name: &str) -> &str {
    name.split('/').next().unwrap_or(name)
}

/// The processor names of every traces pipeline, in order.
fn traces_processors(config: &Yaml) -> Vec<Vec<String>> {
    let Some(pipelines) = config["service"]["pipelines"].as_mapping() else {
        return Vec::new();
    };
    pipelines
        .iter()
        .filter(|(name, _)| name.as_str().is_some_and(|n| component_type(n) == "traces"))
        .map(|(_, pipeline)| {
            pipeline["processors"]
                .as_sequence()
                .map(|list| {
                    list.iter()
                        .filter_map(|p| p.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

fn check_one(config: &Yaml, expect: &CollectorExpect) -> Option<String> {
    let pipelines = traces_processors(config);
    if pipelines.is_empty() {
        return Some("no traces pipeline under service.pipelines".to_string());
    }
    if let Some(kind) = &expect.processor {
        // Processors of this type that a traces pipeline uses.
        let used: Vec<&String> = pipelines
            .iter()
            .flatten()
            .filter(|p| component_type(p) == kind)
            .collect();
        if used.is_empty() {
            return Some(format!("no `{kind}` processor in a traces pipeline"));
        }
        if let Some(want) = &expect.action {
            let has = used.iter().any(|name| {
                config["processors"][name.as_str()]["actions"]
                    .as_sequence()
                    .is_some_and(|actions| {
                        actions.iter().any(|a| {
                            a["key"].as_str() == Some(want.key.as_str())
                                && a["action"].as_str() == Some(want.action.as_str())
                        })
                    })
            });
            if !has {
                return Some(format!(
                    "the `{kind}` processor has no action `{}` on key `{}`",
                    want.action, want.key
                ));
            }
        }
    }
    if let Some([first, second]) = &expect.before {
        let ordered = pipelines.iter().any(|list| {
            let at = |t: &str| list.iter().position(|p| component_type(p) == t);
            matches!((at(first), at(second)), (Some(a), Some(b)) if a < b)
        });
        if !ordered {
            return Some(format!(
                "`{first}` must come before `{second}` in a traces pipeline's processors"
            ));
        }
    }
    None
}
