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
    assert_eq!(otel["opentelemetry"], &vec!["0.33.1".to_string()]);
    assert!(otel["tracing-opentelemetry"][0].starts_with("0.34."));
}
