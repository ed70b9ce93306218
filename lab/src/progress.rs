//! The learner's progress, kept in `.lab/progress.json` at the repo root
//! (git-ignored): each lesson's last result and when, which lessons ever
//! passed, and how many hints of each lesson were shown.
//!
//! ```json
//! { "done": { "01-first-trace": 1767225600 },
//!   "last": { "01-first-trace": { "result": "failed", "at": 1767229200 } },
//!   "hints_seen": { "05-context-propagation": 2 } }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Lesson slug → when its check first passed (seconds since the epoch).
    #[serde(default)]
    pub done: BTreeMap<String, u64>,
    /// Lesson slug → its last result (a pass that later broke shows as failed).
    #[serde(default)]
    pub last: BTreeMap<String, Last>,
    /// Lesson slug → number of hints already shown.
    #[serde(default)]
    pub hints_seen: BTreeMap<String, usize>,
}

/// A lesson's latest state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Result {
    Started,
    Passed,
    Failed,
}

impl Result {
    pub fn as_str(self) -> &'static str {
        match self {
            Result::Started => "started",
            Result::Passed => "passed",
            Result::Failed => "failed",
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Last {
    pub result: Result,
    /// Seconds since the epoch.
    pub at: u64,
}

pub fn path(root: &Path) -> PathBuf {
    root.join(".lab").join("progress.json")
}

impl Progress {
    /// Reads the file; a missing file is a fresh start.
    pub fn load(root: &Path) -> anyhow::Result<Progress> {
        let path = path(root);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not valid progress JSON: fix it or delete it",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the file (to a temporary name first, so a crash mid-write
    /// cannot leave half a file behind).
    pub fn save(&self, root: &Path) -> anyhow::Result<()> {
        let path = path(root);
        let dir = path.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    pub fn is_done(&self, slug: &str) -> bool {
        self.done.contains_key(slug)
    }

    /// Records a passed check (the first pass's time is kept).
    pub fn mark_done(&mut self, slug: &str) {
        let now = crate::now_us() / 1_000_000;
        self.done.entry(slug.to_string()).or_insert(now);
        self.record(slug, Result::Passed);
    }

    /// Records a lesson's latest result, now.
    pub fn record(&mut self, slug: &str, result: Result) {
        let at = crate::now_us() / 1_000_000;
        self.last.insert(slug.to_string(), Last { result, at });
    }

    /// After `reset`: a lesson that was only started is not started any more.
    pub fn forget_started(&mut self, slug: &str) {
        if self
            .last
            .get(slug)
            .is_some_and(|l| l.result == Result::Started)
        {
            self.last.remove(slug);
        }
    }

    /// The last result, falling back to an old-format pass.
    pub fn last(&self, slug: &str) -> Option<Last> {
        self.last.get(slug).copied().or_else(|| {
            self.done.get(slug).map(|at| Last {
                result: Result::Passed,
                at: *at,
            })
        })
    }

    /// The index of the next hint to show for a lesson with `total` hints,
    /// and records it as seen. After the last hint it stays on the last one.
    pub fn next_hint(&mut self, slug: &str, total: usize) -> Option<usize> {
        if total == 0 {
            return None;
        }
        let seen = self.hints_seen.entry(slug.to_string()).or_insert(0);
        let index = (*seen).min(total - 1);
        *seen = (*seen + 1).min(total);
        Some(index)
    }

    pub fn reset_hints(&mut self, slug: &str) {
        self.hints_seen.remove(slug);
    }
}
