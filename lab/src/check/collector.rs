//! Static assertions on a collector config (`collector:` in check.yaml):
//! read the YAML, never run it. Equivalent configs pass: components match
//! by type (`attributes/pii` is an `attributes` processor), in any traces
//! pipeline (`traces`, `traces/jaeger`), wherever the action sits in the
//! list, an action by `pattern` as well as by `key`, an OTTL statement of a
//! `transform` processor for an `attributes` or `resource` action, and a
//! tail-sampling policy at the top, inside a `composite`, or alone inside an
//! `and` (errors also by an `ottl_condition` or a `numeric_attribute` on the
//! HTTP status, slow traces by an `ottl_condition` on the span's duration).
//! A config that has the thing in a form that does not work is named by its
//! own [`CollectorFault`].
//!
//! [`runs`] tells whether that collector runs here, so the check can also
//! send requests through it.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_yaml::Value as Yaml;

use super::diagnosis::{Cause, CollectorFault};
use super::outcome::Report;
use super::scenario::Control;
use super::spec::{ActionSpec, CollectorExpect, CollectorSpec, OneOrMore, PolicyKind, PolicySpec};

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
            Some((problem, cause)) => {
                // Several expectations can fail for one reason (no such
                // processor at all): say it once.
                let problem = format!("{}: {problem}", spec.file);
                if !report.findings.iter().any(|f| f.problem == problem) {
                    report.add(None, problem, cause);
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

/// What one expectation asks for, in a line: the lesson's own words
/// (`says`), else a description in the config's terms.
fn describe(expect: &CollectorExpect) -> String {
    if let Some(says) = &expect.says {
        return says.clone();
    }
    let mut parts = Vec::new();
    if let Some(kind) = &expect.processor {
        match (&expect.action, &expect.policy) {
            (Some(a), _) => parts.push(format!("`{kind}`: {} on `{}`", a.action.describe(), a.key)),
            (None, Some(p)) => parts.push(format!("`{kind}`: {}", describe_policy(p))),
            (None, None) => match &expect.no_policy {
                Some(_) => parts.push(format!("`{kind}`: no policy that keeps every trace")),
                None => parts.push(format!("a `{kind}` processor in a traces pipeline")),
            },
        }
    }
    if let Some([a, b]) = &expect.before {
        parts.push(format!("`{a}` before `{b}`"));
    }
    if let Some(first) = &expect.first {
        parts.push(format!("`{first}` first in the traces pipeline"));
    }
    parts.join("; ")
}

/// The policy a lesson wants, in words: what it keeps, not how it is written.
fn describe_policy(p: &PolicySpec) -> String {
    match p.kind {
        PolicyKind::StatusCode => format!(
            "a policy that keeps every trace with an {} span",
            p.status_code.as_deref().unwrap_or("ERROR")
        ),
        PolicyKind::Latency => format!(
            "a policy that keeps every trace longer than a threshold ({} ms)",
            p.threshold_ms.map_or("any".to_string(), |r| r.describe())
        ),
        PolicyKind::Probabilistic => format!(
            "a policy that keeps a share of the traces ({} %)",
            p.percentage.map_or("any".to_string(), |r| r.describe())
        ),
    }
}

/// `attributes/pii` → `attributes`.
fn component_type(name: &str) -> &str {
    name.split('/').next().unwrap_or(name)
}

/// The processor names of every traces pipeline, in order.
fn traces_processors(config: &Yaml) -> Vec<Vec<String>> {
    pipelines(config)
        .into_iter()
        .filter(|(name, _)| component_type(name) == "traces")
        .map(|(_, list)| list)
        .collect()
}

/// Every pipeline's name and processor names, in order.
fn pipelines(config: &Yaml) -> Vec<(String, Vec<String>)> {
    let Some(pipelines) = config["service"]["pipelines"].as_mapping() else {
        return Vec::new();
    };
    pipelines
        .iter()
        .filter_map(|(name, pipeline)| {
            let list = pipeline["processors"]
                .as_sequence()
                .map(|list| {
                    list.iter()
                        .filter_map(|p| p.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            Some((name.as_str()?.to_string(), list))
        })
        .collect()
}

/// The processors of type `kind` that a traces pipeline uses.
fn used_of(pipelines: &[Vec<String>], kind: &str) -> Vec<String> {
    let mut used: Vec<String> = pipelines
        .iter()
        .flatten()
        .filter(|p| component_type(p) == kind)
        .cloned()
        .collect();
    used.sort();
    used.dedup();
    used
}

/// A finding: what is wrong, and its cause.
type Found = (String, Cause);

fn missing(problem: String) -> Found {
    (problem, Cause::CollectorConfig)
}

fn fault(problem: String, fault: CollectorFault) -> Found {
    (problem, Cause::Collector(fault))
}

fn check_one(config: &Yaml, expect: &CollectorExpect) -> Option<Found> {
    let pipelines = traces_processors(config);
    if pipelines.is_empty() {
        return Some(missing(
            "no traces pipeline under service.pipelines".to_string(),
        ));
    }
    if let Some(kind) = &expect.processor {
        let used = used_of(&pipelines, kind);
        if let Some(want) = &expect.action {
            if let Some(found) = check_action(config, &pipelines, kind, &used, want) {
                return Some(found);
            }
        } else if used.is_empty() {
            return Some(not_used(config, kind));
        }
        if let Some(want) = &expect.policy {
            let policies: Vec<(&Yaml, bool)> = used
                .iter()
                .flat_map(|name| policies(&config["processors"][name.as_str()]))
                .collect();
            if let Some((problem, cause)) = find_policy(&policies, want) {
                return Some((format!("the `{kind}` processor has {problem}"), cause));
            }
        }
        if let Some(unwanted) = &expect.no_policy {
            let found = used
                .iter()
                .flat_map(|name| policies(&config["processors"][name.as_str()]))
                .find(|(p, combined)| !combined && p["type"].as_str() == Some(unwanted.as_str()));
            if let Some((policy, _)) = found {
                return Some(fault(
                    format!(
                        "the `{kind}` processor still has policy `{}`, which keeps every trace",
                        policy["name"].as_str().unwrap_or("?")
                    ),
                    CollectorFault::KeepsEverything,
                ));
            }
        }
    }
    if let Some([first, second]) = &expect.before {
        let at = |list: &[String], t: &str| list.iter().position(|p| component_type(p) == t);
        // A processor that is not there at all has its own finding.
        let both = pipelines
            .iter()
            .any(|l| at(l, first).is_some() && at(l, second).is_some());
        let ordered = pipelines
            .iter()
            .any(|l| matches!((at(l, first), at(l, second)), (Some(a), Some(b)) if a < b));
        if both && !ordered {
            return Some(fault(
                format!("`{first}` must come before `{second}` in a traces pipeline's processors"),
                CollectorFault::PipelineOrder,
            ));
        }
    }
    if let Some(first) = &expect.first {
        let with: Vec<&Vec<String>> = pipelines
            .iter()
            .filter(|l| l.iter().any(|p| component_type(p) == first))
            .collect();
        if with.is_empty() {
            return Some(missing(format!(
                "no `{first}` processor in a traces pipeline"
            )));
        }
        if let Some(list) = with.iter().find(|l| component_type(&l[0]) != first) {
            return Some(fault(
                format!(
                    "`{first}` must be the first processor of the traces pipeline; its processors \
                     are [{}]",
                    list.join(", ")
                ),
                CollectorFault::PipelineOrder,
            ));
        }
    }
    None
}

/// No processor of type `kind` in a traces pipeline: defined but unused,
/// or not there at all.
fn not_used(config: &Yaml, kind: &str) -> Found {
    let defined = config["processors"].as_mapping().and_then(|m| {
        m.keys()
            .filter_map(Yaml::as_str)
            .find(|name| component_type(name) == kind)
    });
    let Some(name) = defined else {
        return missing(format!("no `{kind}` processor in a traces pipeline"));
    };
    let elsewhere: Vec<String> = pipelines(config)
        .into_iter()
        .filter(|(_, list)| list.iter().any(|p| p == name))
        .map(|(pipeline, _)| format!("`{pipeline}`"))
        .collect();
    let problem = if elsewhere.is_empty() {
        format!("`{name}` is defined under `processors:`, but no traces pipeline lists it")
    } else {
        format!(
            "`{name}` is listed in {} only: spans go through the traces pipeline",
            elsewhere.join(", ")
        )
    };
    fault(problem, CollectorFault::NotInPipeline)
}

/// Which attributes an `attributes`-like processor acts on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Span,
    Resource,
}

impl Level {
    fn of(kind: &str) -> Level {
        if kind == "resource" {
            Level::Resource
        } else {
            Level::Span
        }
    }

    /// The processor type of the other level, for `wrong-level`.
    fn other_kind(self) -> &'static str {
        match self {
            Level::Span => "resource",
            Level::Resource => "attributes",
        }
    }

    /// The OTTL path prefix and context name.
    fn ottl(self) -> &'static str {
        match self {
            Level::Span => "span",
            Level::Resource => "resource",
        }
    }

    fn other(self) -> Level {
        match self {
            Level::Span => Level::Resource,
            Level::Resource => Level::Span,
        }
    }
}

/// The list of changes of an `attributes` (`actions`) or `resource`
/// (`attributes`) processor; `Err` names the key it used instead.
fn action_list<'a>(processor: &'a Yaml, kind: &str) -> Result<&'a [Yaml], &'static str> {
    let (right, wrong) = if kind == "resource" {
        ("attributes", "actions")
    } else {
        ("actions", "attributes")
    };
    match (
        processor[right].as_sequence(),
        processor[wrong].as_sequence(),
    ) {
        (Some(list), _) => Ok(list),
        (None, Some(_)) => Err(wrong),
        (None, None) => Ok(&[]),
    }
}

/// Whether the `kind` processors `names` have an action on `key` among `actions`.
fn has_action(config: &Yaml, kind: &str, names: &[String], key: &str, want: &OneOrMore) -> bool {
    names.iter().any(|name| {
        action_list(&config["processors"][name.as_str()], kind).is_ok_and(|list| {
            list.iter()
                .any(|a| acts_on(a, key) && a["action"].as_str().is_some_and(|x| want.contains(x)))
        })
    })
}

/// An `attributes` or `resource` action the lesson wants: in the processor
/// itself, or as OTTL in a `transform` processor of the same level.
fn check_action(
    config: &Yaml,
    pipelines: &[Vec<String>],
    kind: &str,
    used: &[String],
    want: &ActionSpec,
) -> Option<Found> {
    let level = Level::of(kind);
    let transforms = used_of(pipelines, "transform");
    if has_action(config, kind, used, &want.key, &want.action)
        || transforms.iter().any(|t| {
            ottl_does(
                &config["processors"][t.as_str()],
                level,
                &want.key,
                &want.action,
            )
        })
    {
        return None;
    }
    let mut misplaced = None;
    let mut other_action = None;
    for name in used {
        match action_list(&config["processors"][name.as_str()], kind) {
            Err(wrong) => {
                misplaced.get_or_insert(format!(
                    "`{name}` lists its changes under `{wrong}`, a key a `{kind}` processor does \
                     not read (the collector refuses the config)"
                ));
            }
            Ok(list) => {
                for a in list.iter().filter(|a| acts_on(a, &want.key)) {
                    let action = a["action"].as_str().unwrap_or("none");
                    other_action.get_or_insert(format!(
                        "`{name}` has the action `{action}` on `{}`, not {}",
                        want.key,
                        want.action.describe()
                    ));
                }
            }
        }
    }
    if let Some(problem) = misplaced {
        return Some(fault(problem, CollectorFault::MisplacedSetting));
    }
    if let Some(problem) = other_action {
        return Some(fault(problem, CollectorFault::WrongSetting));
    }
    // No such processor in a traces pipeline: defined but unused says more
    // than the change made on the other level; missing altogether, less.
    let unused = (used.is_empty() && transforms.is_empty()).then(|| not_used(config, kind));
    if matches!(unused, Some((_, Cause::Collector(_)))) {
        return unused;
    }
    // The same change, on the other level's attributes?
    let other = level.other_kind();
    let on_other = used_of(pipelines, other)
        .into_iter()
        .find(|name| {
            has_action(
                config,
                other,
                std::slice::from_ref(name),
                &want.key,
                &want.action,
            )
        })
        .or_else(|| {
            transforms
                .iter()
                .find(|t| {
                    ottl_does(
                        &config["processors"][t.as_str()],
                        level.other(),
                        &want.key,
                        &want.action,
                    )
                })
                .cloned()
        });
    if let Some(name) = on_other {
        let problem = match level {
            Level::Resource => format!(
                "`{name}` sets `{}` on the attributes of every span; it describes the process \
                 that sent them, so it belongs to their resource",
                want.key
            ),
            Level::Span => format!(
                "`{name}` changes `{}` among the resource attributes, but it is an attribute of \
                 the spans: they keep it as it was",
                want.key
            ),
        };
        return Some(fault(problem, CollectorFault::WrongLevel));
    }
    if unused.is_some() {
        return unused;
    }
    Some(missing(format!(
        "the `{kind}` processor has no action {} on key `{}`",
        want.action.describe(),
        want.key
    )))
}

/// An attributes action on `key`: by `key`, or by a `pattern` that matches it.
fn acts_on(action: &Yaml, key: &str) -> bool {
    if action["key"].as_str() == Some(key) {
        return true;
    }
    action["pattern"]
        .as_str()
        .and_then(|p| Regex::new(p).ok())
        .is_some_and(|re| re.is_match(key))
}

/// A `transform` processor's trace statements, each with its group's
/// `context` (none in the basic form).
fn ottl_statements(processor: &Yaml) -> Vec<(Option<&str>, &str)> {
    let mut out = Vec::new();
    for item in processor["trace_statements"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        if let Some(statement) = item.as_str() {
            out.push((None, statement));
            continue;
        }
        let context = item["context"].as_str();
        for statement in item["statements"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(Yaml::as_str)
        {
            out.push((context, statement));
        }
    }
    out
}

/// The OTTL forms the checks recognise, compiled once. A quoted key or
/// pattern is a capture group, compared with the lesson's key afterwards.
struct Ottl {
    /// `set(attributes["k"], SHA256(attributes["k"]))`: both keys.
    hash: Regex,
    /// `set(attributes["k"], …)`.
    set: Regex,
    /// `delete_key(attributes, "k")`.
    delete_key: Regex,
    /// `delete_matching_keys(attributes, "pattern")`.
    delete_matching: Regex,
    /// `status.code == STATUS_CODE_ERROR` (or `== 2`).
    error: Regex,
    /// `end_time_unix_nano - start_time_unix_nano > 1000000000`.
    longer_nanos: Regex,
    /// `end_time - start_time > Duration("1s")`.
    longer_duration: Regex,
}

static OTTL: LazyLock<Ottl> = LazyLock::new(|| {
    let quoted = r#""((?:[^"\\]|\\.)*)""#;
    let target = format!(r"attributes\s*\[\s*{quoted}\s*\]");
    let re = |pattern: &str| Regex::new(pattern).expect("a valid pattern");
    Ottl {
        hash: re(&format!(
            r"^\s*set\(\s*{target}\s*,\s*SHA(?:1|256|512)\(\s*{target}\s*\)\s*\)\s*$"
        )),
        set: re(&format!(r"^\s*set\(\s*{target}\s*,")),
        delete_key: re(&format!(
            r"^\s*delete_key\(\s*attributes\s*,\s*{quoted}\s*\)"
        )),
        delete_matching: re(&format!(
            r"^\s*delete_matching_keys\(\s*attributes\s*,\s*{quoted}\s*\)"
        )),
        error: re(r"status\.code\s*==\s*(STATUS_CODE_ERROR|2)\b"),
        longer_nanos: re(r"end_time_unix_nano\s*-\s*start_time_unix_nano\s*>=?\s*([0-9][0-9_]*)"),
        longer_duration: re(
            r#"end_time\s*-\s*start_time\s*>=?\s*Duration\(\s*"([0-9.]+)(ms|s)"\s*\)"#,
        ),
    }
});

/// Whether one of the transform processor's statements does `action` to
/// `key` among `level`'s attributes: `set(…, SHA256(…))` hashes (SHA1,
/// SHA256, SHA512), `delete_key` / `delete_matching_keys` delete, `set`
/// inserts or upserts.
fn ottl_does(processor: &Yaml, level: Level, key: &str, action: &OneOrMore) -> bool {
    let on_key = |re: &Regex, body: &str| re.captures(body).is_some_and(|c| &c[1] == key);
    ottl_statements(processor)
        .into_iter()
        .any(|(context, statement)| {
            let Some(body) = on_level(context, statement, level) else {
                return false;
            };
            let hashes = OTTL
                .hash
                .captures(&body)
                .is_some_and(|c| &c[1] == key && &c[2] == key);
            (action.contains("hash") && hashes)
                || ((action.contains("insert") || action.contains("upsert"))
                    && on_key(&OTTL.set, &body)
                    && !hashes)
                || (action.contains("delete")
                    && (on_key(&OTTL.delete_key, &body)
                        || OTTL.delete_matching.captures(&body).is_some_and(|c| {
                            let pattern = c[1].replace(r"\\", r"\").replace(r#"\""#, "\"");
                            Regex::new(&pattern).is_ok_and(|re| re.is_match(key))
                        })))
        })
}

/// The statement's action part (before `where`), written with bare
/// `attributes` when it acts on `level`'s attributes; `None` when it acts
/// on another level.
fn on_level(context: Option<&str>, statement: &str, level: Level) -> Option<String> {
    let body = statement.split(" where ").next().unwrap_or(statement);
    let own = format!("{}.attributes", level.ottl());
    let other = format!("{}.attributes", level.other().ottl());
    if body.contains(&own) {
        return Some(body.replace(&own, "attributes"));
    }
    if body.contains(&other) || body.contains("spanevent.attributes") {
        return None;
    }
    // Bare paths: the group's context decides (the basic form: spans).
    (context.unwrap_or("span") == level.ottl()).then(|| body.to_string())
}

/// A tail_sampling processor's policies, each with whether it only decides
/// together with others (`true` inside an `and` of several): the top-level
/// ones, a composite's sub-policies (any of them keeps), an `and`'s.
fn policies(processor: &Yaml) -> Vec<(&Yaml, bool)> {
    let mut out = Vec::new();
    for policy in processor["policies"].as_sequence().into_iter().flatten() {
        out.push((policy, false));
        match policy["type"].as_str() {
            Some("composite") => {
                out.extend(
                    policy["composite"]["composite_sub_policy"]
                        .as_sequence()
                        .into_iter()
                        .flatten()
                        .map(|p| (p, false)),
                );
            }
            Some("and") => {
                let subs = policy["and"]["and_sub_policy"]
                    .as_sequence()
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                out.extend(subs.iter().map(|p| (p, subs.len() > 1)));
            }
            _ => {}
        }
    }
    out
}

/// How one policy fares against the policy the lesson wants: `None` when it
/// is another kind of policy.
type Verdict = Option<Result<(), (String, CollectorFault)>>;

/// `None` when a policy matches `want` (and decides on its own); else what
/// is wrong, with the fault of the closest policy.
fn find_policy(policies: &[(&Yaml, bool)], want: &PolicySpec) -> Option<Found> {
    let described = describe_policy(want);
    let wanted = described.trim_start_matches("a ");
    let mut why: Vec<(String, CollectorFault)> = Vec::new();
    for (policy, combined) in policies {
        let name = policy["name"].as_str().unwrap_or("?");
        let Some(kind) = policy["type"].as_str() else {
            continue;
        };
        let verdict: Verdict = match (want.kind, kind) {
            (_, k) if k == want.kind.name() => Some(judge_native(policy, name, want)),
            (PolicyKind::StatusCode, "ottl_condition") => ottl_errors(policy, name, want),
            (PolicyKind::StatusCode, "numeric_attribute") => numeric_errors(policy, name),
            (PolicyKind::Latency, "ottl_condition") => ottl_latency(policy, name, want),
            _ => None,
        };
        match verdict {
            Some(Ok(())) if !combined => return None,
            Some(Ok(())) => why.push((
                format!(
                    "policy `{name}` would keep them, but it sits inside an `and` with other \
                     policies, so it keeps a trace only when they all agree"
                ),
                CollectorFault::CombinedPolicies,
            )),
            Some(Err(problem)) => why.push(problem),
            None => {}
        }
    }
    let Some((_, first)) = why.first() else {
        return Some(missing(format!("no {wanted}")));
    };
    let fault_of = *first;
    let reasons: Vec<String> = why.into_iter().map(|(w, _)| w).collect();
    Some(fault(
        format!("no {wanted}: {}", reasons.join("; ")),
        fault_of,
    ))
}

/// A policy of the wanted type: are its settings where the collector reads
/// them, and do they keep what the lesson asks for?
fn judge_native(
    policy: &Yaml,
    name: &str,
    want: &PolicySpec,
) -> Result<(), (String, CollectorFault)> {
    let kind = want.kind.name();
    let settings = &policy[kind];
    let known: &[&str] = match want.kind {
        PolicyKind::StatusCode => &["status_codes"],
        PolicyKind::Latency => &["threshold_ms", "upper_threshold_ms"],
        PolicyKind::Probabilistic => &["sampling_percentage", "hash_salt"],
    };
    if settings.as_mapping().is_none() {
        let beside: Vec<&str> = known
            .iter()
            .copied()
            .filter(|k| !policy[*k].is_null())
            .collect();
        let problem = if beside.is_empty() {
            format!("policy `{name}` has no settings for its type")
        } else {
            format!(
                "policy `{name}` has `{}` beside its `type`, where the collector does not read \
                 it (it refuses the config): a policy's settings go one level down, under a key \
                 named after its type",
                beside.join("`, `")
            )
        };
        return Err((problem, CollectorFault::MisplacedSetting));
    }
    let wrong = |problem: String| Err((problem, CollectorFault::WrongSetting));
    match want.kind {
        PolicyKind::StatusCode => {
            let code = want.status_code.as_deref().unwrap_or("ERROR");
            let codes: Vec<&str> = match &settings["status_codes"] {
                Yaml::String(one) => vec![one.as_str()],
                list => list
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .filter_map(Yaml::as_str)
                    .collect(),
            };
            if codes.contains(&code) {
                Ok(())
            } else {
                wrong(format!(
                    "policy `{name}` keeps status codes {codes:?}, not {code}"
                ))
            }
        }
        PolicyKind::Latency => {
            let raw = &settings["threshold_ms"];
            let upper = settings["upper_threshold_ms"].as_f64().unwrap_or(0.0);
            match (raw.as_f64(), want.threshold_ms) {
                (None, _) if raw.is_null() => wrong(format!("policy `{name}` has no threshold_ms")),
                (None, _) => wrong(format!(
                    "policy `{name}` has threshold_ms {}: it is a number of milliseconds",
                    yaml_text(raw)
                )),
                (Some(t), _) if t <= 0.0 => Err((
                    format!("policy `{name}` has threshold_ms {t}: every trace is longer"),
                    CollectorFault::KeepsEverything,
                )),
                (Some(t), Some(range)) if !range.contains(t) => wrong(format!(
                    "policy `{name}` has threshold_ms {t}; this lesson wants {}",
                    range.describe()
                )),
                _ if upper > 0.0 => wrong(format!(
                    "policy `{name}` has upper_threshold_ms {upper}: the slowest traces would \
                     not be kept"
                )),
                _ => Ok(()),
            }
        }
        PolicyKind::Probabilistic => {
            let raw = &settings["sampling_percentage"];
            match (raw.as_f64(), want.percentage) {
                (None, _) if raw.is_null() => {
                    wrong(format!("policy `{name}` has no sampling_percentage"))
                }
                (None, _) => wrong(format!(
                    "policy `{name}` has sampling_percentage {}: it is a number",
                    yaml_text(raw)
                )),
                (Some(p), _) if p >= 100.0 => Err((
                    format!("policy `{name}` has sampling_percentage {p}: it keeps every trace"),
                    CollectorFault::KeepsEverything,
                )),
                (Some(p), Some(range)) if p < 1.0 && range.contains(p * 100.0) => wrong(format!(
                    "policy `{name}` has sampling_percentage {p}: a percentage, so it keeps {p} % \
                     of the traces (one in {}), not a fraction like a head sampler's ratio; this \
                     lesson wants {} %",
                    (100.0 / p).round(),
                    range.describe()
                )),
                (Some(p), Some(range)) if !range.contains(p) => wrong(format!(
                    "policy `{name}` has sampling_percentage {p}; this lesson wants {}",
                    range.describe()
                )),
                _ => Ok(()),
            }
        }
    }
}

/// A YAML scalar as written, for messages.
fn yaml_text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => format!("{s:?}"),
        other => serde_yaml::to_string(other)
            .map(|t| t.trim().to_string())
            .unwrap_or_default(),
    }
}

/// An `ottl_condition` policy's span conditions (`None`: not nested under
/// the type; then the settings may sit beside it).
fn ottl_span_conditions(policy: &Yaml) -> Result<Vec<String>, (String, CollectorFault)> {
    let settings = &policy["ottl_condition"];
    if settings.as_mapping().is_none() {
        let name = policy["name"].as_str().unwrap_or("?");
        return Err((
            format!(
                "policy `{name}` has its conditions beside its `type`, where the collector does \
                 not read them: a policy's settings go one level down, under a key named after \
                 its type"
            ),
            CollectorFault::MisplacedSetting,
        ));
    }
    Ok(settings["span"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Yaml::as_str)
        // `span.status.code` and `status.code` alike.
        .map(|c| c.replace("span.", ""))
        .collect())
}

/// An OTTL condition on the span status: `status.code == STATUS_CODE_ERROR`.
fn ottl_errors(policy: &Yaml, name: &str, want: &PolicySpec) -> Verdict {
    if want.status_code.as_deref().unwrap_or("ERROR") != "ERROR" {
        return None;
    }
    let conditions = match ottl_span_conditions(policy) {
        Ok(c) => c,
        Err(e) if !policy["span"].is_null() => return Some(Err(e)),
        Err(_) => return None,
    };
    let on_status: Vec<&String> = conditions
        .iter()
        .filter(|c| c.contains("status.code"))
        .collect();
    if on_status.is_empty() {
        return None;
    }
    if on_status.iter().any(|c| OTTL.error.is_match(c)) {
        Some(Ok(()))
    } else {
        Some(Err((
            format!("policy `{name}` tests the span status, but not for an error"),
            CollectorFault::WrongSetting,
        )))
    }
}

/// A numeric_attribute policy on the HTTP status code that keeps 500..=599.
fn numeric_errors(policy: &Yaml, name: &str) -> Verdict {
    let settings = &policy["numeric_attribute"];
    let key = settings["key"].as_str()?;
    if key != "http.response.status_code" && key != "http.status_code" {
        return None;
    }
    let min = settings["min_value"].as_f64();
    let max = settings["max_value"].as_f64();
    let inverted = settings["invert_match"].as_bool() == Some(true);
    let keeps_5xx =
        min.is_some_and(|m| (400.0..=500.0).contains(&m)) && max.is_none_or(|m| m >= 599.0);
    if keeps_5xx && !inverted {
        return Some(Ok(()));
    }
    let range = |v: Option<f64>| v.map_or("-".to_string(), |v| v.to_string());
    Some(Err((
        format!(
            "policy `{name}` keeps {key} from {} to {}{}; the failed requests answer 500 to 599",
            range(min),
            range(max),
            if inverted { ", inverted" } else { "" }
        ),
        CollectorFault::WrongSetting,
    )))
}

/// An OTTL condition on the span's duration: `end_time - start_time >
/// Duration("1s")`, or the same in `_unix_nano`.
fn ottl_latency(policy: &Yaml, name: &str, want: &PolicySpec) -> Verdict {
    let conditions = ottl_span_conditions(policy).ok()?;
    let threshold_ms = conditions.iter().find_map(|c| {
        if let Some(n) = OTTL.longer_nanos.captures(c) {
            return n[1].replace('_', "").parse::<f64>().ok().map(|ns| ns / 1e6);
        }
        let d = OTTL.longer_duration.captures(c)?;
        let value: f64 = d[1].parse().ok()?;
        Some(if &d[2] == "s" { value * 1000.0 } else { value })
    })?;
    match want.threshold_ms {
        Some(range) if !range.contains(threshold_ms) => Some(Err((
            format!(
                "policy `{name}` keeps spans longer than {threshold_ms} ms; this lesson wants {}",
                range.describe()
            ),
            CollectorFault::WrongSetting,
        ))),
        _ => Some(Ok(())),
    }
}
