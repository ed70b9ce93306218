//! # stack-check
//!
//! Checks the Docker stack files (docker-compose.yml, its override files,
//! `.env`, and the collector, Jaeger, Prometheus and Postgres configs they
//! mount) against the contract the services' code relies on — without Docker.
//! A typo in a service URL, a pipeline naming an undefined processor, a
//! `latest` tag or a healthcheck on a distroless image each become one
//! [`Problem`] sentence, instead of a stack that half-starts on a learner's
//! machine.
//!
//! ```no_run
//! let problems = stack_check::check_stack(std::path::Path::new("."));
//! for p in &problems {
//!     eprintln!("{p}");
//! }
//! ```
//!
//! # Layout
//!
//! - [`check_stack`], [`check_files`] (this file): load, then run every check.
//! - `problem.rs`: [`Problem`], [`Check`] (which check found it), [`Report`].
//! - `dotenv.rs`: `.env` and compose's `${VAR}` substitution.
//! - `compose/`: docker-compose.yml as typed data (`mod.rs`: loading,
//!   variables, override files; `service.rs`: one service's keys).
//! - `collector.rs`: the collector config as typed data (Jaeger v2's config
//!   has the same shape).
//! - `stack.rs`: the configs each container actually runs with, found through
//!   its `command:` and bind mounts.
//! - `contract.rs`: the facts from docs/architecture.md (services, ports, databases).
//! - `checks/`: `services.rs` (required services, commands, the one build),
//!   `env.rs` (each service's environment and URLs), `wiring.rs` (depends_on,
//!   healthchecks, ports, memory, mounts), `images.rs` (pinned tags),
//!   `pipelines.rs` (collector-shaped configs), `backends.rs` (collector,
//!   Jaeger, Prometheus and Postgres across files).
//! - `native.rs`: the collector configs scripts/dev-up.sh generates for a
//!   native otelcol-contrib (localhost endpoints, exporting to the sink).

use std::path::Path;

mod checks;
pub mod collector;
pub mod compose;
pub mod contract;
pub mod dotenv;
pub mod native;
mod problem;
pub mod stack;

pub use problem::{Check, Problem, Report};
pub use stack::Stack;

/// The base compose file, at the repository root.
pub const COMPOSE_FILE: &str = "docker-compose.yml";
/// The variables compose substitutes.
pub const ENV_FILE: &str = ".env";

/// Checks the stack in `root`: docker-compose.yml alone, then with each
/// override file beside it (`docker-compose.*.yml`, e.g. the tail-sampling
/// variant). A problem that only the override variant has says so.
pub fn check_stack(root: &Path) -> Vec<Problem> {
    let mut problems = check_files(root, &[COMPOSE_FILE]);
    for override_file in override_files(root) {
        for mut problem in check_files(root, &[COMPOSE_FILE, &override_file]) {
            if !problems.contains(&problem) {
                problem.message = format!("{} (with {override_file})", problem.message);
                problems.push(problem);
            }
        }
    }
    problems
}

/// Checks one combination of compose files, like `docker compose -f a -f b`.
pub fn check_files(root: &Path, compose_files: &[&str]) -> Vec<Problem> {
    let mut report = Report::default();
    let env = match std::fs::read_to_string(root.join(ENV_FILE)) {
        Ok(text) => dotenv::DotEnv::parse(&text).unwrap_or_else(|e| {
            report.add(Check::Parse, format!("{ENV_FILE}: {e}"));
            Default::default()
        }),
        Err(e) => {
            report.add(
                Check::Parse,
                format!("{ENV_FILE}: cannot read it ({e}); it pins the image versions"),
            );
            Default::default()
        }
    };
    if let Some(compose) = compose::load(root, compose_files, &env, &mut report) {
        let stack = Stack::load(root, compose, &mut report);
        checks::run(&stack, &mut report);
    }
    report.into_problems()
}

/// `docker-compose.<variant>.yml` files in `root`, sorted.
pub fn override_files(root: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| {
            name.starts_with("docker-compose.") && name.ends_with(".yml") && name != COMPOSE_FILE
        })
        .collect();
    files.sort();
    files
}
