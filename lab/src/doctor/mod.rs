//! `cargo lab doctor`: a preflight of everything a check relies on. Each
//! line is a finding; each problem comes with its fix; the exit status is
//! non-zero when there is any problem.
//!
//! Checked, in order: the mode (native, compose, nothing yet; a `docker`
//! CLI without an engine is native), the ports, the native collector (or
//! that none runs, and what that means), Postgres and Redis, the
//! trace backend, a test span sent over OTLP and found by id, each
//! service's `/health`, binaries older than their sources, and the
//! environment in force.

//! - [`network`]: what answers on the network (ports, Postgres, Redis,
//!   the trace backend and a test span, each `/health`).
//! - [`local`]: what is on disk (binaries older than their sources, the
//!   environment files in force).

mod local;
mod network;

use std::path::Path;

use crate::stack::{self, Mode, NativeStack};
use crate::style::Style;

pub use local::stale_binaries;

/// One finding: fine, or a problem and its fix.
#[derive(Clone, Debug)]
pub struct Finding {
    pub ok: bool,
    pub what: String,
    /// For a problem: what to do.
    pub fix: Option<String>,
}

/// Everything doctor found.
#[derive(Clone, Debug, Default)]
pub struct Diagnosis {
    pub findings: Vec<Finding>,
    /// The lesson to suggest when all is well: the active one, else 01.
    pub next_lesson: String,
}

impl Diagnosis {
    pub(crate) fn ok(&mut self, what: impl Into<String>) {
        self.findings.push(Finding {
            ok: true,
            what: what.into(),
            fix: None,
        });
    }

    pub(crate) fn problem(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.findings.push(Finding {
            ok: false,
            what: what.into(),
            fix: Some(fix.into()),
        });
    }

    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.ok)
    }

    pub fn healthy(&self) -> bool {
        self.problems().next().is_none()
    }

    pub fn render(&self, style: Style) -> String {
        let mut out = String::new();
        for finding in &self.findings {
            if finding.ok {
                out.push_str(&format!("{} {}\n", style.green("✓"), finding.what));
            } else {
                out.push_str(&format!("{} {}\n", style.red("✗"), finding.what));
                if let Some(fix) = &finding.fix {
                    out.push_str(&format!("  {} {fix}\n", style.cyan("fix:")));
                }
            }
        }
        let n = self.problems().count();
        out.push('\n');
        out.push_str(&match n {
            0 => style.green(&format!(
                "All good: `cargo lab check {}` is a good next step.",
                self.next_lesson
            )),
            1 => style.red("1 problem."),
            n => style.red(&format!("{n} problems.")),
        });
        out.push('\n');
        out
    }
}

/// Where doctor looks: the recorded native stack, else the defaults.
pub(crate) struct Target {
    pub(crate) mode: Mode,
    pub(crate) stack: Option<NativeStack>,
    pub(crate) jaeger: String,
    pub(crate) otlp_http: String,
}

/// Runs every check against the workshop at `root`.
pub async fn run(root: &Path) -> anyhow::Result<Diagnosis> {
    let mut d = Diagnosis {
        next_lesson: crate::stack::active_lesson(root)
            .and_then(|slug| slug.split('-').next().map(str::to_string))
            .unwrap_or_else(|| "01".to_string()),
        ..Diagnosis::default()
    };
    let target = mode(root, &mut d)?;
    network::ports(&target, &mut d);
    if target.mode == Mode::Native {
        network::collector(&target, &mut d).await;
    }
    network::backing_services(&target, &mut d);
    if network::backend(&target, &mut d).await {
        network::test_span(&target, &mut d).await;
    }
    network::health(&target, &mut d).await;
    if target.mode == Mode::Native {
        local::stale_binaries(root, &mut d);
    }
    local::environment(root, &mut d);
    Ok(d)
}

/// Where the test span goes: the services' OTLP endpoint (through the
/// native collector, when one runs), except behind a tail sampler, which
/// would hold it for its decision wait and keep only a share: then straight
/// to the sink.
fn test_span_receiver(s: &NativeStack, d: &mut Diagnosis) -> String {
    let services = s
        .get("OTLP_HTTP_ENDPOINT")
        .unwrap_or("http://127.0.0.1:4318")
        .to_string();
    let generated = std::fs::read_to_string(s.run.join("otel-collector.yaml")).unwrap_or_default();
    let tail_sampling = s.collector_config().is_some()
        && generated
            .lines()
            .any(|l| l.trim_start().starts_with("tail_sampling:"));
    match (tail_sampling, s.get("SINK_OTLP_HTTP_ENDPOINT")) {
        (true, Some(sink)) => {
            d.ok(format!(
                "the collector runs tail sampling (it holds spans for its decision wait and keeps \
                 a share): the test span goes straight to lab sink ({sink})"
            ));
            sink.to_string()
        }
        _ => services,
    }
}

fn mode(root: &Path, d: &mut Diagnosis) -> anyhow::Result<Target> {
    let stack = NativeStack::load(root)?;
    let mode = stack::detect_mode(root);
    let (jaeger, otlp_http) = match &stack {
        Some(s) => (
            s.jaeger()
                .unwrap_or(crate::client::DEFAULT_JAEGER)
                .to_string(),
            test_span_receiver(s, d),
        ),
        None => (
            crate::client::DEFAULT_JAEGER.to_string(),
            "http://127.0.0.1:4318".to_string(),
        ),
    };
    let docker_cli = std::process::Command::new("docker")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    match mode {
        Mode::Native => {
            let s = stack.as_ref().expect("native mode has a stack");
            let base = s
                .get("PORT_BASE")
                .map(|b| format!(", ports from LAB_PORT_BASE={b}"))
                .unwrap_or_default();
            d.ok(format!(
                "native mode: started by scripts/dev-up.sh ({} profile{base}; trace backend: {})",
                s.get("PROFILE").unwrap_or("dev"),
                match s.get("BACKEND") {
                    Some("external") => "one dev-up found running, not its own sink",
                    _ => "lab sink",
                }
            ));
        }
        Mode::Compose => d.ok("compose mode: a Docker engine answers"),
        Mode::Nothing if docker_cli => d.ok(
            "native mode: a `docker` command exists but no Docker engine answers, so the \
             workshop runs natively (scripts/dev-up.sh)",
        ),
        Mode::Nothing => d.ok("native mode: no Docker here; scripts/dev-up.sh runs the workshop"),
    }
    Ok(Target {
        mode,
        stack,
        jaeger,
        otlp_http,
    })
}
