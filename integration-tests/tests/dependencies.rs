//! One version of every OpenTelemetry crate in the whole workspace.
//!
//! Two versions of `opentelemetry` would mean two incompatible `Context`
//! types: spans from one half of the code would silently never join the
//! other half's traces. Cargo.lock is the truth about what gets built.
//!
//! (`cargo tree -d` still *prints* `opentelemetry v0.33.1`, as a dependent of
//! crates that really are duplicated, such as `base64` 0.22/0.23 between
//! tonic and reqwest, or host/target copies of `futures-sink`. That is not a
//! second version of it; this test would catch one.)

use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn every_opentelemetry_crate_has_exactly_one_version() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
        .expect("Cargo.lock at the workspace root");
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"').to_string());
        } else if let Some(value) = line.strip_prefix("version = ") {
            if let Some(name) = name.take() {
                versions
                    .entry(name)
                    .or_default()
                    .push(value.trim_matches('"').to_string());
            }
        }
    }
    let otel: BTreeMap<&str, &Vec<String>> = versions
        .iter()
        .filter(|(name, _)| name.starts_with("opentelemetry") || *name == "tracing-opentelemetry")
        .map(|(name, found)| (name.as_str(), found))
        .collect();
    for crate_name in [
        "opentelemetry",
        "opentelemetry_sdk",
        "opentelemetry-otlp",
        "opentelemetry-proto",
        "opentelemetry-semantic-conventions",
        "tracing-opentelemetry",
    ] {
        assert!(
            otel.contains_key(crate_name),
            "{crate_name} is not in Cargo.lock"
        );
    }
    for (name, found) in &otel {
        assert_eq!(found.len(), 1, "{name} has several versions: {found:?}");
    }
    // The pair that must match (opentelemetry 0.33 ↔ tracing-opentelemetry
    // 0.34); patch releases may move.
    assert!(otel["opentelemetry"][0].starts_with("0.33."));
    assert!(otel["tracing-opentelemetry"][0].starts_with("0.34."));
}

/// Every dependency a workspace crate declares is named by its code: an
/// unused one costs every learner build time and misleads a reader about
/// what the crate does. (`cargo udeps` and `cargo machete` would do this, but
/// need nightly or a download; a name search is enough for this workspace.)
#[test]
fn every_declared_dependency_is_used() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members = members(&workspace);
    assert!(members.len() >= 9, "workspace members: {members:?}");
    let mut unused = Vec::new();
    // workspace-hack names its dependencies for their features only.
    for member in members.iter().filter(|m| *m != "workspace-hack") {
        let dir = root.join(member);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let mut code = String::new();
        read_rust_files(&dir, &mut code);
        for dependency in declared_dependencies(&manifest) {
            // Used by cargo, not by the code: workspace-hack/src/lib.rs.
            if dependency == "workspace-hack" {
                continue;
            }
            let name = dependency.replace('-', "_");
            if !names_crate(&code, &name) {
                unused.push(format!("{member}: {dependency}"));
            }
        }
    }
    assert!(
        unused.is_empty(),
        "declared in Cargo.toml but never named in the crate's code (remove them): {unused:#?}"
    );
}

/// Every workspace crate depends on `workspace-hack`, so that every cargo
/// command builds each dependency with the same features, once
/// (workspace-hack/src/lib.rs); a crate without it compiles its own copies.
#[test]
fn every_crate_shares_the_workspace_hack() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let missing: Vec<String> = members(&workspace)
        .into_iter()
        .filter(|member| member != "workspace-hack")
        .filter(|member| {
            let manifest = std::fs::read_to_string(root.join(member).join("Cargo.toml")).unwrap();
            !declared_dependencies(&manifest).contains(&"workspace-hack".to_string())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "no `workspace-hack` dependency (run `cargo hakari manage-deps`): {missing:?}"
    );
}

/// The `members = [...]` of the workspace manifest.
fn members(workspace: &str) -> Vec<String> {
    let start = workspace.find("members = [").expect("a members list");
    let list = &workspace[start..];
    let list = &list[..list.find(']').unwrap()];
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Keys of every `[dependencies]`, `[dev-dependencies]` and
/// `[build-dependencies]` table (also `[target.*.dependencies]`).
fn declared_dependencies(manifest: &str) -> Vec<String> {
    let mut in_dependencies = false;
    let mut found = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line.trim_end_matches(']').ends_with("dependencies");
            continue;
        }
        if !in_dependencies || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split(['=', '.']).next().unwrap_or_default().trim();
        if !key.is_empty() {
            found.push(key.to_string());
        }
    }
    found
}

fn read_rust_files(dir: &Path, into: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && name != "migrations" {
            read_rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push_str(&std::fs::read_to_string(&path).unwrap());
            into.push('\n');
        }
    }
}

/// Does `code` say `name::` or `use name` (as a whole word)?
fn names_crate(code: &str, name: &str) -> bool {
    let whole_word_before = |at: usize| {
        code[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    };
    // `use serde_json` must not count as `use serde`: the name ends there.
    let whole_word_after = |end: usize| {
        code[end..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    };
    let found = |pattern: String, whole_after: bool| {
        code.match_indices(pattern.as_str()).any(|(at, found)| {
            whole_word_before(at) && (!whole_after || whole_word_after(at + found.len()))
        })
    };
    found(format!("{name}::"), false)
        || found(format!("use {name}"), true)
        || found(format!("{name} as "), false)
}

#[test]
fn the_dependency_check_sees_a_crate_named_only_by_a_longer_name_as_unused() {
    let code = "use tracing_opentelemetry::OpenTelemetrySpanExt;";
    assert!(!names_crate(code, "opentelemetry"));
    assert!(names_crate(code, "tracing_opentelemetry"));
    assert!(names_crate("#[tokio::main]", "tokio"));
    assert!(!names_crate("use serde_json::Value;", "serde"));
    assert!(names_crate("use serde;", "serde"));
    let manifest = "[package]\nname = \"x\"\n[dependencies]\ntokio.workspace = true\nserde = { version = \"1\" }\n\n[dev-dependencies]\nlab = { path = \"../lab\" }\n";
    assert_eq!(declared_dependencies(manifest), ["tokio", "serde", "lab"]);
}
