//! `lab`: the learner's command-line tool for the tracing workshop
//! (`cargo lab <command>`, a cargo alias for this binary).
//!
//! # Layout
//!
//! - [`model`]: the trace model (spans, attributes, events) every command
//!   works on, and its JSON forms (Jaeger's v1 API, OTLP for the v3 API).
//! - [`sink`]: `lab sink`, an OTLP receiver that keeps traces in memory,
//!   answers Jaeger's query API (v1 and v3) and serves a web page (trace
//!   list, waterfall, service map, diff): the no-Docker trace backend.
//!   It also writes every span to Postgres (`sink::database`).
//! - [`sql`]: `lab sql`: SQL over that spans table, printed as a table, JSON
//!   or CSV; read-only unless `--write`.
//! - [`red`]: rate, errors and duration percentiles per operation from spans
//!   (`lab stats`, the sink's `/operations` page).
//! - [`client`]: reads traces back from Jaeger (or the sink) over its API,
//!   v1 or v3, whichever answers.
//! - [`tree`]: prints a trace as an indented tree with a timeline (`lab trace`).
//! - [`compare`]: two traces matched span by span (`lab diff`, the sink's `/diff`).
//! - [`time`]: RFC 3339 timestamps (Jaeger's v3 API, the web page).
//! - [`check`]: `lab check N`: runs a lesson's scenario, compares the traces
//!   with the lesson's expected shape and explains each mismatch; its own
//!   layout lists the parts (`spec`, `scenario`, `engine`, `whole_trace`,
//!   `in_process`, `matching`, `relations`, `logs`, `sampling`, ...).
//! - [`mission`]: the debugging mission (the last lesson): its sealed faults
//!   (`seal`), built into a copy of the tree (`build`), and the answers
//!   checked against a trace that shows the fault; `lab faults open|seal`
//!   for maintainers.
//! - [`lessons`] and [`progress`]: lesson directories (hints, patches, the
//!   `wrong/` and `also-right/` fixes the gate proves), and what the learner
//!   has done (`.lab/progress.json`).
//! - [`load`]: `lab load`: steady traffic and a latency summary.
//! - [`lifecycle`]: `start`, `reset` and `solution`: a lesson's patches, through
//!   git (the starting point staged; `reset` keeps the learner's changes in
//!   `.lab/saved/`).
//! - [`stack`] and [`native`]: what dev-up started (`.lab/run/`), env files,
//!   the mode; bringing the native stack up to date, stopping a service.
//! - [`doctor`]: `lab doctor`, the preflight.
//! - [`commands`]: the glue behind `list`, `hint`, `trace` and `diff`.
//! - [`logs`]: `lab logs <trace-id>`: every service's log lines of one trace,
//!   in time order (`.lab/logs/` or `docker compose logs`); `lab check` reads
//!   a lesson's `logs:` through it.
//! - [`watch`]: `lab watch [NN]`: the check again on every save of the
//!   lesson's files.
//! - [`size`]: `lab size`, the collector tail sampler's memory and
//!   `num_traces` from traces per second, spans per trace and `decision_wait`.
//! - [`style`]: colour when writing to a terminal, plain text otherwise.

pub mod check;
pub mod client;
pub mod commands;
pub mod compare;
pub mod doctor;
pub mod lessons;
pub mod lifecycle;
pub mod load;
pub mod logs;
pub mod mission;
pub mod model;
pub mod native;
pub mod progress;
pub mod red;
pub mod sink;
pub mod size;
pub mod sql;
pub mod stack;
pub mod style;
pub mod time;
pub mod tree;
pub mod watch;

/// Microseconds since the Unix epoch (Jaeger's unit of time).
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
