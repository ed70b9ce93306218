//! Static assertions on a collector config (`collector:` in check.yaml):
//! read the YAML, never run it. Equivalent configs pass: components match
//! by type (`attributes/pii` is an `attributes` processor), in any traces
//! pipeline (`traces`, `traces/jaeger`), wherever the action sits in the
//! list, an action by `pattern` as well as by `key`, and a tail-sampling
//! policy at the top, inside a `composite`, or alone inside an `and`.
//!
//! [`runs`] tells whether that collector runs here, so the check can also
//! send requests through it.

use std::path::Path;

use serde_yaml::Value as Yaml;

use super::diagnosis::Cause;
use super::outcome::Report;
use super::scenario::Control;
use super::spec::{CollectorExpect, CollectorSpec, PolicyKind, PolicySpec};

/// Adds a finding per unmet expectation; returns one line per expectation
/// (met or not), for the learner to see what was read.
pub fn check(root: &Path, spec: &CollectorSpec, report: &mut Report) -> Vec<(bool, String)> {
    let path = root.join(&spec.file);
    let config: Yaml = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_yaml::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(config) => config,
        Err(e) => {
            let problem = format!("{}: cannot read it as YAML ({e})", spec.file);
            report.add(None, problem.clone(), Cause::CollectorConfig);
            return vec![(false, problem)];
        }
    };
    let mut lines = Vec::new();
    for expect in &spec.expect {
        match check_one(&config, expect) {
            Some(problem) => {
                // Several expectations can fail for one reason (no such
                // processor at all): say it once.
                let problem = format!("{}: {problem}", spec.file);
                if !report.findings.iter().any(|f| f.problem == problem) {
                    report.add(None, problem, Cause::CollectorConfig);
                }
                lines.push((false, describe(expect)));
            }
            None => lines.push((true, describe(expect))),
        }
    }
    lines
}

/// Where the lesson's collector runs, as far as the lab can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runs {
    /// dev-up runs (or will run) `otelcol-contrib` natively.
    Native,
    /// docker compose runs the collector.
    Compose,
    /// No collector: the static assertions alone decide.
    Nowhere,
}

/// Natively, a collector runs where `otelcol-contrib` is on PATH (dev-up
/// starts it; `LAB_NO_COLLECTOR=1` tells it not to); compose always has one.
pub fn runs(control: &Control) -> Runs {
    match control {
        Control::Native { .. } if otelcol_on_path() => Runs::Native,
        Control::Compose { .. } => Runs::Compose,
        _ => Runs::Nowhere,
    }
}

/// After dev-up: the native collector runs, and runs the lesson's `file`.
pub fn runs_file(root: &Path, file: &str, report: &mut Report) -> anyhow::Result<()> {
    let stack = crate::stack::NativeStack::load(root)?;
    let running = stack.as_ref().and_then(|s| s.collector_config());
    match running {
        Some(running) if running == file => {}
        Some(running) => report.add(
            None,
            format!(
                "the native collector runs {running}, not {file}: COLLECTOR_CONFIG in \
                 .lab/otel-collector.env overrides the lesson's; remove that line"
            ),
            Cause::CollectorConfig,
        ),
        None => report.add(
            None,
            "otelcol-contrib is on PATH, but scripts/dev-up.sh started no collector (a trace \
             backend it did not start holds the OTLP ports: docker compose?)"
                .to_string(),
            Cause::CollectorConfig,
        ),
    }
    Ok(())
}

/// `otelcol-contrib` on PATH, as dev-up looks for it.
pub fn otelcol_on_path() -> bool {
    if std::env::var("LAB_NO_COLLECTOR").is_ok_and(|v| v == "1") {
        return false;
    }
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            let file = dir.join("otelcol-contrib");
            file.is_file() && is_executable(&file)
        })
    })
}

fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    file.metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// What one expectation asks for, in a line.
fn describe(expect: &CollectorExpect) -> String {
    let mut parts = Vec::new();
    if let Some(kind) = &expect.processor {
        match (&expect.action, &expect.policy) {
            (Some(a), _) => parts.push(format!("`{kind}`: {} on `{}`", a.action.describe(), a.key)),
            (None, Some(p)) => parts.push(format!("`{kind}`: {}", describe_policy(p))),
            (None, None) => match &expect.no_policy {
                Some(t) => parts.push(format!("`{kind}`: no {t} policy")),
                None => parts.push(format!("a `{kind}` processor in a traces pipeline")),
            },
        }
    }
    if let Some([a, b]) = &expect.before {
        parts.push(format!("`{a}` before `{b}`"));
    }
    parts.join("; ")
}

fn describe_policy(p: &PolicySpec) -> String {
    match p.kind {
        PolicyKind::StatusCode => format!(
            "a status_code policy keeping {}",
            p.status_code.as_deref().unwrap_or("a status")
        ),
        PolicyKind::Latency => format!(
            "a latency policy, threshold_ms {}",
            p.threshold_ms.map_or("set".to_string(), |r| r.describe())
        ),
        PolicyKind::Probabilistic => format!(
            "a probabilistic policy, sampling_percentage {}",
            p.percentage.map_or("set".to_string(), |r| r.describe())
        ),
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
        let mut used: Vec<&String> = pipelines
            .iter()
            .flatten()
            .filter(|p| component_type(p) == kind)
            .collect();
        used.dedup();
        if used.is_empty() {
            return Some(format!("no `{kind}` processor in a traces pipeline"));
        }
        if let Some(want) = &expect.action {
            let has = used.iter().any(|name| {
                config["processors"][name.as_str()]["actions"]
                    .as_sequence()
                    .is_some_and(|actions| {
                        actions.iter().any(|a| {
                            acts_on(a, &want.key)
                                && a["action"]
                                    .as_str()
                                    .is_some_and(|x| want.action.contains(x))
                        })
                    })
            });
            if !has {
                return Some(format!(
                    "the `{kind}` processor has no action {} on key `{}`",
                    want.action.describe(),
                    want.key
                ));
            }
        }
        if let Some(want) = &expect.policy {
            let policies: Vec<&Yaml> = used
                .iter()
                .flat_map(|name| policies(&config["processors"][name.as_str()]))
                .collect();
            if let Some(problem) = find_policy(&policies, want) {
                return Some(format!("the `{kind}` processor has {problem}"));
            }
        }
        if let Some(unwanted) = &expect.no_policy {
            let found = used
                .iter()
                .flat_map(|name| policies(&config["processors"][name.as_str()]))
                .find(|p| p["type"].as_str() == Some(unwanted.as_str()));
            if let Some(policy) = found {
                return Some(format!(
                    "the `{kind}` processor still has policy `{}` ({unwanted}): a trace is kept \
                     when any policy says so, so it keeps every trace whatever the others say",
                    policy["name"].as_str().unwrap_or("?")
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

/// An attributes action on `key`: by `key`, or by a `pattern` that matches it.
fn acts_on(action: &Yaml, key: &str) -> bool {
    if action["key"].as_str() == Some(key) {
        return true;
    }
    action["pattern"]
        .as_str()
        .and_then(|p| regex::Regex::new(p).ok())
        .is_some_and(|re| re.is_match(key))
}

/// A tail_sampling processor's policies, each one that decides on its own:
/// the top-level ones, a composite's sub-policies (any of them keeps), and
/// the sub-policy of an `and` that has only one.
fn policies(processor: &Yaml) -> Vec<&Yaml> {
    let mut out = Vec::new();
    for policy in processor["policies"].as_sequence().into_iter().flatten() {
        out.push(policy);
        match policy["type"].as_str() {
            Some("composite") => {
                out.extend(
                    policy["composite"]["composite_sub_policy"]
                        .as_sequence()
                        .into_iter()
                        .flatten(),
                );
            }
            Some("and") => {
                if let Some([only]) = policy["and"]["and_sub_policy"]
                    .as_sequence()
                    .map(Vec::as_slice)
                {
                    out.push(only);
                }
            }
            _ => {}
        }
    }
    out
}

/// `None` when a policy matches `want`; else what is missing, naming the
/// closest policy of the right type when there is one.
fn find_policy(policies: &[&Yaml], want: &PolicySpec) -> Option<String> {
    let kind = want.kind.name();
    let of_kind: Vec<&&Yaml> = policies
        .iter()
        .filter(|p| p["type"].as_str() == Some(kind))
        .collect();
    let wanted = describe_policy(want);
    if of_kind.is_empty() {
        return Some(format!("no {kind} policy"));
    }
    let mut why = Vec::new();
    for policy in &of_kind {
        let name = policy["name"].as_str().unwrap_or("?");
        let settings = &policy[kind];
        let problem = match want.kind {
            PolicyKind::StatusCode => {
                let code = want.status_code.as_deref().unwrap_or("ERROR");
                let codes: Vec<&str> = settings["status_codes"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .filter_map(Yaml::as_str)
                    .collect();
                (!codes.contains(&code))
                    .then(|| format!("policy `{name}` keeps status codes {codes:?}, not {code}"))
            }
            PolicyKind::Latency => {
                let threshold = settings["threshold_ms"].as_f64();
                let upper = settings["upper_threshold_ms"].as_f64().unwrap_or(0.0);
                match (threshold, want.threshold_ms) {
                    (None, _) => Some(format!("policy `{name}` has no threshold_ms")),
                    (Some(t), Some(range)) if !range.contains(t) => Some(format!(
                        "policy `{name}` has threshold_ms {t}; this lesson wants {}",
                        range.describe()
                    )),
                    _ if upper > 0.0 => Some(format!(
                        "policy `{name}` has upper_threshold_ms {upper}: the slowest traces would \
                         not be kept"
                    )),
                    _ => None,
                }
            }
            PolicyKind::Probabilistic => {
                match (settings["sampling_percentage"].as_f64(), want.percentage) {
                    (None, _) => Some(format!("policy `{name}` has no sampling_percentage")),
                    (Some(p), Some(range)) if !range.contains(p) => Some(format!(
                        "policy `{name}` has sampling_percentage {p}; this lesson wants {}",
                        range.describe()
                    )),
                    _ => None,
                }
            }
        };
        match problem {
            None => return None,
            Some(p) => why.push(p),
        }
    }
    Some(format!("no {wanted}: {}", why.join("; ")))
}
