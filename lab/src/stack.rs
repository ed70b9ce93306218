//! What runs where: the native stack `scripts/dev-up.sh` recorded in
//! `.lab/run/` (ports, backend URL, pids), the `KEY=VALUE` environment files
//! (`.lab/<service>.env`, `lessons/NN-slug/env/<service>.env`), and which
//! mode the workshop is in (native, docker compose, or nothing running).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The four services, callees first (the order dev-up starts them in).
pub const SERVICES: [&str; 4] = [
    "inventory-service",
    "user-service",
    "order-service",
    "api-gateway",
];

/// Default ports (DESIGN, Services) when nothing was recorded.
pub const DEFAULT_GATEWAY: &str = "http://localhost:8080";

pub fn default_port(service: &str) -> u16 {
    match service {
        "api-gateway" => 8080,
        "order-service" => 8081,
        "user-service" => 8082,
        _ => 8083,
    }
}

/// `.lab/run/` under the workshop root.
pub fn run_dir(root: &Path) -> PathBuf {
    root.join(".lab").join("run")
}

/// The stack dev-up recorded in `.lab/run/stack.env`.
#[derive(Clone, Debug, Default)]
pub struct NativeStack {
    pub values: BTreeMap<String, String>,
    pub run: PathBuf,
}

impl NativeStack {
    /// Reads `.lab/run/stack.env`; `None` when dev-up never ran here.
    pub fn load(root: &Path) -> anyhow::Result<Option<NativeStack>> {
        let run = run_dir(root);
        let file = run.join("stack.env");
        if !file.is_file() {
            return Ok(None);
        }
        let values = parse_env_file(&file)?.into_iter().collect();
        Ok(Some(NativeStack { values, run }))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn gateway(&self) -> Option<&str> {
        self.get("GATEWAY_URL")
    }

    pub fn jaeger(&self) -> Option<&str> {
        self.get("JAEGER_URL")
    }

    /// The config the native collector runs (`config/otel-collector.yaml`),
    /// when dev-up started one.
    pub fn collector_config(&self) -> Option<&str> {
        self.get("COLLECTOR").and(self.get("COLLECTOR_CONFIG"))
    }

    /// A service's port as dev-up started it.
    pub fn port(&self, service: &str) -> u16 {
        let key = format!("PORT_{}", service.to_uppercase().replace('-', "_"));
        self.get(&key)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| default_port(service))
    }

    /// The pid of a process dev-up started (`sink` or a service), if it
    /// still runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.run.join(format!("{name}.pid"))).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        process_alive(pid).then_some(pid)
    }
}

/// Whether process `pid` exists (Linux and macOS: `kill -0`).
pub fn process_alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Reads a `KEY=VALUE` file: `#` comments and blank lines are allowed; any
/// other line is an error naming the file and the line.
pub fn parse_env_file(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    parse_env(&text).map_err(|(line, problem)| {
        anyhow::anyhow!(
            "{}:{line}: cannot read this line: {problem}",
            path.display()
        )
    })
}

/// The parser behind [`parse_env_file`]; errors are (line number, problem).
pub fn parse_env(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut pairs = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err((i + 1, format!("{line:?} is not KEY=VALUE")));
        };
        let valid_key = !key.is_empty()
            && !key.starts_with(|c: char| c.is_ascii_digit())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err((i + 1, format!("{key:?} is not a variable name")));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

/// The environment files that apply to `service`, in order (later wins):
/// the active lesson's, then the learner's own.
pub fn env_files(root: &Path, lesson: Option<&str>, service: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(slug) = lesson {
        files.push(
            root.join("lessons")
                .join(slug)
                .join("env")
                .join(format!("{service}.env")),
        );
    }
    files.push(root.join(".lab").join(format!("{service}.env")));
    files.into_iter().filter(|f| f.is_file()).collect()
}

/// Variables the learner's own `.lab/<service>.env` sets over the active
/// lesson's `env/<service>.env`: (key, the lesson's value, the learner's).
/// A leftover override is a classic way to fail a lesson's check.
pub fn overridden(
    root: &Path,
    lesson: Option<&str>,
    service: &str,
) -> Vec<(String, String, String)> {
    let Some(slug) = lesson else {
        return Vec::new();
    };
    let read = |path: PathBuf| parse_env_file(&path).unwrap_or_default();
    let lesson_env = read(
        root.join("lessons")
            .join(slug)
            .join("env")
            .join(format!("{service}.env")),
    );
    let own = read(root.join(".lab").join(format!("{service}.env")));
    lesson_env
        .into_iter()
        .filter_map(|(key, value)| {
            let (_, mine) = own.iter().rev().find(|(k, _)| *k == key)?;
            (*mine != value).then(|| (key, value, mine.clone()))
        })
        .collect()
}

/// The lesson whose environment is active (`.lab/lesson`, written by
/// `cargo lab start`).
pub fn active_lesson(root: &Path) -> Option<String> {
    std::fs::read_to_string(root.join(".lab").join("lesson"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn set_active_lesson(root: &Path, slug: Option<&str>) -> anyhow::Result<()> {
    let path = root.join(".lab").join("lesson");
    match slug {
        Some(slug) => {
            std::fs::create_dir_all(root.join(".lab"))?;
            std::fs::write(&path, format!("{slug}\n"))
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
        }
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(anyhow::anyhow!("cannot remove {}: {e}", path.display()))
            }
            _ => Ok(()),
        },
    }
}

/// How the workshop runs here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// dev-up recorded a stack in `.lab/run/`.
    Native,
    /// A Docker engine answers (a `docker` CLI alone does not count).
    Compose,
    /// Neither: nothing started yet, native by default.
    Nothing,
}

/// Native if dev-up ran here; compose if a Docker engine answers; else nothing.
pub fn detect_mode(root: &Path) -> Mode {
    if run_dir(root).join("stack.env").is_file() {
        return Mode::Native;
    }
    if docker_engine() {
        return Mode::Compose;
    }
    Mode::Nothing
}

/// Whether a Docker engine answers (`docker info`), not just the CLI.
pub fn docker_engine() -> bool {
    std::process::Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
