//! docker-compose.yml as typed data: services with their image, command,
//! environment, ports, mounts, healthcheck and dependencies.
//!
//! Loading does what `docker compose config` does first: YAML anchors and
//! `<<:` merge keys, `${VAR}` substitution from `.env`, and override files
//! (`-f a.yml -f b.yml`) merged in order.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_yaml::Value;

use crate::dotenv::DotEnv;
use crate::problem::{Check, Report};

mod service;

pub use service::{
    DependsOn, DependsOnEntry, Environment, Healthcheck, Mount, PortMapping, PortSpec, Service,
    StringOrList, VolumeSpec,
};

/// The merged compose model.
#[derive(Debug, Default)]
pub struct Compose {
    /// Services by name.
    pub services: BTreeMap<String, Service>,
    /// Named volumes declared at the top level (`volumes:`).
    pub volumes: Vec<String>,
    /// Each service's `image:` as written, before `${VAR}` substitution, to
    /// tell a version pinned in `.env` from one hard-coded in the file.
    pub raw_images: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ComposeFile {
    #[serde(deserialize_with = "nullable")]
    services: BTreeMap<String, Service>,
    #[serde(deserialize_with = "nullable")]
    volumes: BTreeMap<String, Value>,
}

/// Loads `files` (the first is the base, the others override it, like
/// `docker compose -f a -f b`) from `root`. Problems go to `report`; `None`
/// when the model cannot be built at all.
pub fn load(root: &Path, files: &[&str], env: &DotEnv, report: &mut Report) -> Option<Compose> {
    let mut merged = Value::Mapping(Default::default());
    let mut raw_images = BTreeMap::new();
    for file in files {
        let text = match std::fs::read_to_string(root.join(file)) {
            Ok(text) => text,
            Err(e) => {
                report.add(Check::Parse, format!("{file}: cannot read it: {e}"));
                return None;
            }
        };
        let mut value: Value = match serde_yaml::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                report.add(Check::Parse, format!("{file} is not valid YAML: {e}"));
                return None;
            }
        };
        if let Err(e) = value.apply_merge() {
            report.add(
                Check::Parse,
                format!("{file}: a `<<:` merge key is wrong: {e}"),
            );
            return None;
        }
        if let Some(services) = value.get("services").and_then(Value::as_mapping) {
            for (name, service) in services {
                if let (Some(name), Some(image)) = (name.as_str(), service.get("image")) {
                    if let Some(image) = image.as_str() {
                        raw_images.insert(name.to_string(), image.to_string());
                    }
                }
            }
        }
        let mut undefined = Vec::new();
        interpolate(&mut value, env, &mut undefined);
        undefined.sort();
        undefined.dedup();
        for name in undefined {
            report.add(
                Check::Parse,
                format!(
                    "{file} uses ${{{name}}}, which .env does not set (and no default is given)"
                ),
            );
        }
        merge(&mut merged, value);
    }
    let label = files.join(" + ");
    let file: ComposeFile = match serde_yaml::from_value(merged) {
        Ok(f) => f,
        Err(e) => {
            report.add(Check::Parse, format!("{label}: unexpected shape: {e}"));
            return None;
        }
    };
    Some(Compose {
        services: file.services,
        volumes: file.volumes.into_keys().collect(),
        raw_images,
    })
}

/// Substitutes `${VAR}` in every string value (not in keys), as compose does.
fn interpolate(value: &mut Value, env: &DotEnv, undefined: &mut Vec<String>) {
    match value {
        Value::String(s) => *s = env.interpolate(s, undefined),
        Value::Sequence(items) => items
            .iter_mut()
            .for_each(|v| interpolate(v, env, undefined)),
        Value::Mapping(map) => map
            .iter_mut()
            .for_each(|(_, v)| interpolate(v, env, undefined)),
        Value::Tagged(tagged) => interpolate(&mut tagged.value, env, undefined),
        _ => {}
    }
}

/// Merges an override file into the model so far: mappings key by key,
/// anything else replaced. (Compose appends some lists, such as `ports`,
/// instead of replacing them; for `command`, which the overrides here set,
/// replacing is what compose does.)
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(base), Value::Mapping(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, over) => *slot = over,
    }
}

/// A YAML scalar as compose reads it: strings, numbers and booleans as text.
pub fn scalar_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Deserializes `null` (a key with nothing after it) as the default value.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
