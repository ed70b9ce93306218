//! The learner's progress, kept in `.lab/progress.json` at the repo root
//! (git-ignored): which lessons passed their check, and how many hints of
//! each lesson were shown.
//!
//! ```json
//! { "done": { "01-first-trace": 1767225600 }, "hints_seen": { "05-context-propagation": 2 } }
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
    /// Lesson slug → number of hints already shown.
    #[serde(default)]
    pub hints_seen: BTreeMap<String, usize>,
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
