//! The stack as the checks see it: the compose model plus the files that the
//! compose services mount and run with (collector and Jaeger configs, the
//! Postgres init script), found the way the containers find them: through
//! `command:` and the bind mounts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::collector::CollectorConfig;
use crate::compose::{Compose, Service};
use crate::contract::{COLLECTOR, JAEGER, POSTGRES};
use crate::problem::{Check, Report};

/// Everything the checks look at.
#[derive(Debug)]
pub struct Stack {
    /// The directory holding docker-compose.yml; bind sources are relative to it.
    pub root: PathBuf,
    pub compose: Compose,
    /// The collector's config, as its `--config` resolves through its mounts.
    pub collector: Option<LoadedConfig>,
    /// Jaeger's config, likewise.
    pub jaeger: Option<LoadedConfig>,
    /// Databases that the Postgres init scripts create (`None`: no script found).
    pub databases: Option<BTreeSet<String>>,
}

/// A collector-shaped config and the file it came from.
#[derive(Debug)]
pub struct LoadedConfig {
    /// Path relative to the root, for messages (`config/otel-collector.yaml`).
    pub file: String,
    pub config: CollectorConfig,
}

/// Where the Postgres image runs init scripts from, on an empty data volume.
const INITDB_DIR: &str = "/docker-entrypoint-initdb.d";

impl Stack {
    /// Finds and parses the mounted configs; problems go to `report`.
    pub fn load(root: &Path, compose: Compose, report: &mut Report) -> Stack {
        let collector = load_config(root, &compose, COLLECTOR, Check::Collector, report);
        let jaeger = load_config(root, &compose, JAEGER, Check::Jaeger, report);
        let databases = compose
            .services
            .get(POSTGRES)
            .and_then(|pg| init_databases(root, pg, report));
        Stack {
            root: root.to_path_buf(),
            compose,
            collector,
            jaeger,
            databases,
        }
    }

    /// The service, if the compose file defines it.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.compose.services.get(name)
    }
}

/// Every `--config=X` / `--config X` in a command, in order (`file:`
/// stripped). The collector merges them: see [`merge`].
pub fn config_args(words: &[String]) -> Vec<String> {
    let mut configs = Vec::new();
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        let value = match word.strip_prefix("--config=") {
            Some(v) => Some(v.to_string()),
            None if word == "--config" => iter.next().cloned(),
            None => None,
        };
        if let Some(v) = value {
            configs.push(v.strip_prefix("file:").unwrap_or(&v).to_string());
        }
    }
    configs
}

/// Merges a later config file into an earlier one the way the collector
/// does: maps key by key, everything else (lists included) replaced whole.
pub fn merge(base: &mut serde_yaml::Value, later: serde_yaml::Value) {
    match (base, later) {
        (serde_yaml::Value::Mapping(base), serde_yaml::Value::Mapping(later)) => {
            for (key, value) in later {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, later) => *base = later,
    }
}

/// Maps a path inside `service`'s container to the host, through its bind
/// mounts (the longest matching target wins). Returns the mount's own source
/// and the full host path.
pub fn host_path(
    root: &Path,
    service: &Service,
    container_path: &str,
) -> Option<(PathBuf, PathBuf)> {
    service
        .mounts()
        .into_iter()
        .filter(|m| m.bind)
        .filter_map(|m| {
            let target = m.target.trim_end_matches('/');
            let rest = if container_path == target {
                ""
            } else {
                container_path.strip_prefix(&format!("{target}/"))?
            };
            Some((target.len(), bind_source(root, &m.source), rest.to_string()))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, source, rest)| {
            let full = if rest.is_empty() {
                source.clone()
            } else {
                source.join(rest)
            };
            (source, full)
        })
}

/// A bind source on the host: relative to the compose file's directory.
pub fn bind_source(root: &Path, source: &str) -> PathBuf {
    root.join(source.strip_prefix("./").unwrap_or(source))
}

/// `path` relative to `root`, for messages.
pub fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn load_config(
    root: &Path,
    compose: &Compose,
    name: &str,
    check: Check,
    report: &mut Report,
) -> Option<LoadedConfig> {
    let service = compose.services.get(name)?;
    let configs = config_args(&service.command_words());
    if configs.is_empty() {
        report.add(check, format!("{name}: `command:` has no --config, so the image's built-in configuration runs instead of the workshop's"));
        return None;
    }
    let mut files = Vec::new();
    let mut merged: Option<serde_yaml::Value> = None;
    for in_container in &configs {
        let Some((mount_source, path)) = host_path(root, service, in_container) else {
            report.add(
                Check::Mount,
                format!(
                    "{name} runs --config {in_container}, but no bind mount provides that path"
                ),
            );
            return None;
        };
        if !mount_source.exists() {
            return None; // the mount check reports the missing source
        }
        let file = relative(root, &path);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                report.add(Check::Mount, format!("{name} runs --config {in_container}, which is {file} on the host: cannot read it: {e}"));
                return None;
            }
        };
        // Each file must parse on its own; the checks then see the merge.
        if let Err(e) = CollectorConfig::parse(&text) {
            report.add(check, format!("{file} does not parse: {e}"));
            return None;
        }
        let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_default();
        match merged.as_mut() {
            Some(base) => merge(base, value),
            None => merged = Some(value),
        }
        files.push(file);
    }
    let text = serde_yaml::to_string(&merged.unwrap_or_default()).unwrap_or_default();
    let file = files.join(" + ");
    match CollectorConfig::parse(&text) {
        Ok(config) => Some(LoadedConfig { file, config }),
        Err(e) => {
            report.add(check, format!("{file} (merged) does not parse: {e}"));
            None
        }
    }
}

/// Database names from `CREATE DATABASE` in the `.sql` scripts mounted into
/// the Postgres init directory.
fn init_databases(
    root: &Path,
    postgres: &Service,
    report: &mut Report,
) -> Option<BTreeSet<String>> {
    let sources: Vec<PathBuf> = postgres
        .mounts()
        .into_iter()
        .filter(|m| m.bind && m.target.starts_with(INITDB_DIR))
        .map(|m| bind_source(root, &m.source))
        .collect();
    if sources.iter().any(|s| !s.exists()) {
        return None; // the mount check reports the missing source
    }
    let scripts: Vec<PathBuf> = sources
        .into_iter()
        .flat_map(|source| match std::fs::read_dir(&source) {
            Ok(dir) => dir.filter_map(|e| Some(e.ok()?.path())).collect(),
            Err(_) => vec![source],
        })
        .filter(|p| p.extension().is_some_and(|e| e == "sql") && p.is_file())
        .collect();
    if scripts.is_empty() {
        report.add(Check::Postgres, format!("postgres: no .sql init script is mounted into {INITDB_DIR}, so nothing creates the databases orders, users and inventory"));
        return None;
    }
    let mut databases = BTreeSet::new();
    for script in scripts {
        let text = std::fs::read_to_string(&script).unwrap_or_default();
        databases.extend(created_databases(&text));
    }
    Some(databases)
}

/// Names after `CREATE DATABASE` in SQL text (comments skipped, case-insensitive).
pub fn created_databases(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .filter_map(|statement| {
            let words: Vec<&str> = statement.split_whitespace().collect();
            match words.as_slice() {
                [create, database, name, ..]
                    if create.eq_ignore_ascii_case("create")
                        && database.eq_ignore_ascii_case("database") =>
                {
                    // Postgres folds unquoted names to lower case.
                    Some(
                        match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                            Some(quoted) => quoted.to_string(),
                            None => name.to_lowercase(),
                        },
                    )
                }
                _ => None,
            }
        })
        .collect()
}
