//! The native stack from `cargo lab`'s side: bringing it up to date
//! through `scripts/dev-up.sh` (the one implementation of "rebuild what
//! changed, restart what changed"), and stopping or restarting a service
//! for a lesson's scenario.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::stack::{self, NativeStack};

/// What `dev-up` did.
#[derive(Debug, PartialEq, Eq)]
pub enum UpToDate {
    /// Everything runs the current code and environment.
    Ready,
    /// The code does not compile; cargo's errors were shown, nothing restarted.
    BuildFailed,
}

/// Which lesson environment dev-up should apply.
#[derive(Clone, Copy, Debug)]
pub enum LessonEnv<'a> {
    /// Whatever `.lab/lesson` says (the started lesson, if any).
    Active,
    /// This lesson's, for this run only (a check of a lesson not started).
    Only(&'a str),
}

/// Runs `scripts/dev-up.sh` with the stack's recorded ports and prefixes.
pub fn dev_up(root: &Path, lesson: LessonEnv) -> anyhow::Result<UpToDate> {
    let script = root.join("scripts").join("dev-up.sh");
    let mut command = Command::new("bash");
    command.arg(&script).current_dir(root).env("LAB_QUIET", "1");
    if let Some(stack) = NativeStack::load(root)? {
        // Keep the stack where it was started (a second stack keeps its ports).
        for (var, key) in [
            ("LAB_PORT_BASE", "PORT_BASE"),
            ("LAB_DB_PREFIX", "DB_PREFIX"),
            ("DATABASE_URL", "PG_URL"),
            ("REDIS_URL", "REDIS_URL"),
        ] {
            if std::env::var_os(var).is_none() {
                if let Some(value) = stack.get(key) {
                    command.env(var, value);
                }
            }
        }
        if stack.get("PROFILE") == Some("release") {
            command.arg("--release");
        }
    }
    if let LessonEnv::Only(slug) = lesson {
        command.env("LAB_LESSON", slug);
    }
    let status = command
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run {} ({e})", script.display()))?;
    match status.code() {
        Some(0) => Ok(UpToDate::Ready),
        Some(3) => Ok(UpToDate::BuildFailed),
        _ => anyhow::bail!(
            "scripts/dev-up.sh could not bring the services up (its message is above); \
             `cargo lab doctor` looks for the cause"
        ),
    }
}

/// SIGTERM to a service dev-up started, then waits until it has exited
/// (it drains and flushes its spans first).
pub fn stop_service(root: &Path, service: &str) -> anyhow::Result<()> {
    let stack = NativeStack::load(root)?.ok_or_else(|| {
        anyhow::anyhow!(
            "no native stack here (.lab/run/stack.env): start it with scripts/dev-up.sh"
        )
    })?;
    let Some(pid) = stack.pid(service) else {
        anyhow::bail!("{service} is not running (no live pid in .lab/run/{service}.pid)");
    };
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while stack::process_alive(pid) {
        if Instant::now() > deadline {
            anyhow::bail!("{service} (pid {pid}) did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The same in compose: `docker compose stop|restart <service>`.
pub fn compose(root: &Path, verb: &str, service: &str) -> anyhow::Result<()> {
    let status = Command::new("docker")
        .args(["compose", verb, service])
        .current_dir(root)
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run docker compose ({e})"))?;
    if !status.success() {
        anyhow::bail!("`docker compose {verb} {service}` failed");
    }
    Ok(())
}
