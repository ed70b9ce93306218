//! What a check reports: a [`Problem`], tagged with the [`Check`] that found it.

use std::fmt;

/// The part of the stack a problem is about. Tests match on it, people read
/// its [`name`](Check::name) in front of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// A file is missing or does not parse, or uses an undefined variable.
    Parse,
    /// A service the stack needs is missing, or sits in a profile.
    Service,
    /// An environment variable the services read is missing or points nowhere.
    Env,
    /// A service's `command:` does not run the binary of its role.
    Command,
    /// The four services do not share one image built once.
    Build,
    /// A bind-mounted file or directory does not exist, or a volume is undeclared.
    Mount,
    /// An image is not pinned (no tag, `latest`, floating tag, wrong version).
    Image,
    /// Host ports differ from docs/architecture.md, or a service publishes a port nothing listens on.
    Ports,
    /// A healthcheck is missing where one is needed, or present where it can never pass.
    Healthcheck,
    /// `depends_on` points at a missing service or uses the wrong condition.
    DependsOn,
    /// A service has no memory limit.
    Memory,
    /// The OpenTelemetry Collector configuration.
    Collector,
    /// The Jaeger configuration.
    Jaeger,
    /// The Postgres init script and the databases the services use.
    Postgres,
    /// Redis settings the order stream needs (persistence, eviction policy).
    Redis,
    /// The Prometheus configuration of the `metrics` profile.
    Prometheus,
}

impl Check {
    /// Short lower-case name, printed in front of each problem.
    pub fn name(self) -> &'static str {
        match self {
            Check::Parse => "parse",
            Check::Service => "service",
            Check::Env => "env",
            Check::Command => "command",
            Check::Build => "build",
            Check::Mount => "mount",
            Check::Image => "image",
            Check::Ports => "ports",
            Check::Healthcheck => "healthcheck",
            Check::DependsOn => "depends_on",
            Check::Memory => "memory",
            Check::Collector => "collector",
            Check::Jaeger => "jaeger",
            Check::Postgres => "postgres",
            Check::Redis => "redis",
            Check::Prometheus => "prometheus",
        }
    }
}

/// One thing wrong with the stack, in a sentence that says where and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Problem {
    /// Which check found it.
    pub check: Check,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.check.name(), self.message)
    }
}

/// The problems found so far; every check appends to one `Report`.
#[derive(Debug, Default)]
pub struct Report {
    problems: Vec<Problem>,
}

impl Report {
    /// Records a problem.
    pub fn add(&mut self, check: Check, message: impl Into<String>) {
        self.problems.push(Problem {
            check,
            message: message.into(),
        });
    }

    /// The problems in the order they were found, without repeats.
    pub fn into_problems(self) -> Vec<Problem> {
        let mut seen = std::collections::HashSet::new();
        self.problems
            .into_iter()
            .filter(|p| seen.insert(p.clone()))
            .collect()
    }
}
