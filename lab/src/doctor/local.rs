//! Doctor's checks on disk: binaries older than their sources, and the
//! environment files in force, read as dev-up reads them.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::Diagnosis;
use crate::stack::{self, SERVICES};

/// The newest modification time among a crate's sources.
fn newest_source(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "rs" || e == "toml" || e == "sql")
            {
                if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                    if newest.as_ref().is_none_or(|(t, _)| modified > *t) {
                        newest = Some((modified, path));
                    }
                }
            }
        }
    }
    newest
}

/// Binaries in `.lab/bin` older than the sources they are built from.
pub fn stale_binaries(root: &Path, d: &mut Diagnosis) {
    let shared: Vec<_> = ["telemetry", "service-kit"]
        .iter()
        .filter_map(|c| newest_source(&root.join(c)))
        .collect();
    for service in SERVICES.iter().rev() {
        let binary = root.join(".lab").join("bin").join(service);
        let Ok(built) = binary.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        let newest = newest_source(&root.join(service))
            .into_iter()
            .chain(shared.iter().cloned())
            .max_by_key(|(t, _)| *t);
        match newest {
            Some((changed, file)) if changed > built => d.problem(
                format!(
                    "{service} runs a binary older than its sources ({} changed since)",
                    file.strip_prefix(root).unwrap_or(&file).display()
                ),
                "rebuild and restart what changed: `cargo lab check NN` or scripts/dev-up.sh",
            ),
            _ => d.ok(format!("{service}'s binary is newer than its sources")),
        }
    }
}

/// The lesson environment and the learner's env files, each read as dev-up does.
pub(super) fn environment(root: &Path, d: &mut Diagnosis) {
    let active = stack::active_lesson(root);
    match &active {
        Some(slug) => d.ok(format!("active lesson environment: lessons/{slug}/env/")),
        None => d.ok("no lesson environment active"),
    }
    for service in SERVICES.iter().rev().chain(&["otel-collector"]) {
        for (key, lesson, mine) in stack::overridden(root, active.as_deref(), service) {
            d.problem(
                format!(
                    "{service}: .lab/{service}.env sets {key}={mine}, over the lesson's \
                     {key}={lesson}"
                ),
                format!(
                    "delete that line from .lab/{service}.env (the lesson's check expects the \
                     lesson's value), then scripts/dev-up.sh"
                ),
            );
        }
        for file in stack::env_files(root, active.as_deref(), service) {
            let shown = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            match stack::parse_env_file(&file) {
                Ok(pairs) => {
                    let vars: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    d.ok(format!("{service}: {shown}: {}", vars.join(" ")));
                }
                Err(e) => d.problem(
                    format!("{e:#}"),
                    format!("write that line as KEY=VALUE or a # comment in {shown}"),
                ),
            }
        }
    }
}
