//! Choosing the sampler from `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
//!
//! A *head* sampler decides, when a trace starts, whether it is recorded at
//! all. Only the first service (the gateway) normally decides: the others are
//! parent-based and follow the decision that arrives in `traceparent`, so a
//! trace is either complete or absent, never a fragment.
//!
//! The OpenTelemetry SDK can read these variables itself, but it warns on
//! names it does not know and silently accepts a ratio of `2.5`. We parse them
//! here instead, so a typo is a start-up error with a sentence, not a quiet
//! surprise.
//!
//! - `parentbased_always_on` (the default), `parentbased_always_off`,
//!   `always_on`, `always_off`: the SDK's samplers; they take no ARG.
//! - `traceidratio`, `parentbased_traceidratio`: the SDK's ratio sampler; ARG
//!   is the fraction of traces to keep, 0 to 1, default 1.0.
//! - `rules`: see [`rules`]; ARG is a YAML file, default `config/sampling.yaml`.
//! - `ratelimit`: see [`ratelimit`]; ARG is root traces per second (required).
//! - `adaptive`: see [`adaptive`]; ARG is the target in root traces per
//!   second (required): everything while quiet, a falling share when busy.
//!
//! To add a sampler of your own (lesson 10): write a type implementing
//! [`ShouldSample`] in a new file next to these, wrap it with
//! [`Sampler::parent_based`], and give it a name in [`from_values`].

pub mod adaptive;
pub mod ratelimit;
pub mod rules;
mod watch;

use std::path::{Path, PathBuf};
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, TraceState};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{Sampler, ShouldSample};

/// Every value `OTEL_TRACES_SAMPLER` may take, for the error message.
pub const SAMPLER_NAMES: &[&str] = &[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
    "rules",
    "ratelimit",
    "adaptive",
];

/// The rules file used by `OTEL_TRACES_SAMPLER=rules` when no ARG is given.
pub const DEFAULT_RULES_FILE: &str = "config/sampling.yaml";

/// How often the rules file is checked for changes. Short enough that an
/// edit feels instant, long enough that the check costs nothing.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Why the sampler variables could not be used. Each message is a sentence a
/// learner can act on: it names the variable and says what would be valid.
#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    #[error(
        "OTEL_TRACES_SAMPLER={name:?} is not a sampler this workshop knows; use one of: {}",
        SAMPLER_NAMES.join(", ")
    )]
    UnknownSampler { name: String },

    #[error(
        "OTEL_TRACES_SAMPLER_ARG={value:?} is not a valid ratio for {sampler}: {reason} \
         (use a number from 0 to 1, e.g. 0.25 keeps one trace in four)"
    )]
    InvalidRatio {
        sampler: &'static str,
        value: String,
        reason: &'static str,
    },

    #[error(
        "OTEL_TRACES_SAMPLER=ratelimit (or adaptive) needs OTEL_TRACES_SAMPLER_ARG set to \
         a number of traces per second, e.g. OTEL_TRACES_SAMPLER_ARG=10"
    )]
    MissingRate,

    #[error(
        "OTEL_TRACES_SAMPLER_ARG={value:?} is not a valid number of traces per second: {reason} \
         (use a positive number of traces per second, e.g. 10 or 0.5)"
    )]
    InvalidRate { value: String, reason: &'static str },

    #[error(
        "the sampling rules file {path:?} (OTEL_TRACES_SAMPLER_ARG) was not found; \
         looked in: {}",
        tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    RulesFileNotFound { path: String, tried: Vec<PathBuf> },

    #[error("could not read the sampling rules file {}: {source}", path.display())]
    RulesFileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("the sampling rules file {} is not valid: {reason}", path.display())]
    InvalidRules { path: PathBuf, reason: String },
}

/// Reads `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
pub fn from_env() -> Result<Box<dyn ShouldSample>, SamplerError> {
    from_values(
        std::env::var("OTEL_TRACES_SAMPLER").ok().as_deref(),
        std::env::var("OTEL_TRACES_SAMPLER_ARG").ok().as_deref(),
    )
}

/// Builds the sampler named by `name` with its argument `arg`, as if they
/// were the values of the two variables (`None` = not set).
pub fn from_values(
    name: Option<&str>,
    arg: Option<&str>,
) -> Result<Box<dyn ShouldSample>, SamplerError> {
    // An empty variable (`OTEL_TRACES_SAMPLER=` in a .env file) means "unset".
    let name = non_empty(name).map(str::to_ascii_lowercase);
    let name = name.as_deref().unwrap_or("parentbased_always_on");
    let arg = non_empty(arg);
    // LESSON 10: a new sampler gets its name here (and in SAMPLER_NAMES).
    let sampler: Box<dyn ShouldSample> = match name {
        "always_on" => no_arg(name, arg, Sampler::AlwaysOn),
        "always_off" => no_arg(name, arg, Sampler::AlwaysOff),
        "parentbased_always_on" => no_arg(name, arg, Sampler::parent_based(Sampler::AlwaysOn)),
        "parentbased_always_off" => no_arg(name, arg, Sampler::parent_based(Sampler::AlwaysOff)),
        // LESSON 09: `traceidratio` decides on its own, ignoring the parent
        // (a downstream service using it cuts traces in pieces);
        // `parentbased_traceidratio` decides only at the root and follows it.
        "traceidratio" => {
            let ratio = parse_ratio("traceidratio", arg)?;
            Box::new(Sampler::TraceIdRatioBased(ratio))
        }
        "parentbased_traceidratio" => {
            let ratio = parse_ratio("parentbased_traceidratio", arg)?;
            Box::new(Sampler::parent_based(Sampler::TraceIdRatioBased(ratio)))
        }
        "rules" => {
            let path = resolve_rules_path(arg.unwrap_or(DEFAULT_RULES_FILE))?;
            let rules = rules::RulesSampler::watch(&path, DEFAULT_POLL_INTERVAL)?;
            Box::new(Sampler::parent_based(rules))
        }
        "ratelimit" => {
            let limiter = ratelimit::RateLimitSampler::new(parse_rate(arg)?)?;
            Box::new(Sampler::parent_based(limiter))
        }
        "adaptive" => {
            let adaptive = adaptive::AdaptiveSampler::new(parse_rate(arg)?)?;
            Box::new(Sampler::parent_based(adaptive))
        }
        other => {
            return Err(SamplerError::UnknownSampler {
                name: other.to_string(),
            })
        }
    };
    Ok(sampler)
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The spec says samplers without an argument ignore it; we say so, because a
/// learner who set a ratio and sees every trace deserves to know why.
fn no_arg(
    name: &str,
    arg: Option<&str>,
    sampler: impl ShouldSample + 'static,
) -> Box<dyn ShouldSample> {
    if let Some(arg) = arg {
        tracing::warn!("OTEL_TRACES_SAMPLER_ARG={arg:?} is ignored: {name} takes no argument");
    }
    Box::new(sampler)
}

/// A ratio between 0 and 1. Missing means 1.0, as the OpenTelemetry spec
/// says; anything else that is not such a number is an error (the SDK would
/// quietly treat 2.5 as 1 and -1 as 0).
pub fn parse_ratio(sampler: &'static str, arg: Option<&str>) -> Result<f64, SamplerError> {
    let Some(value) = arg else {
        tracing::warn!(
            "OTEL_TRACES_SAMPLER={sampler} without OTEL_TRACES_SAMPLER_ARG: \
             using the default ratio 1.0 (every trace is kept)"
        );
        return Ok(1.0);
    };
    let invalid = |reason| SamplerError::InvalidRatio {
        sampler,
        value: value.to_string(),
        reason,
    };
    let ratio: f64 = value.parse().map_err(|_| invalid("it is not a number"))?;
    // `contains` is false for NaN too, so "NaN" is rejected here.
    if !(0.0..=1.0).contains(&ratio) {
        return Err(invalid("it is not between 0 and 1"));
    }
    Ok(ratio)
}

/// A rate in traces per second; required, positive and finite.
fn parse_rate(arg: Option<&str>) -> Result<f64, SamplerError> {
    let value = arg.ok_or(SamplerError::MissingRate)?;
    value.parse().map_err(|_| SamplerError::InvalidRate {
        value: value.to_string(),
        reason: "it is not a number",
    })
}

/// Finds the rules file. An absolute path is used as it is. A relative one is
/// looked up in the working directory first (what a learner running a binary
/// by hand expects), then from the repository root (so `cargo run -p
/// api-gateway` or a test started in a crate's folder finds
/// `config/sampling.yaml`). The log says which one won.
pub fn resolve_rules_path(arg: &str) -> Result<PathBuf, SamplerError> {
    let given = Path::new(arg);
    if given.is_absolute() {
        return Ok(given.to_path_buf());
    }
    let cwd = std::env::current_dir().ok();
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    let bases = [
        (cwd.clone(), "the working directory"),
        (
            cwd.as_deref().and_then(workspace_root),
            "the repository root",
        ),
        (
            built_in.map(Path::to_path_buf),
            "the repository telemetry was built in",
        ),
    ];
    let mut tried = Vec::new();
    for (base, relative_to) in bases {
        let Some(candidate) = base.map(|base| base.join(given)) else {
            continue;
        };
        if candidate.is_file() {
            tracing::info!(path = %candidate.display(), "sampling rules file found relative to {relative_to}");
            return Ok(candidate);
        }
        if !tried.contains(&candidate) {
            tried.push(candidate);
        }
    }
    Err(SamplerError::RulesFileNotFound {
        path: arg.to_string(),
        tried,
    })
}

/// The nearest folder at or above `start` whose `Cargo.toml` has `[workspace]`.
fn workspace_root(start: &Path) -> Option<PathBuf> {
    let is_root = |dir: &&Path| {
        std::fs::read_to_string(dir.join("Cargo.toml"))
            .is_ok_and(|toml| toml.lines().any(|line| line.trim() == "[workspace]"))
    };
    start.ancestors().find(is_root).map(Path::to_path_buf)
}

/// The parent's trace state, passed on unchanged, as the SDK's samplers do
/// (a sampler may add vendor entries to it; ours do not).
fn parent_trace_state(parent_context: Option<&Context>) -> TraceState {
    match parent_context {
        Some(cx) => cx.span().span_context().trace_state().clone(),
        None => TraceState::default(),
    }
}
