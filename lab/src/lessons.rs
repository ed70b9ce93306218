//! Finding lessons on disk: `lessons/NN-slug/` with a `README.md`, and for
//! checkable lessons a `check.yaml` and a `hints.md`.

use std::path::{Path, PathBuf};

/// One of a lesson's `wrong/` or `also-right/` patches (the gate applies
/// each to the starting point and runs the check).
#[derive(Clone, Debug)]
pub struct FixPatch {
    pub path: PathBuf,
    /// The first line, without its `# `: what the fix is.
    pub description: String,
    /// `# expect: <finding> - ...`: the cause the check must report.
    pub expect: Option<String>,
}

impl FixPatch {
    fn all_in(dir: &Path) -> Vec<FixPatch> {
        let mut patches: Vec<FixPatch> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "patch"))
            .map(|path| {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let first = text.lines().next().unwrap_or("");
                let description = first.trim_start_matches('#').trim().to_string();
                let expect = description
                    .strip_prefix("expect:")
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_string);
                FixPatch {
                    path,
                    description,
                    expect,
                }
            })
            .collect();
        patches.sort_by(|a, b| a.path.cmp(&b.path));
        patches
    }

    /// The file name without `.patch`.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default()
    }
}

/// One lesson directory.
#[derive(Clone, Debug)]
pub struct Lesson {
    pub number: u32,
    /// The directory name, e.g. `05-context-propagation`; progress is kept by it.
    pub slug: String,
    pub dir: PathBuf,
}

impl Lesson {
    pub fn check_file(&self) -> PathBuf {
        self.dir.join("check.yaml")
    }

    /// A `check.yaml`, or a mission (the last lesson) that checks answers.
    pub fn has_check(&self) -> bool {
        self.check_file().is_file() || self.dir.join("mission.yaml").is_file()
    }

    /// Applied by `cargo lab start`: removes or breaks what the lesson teaches.
    pub fn exercise_patch(&self) -> PathBuf {
        self.dir.join("exercise.patch")
    }

    /// Applied on top of the exercise by `cargo lab solution --apply`.
    pub fn solution_patch(&self) -> PathBuf {
        self.dir.join("solution.patch")
    }

    /// `wrong/*.patch`: plausible wrong fixes the check must reject, each
    /// against the starting point, its first line `# expect: <finding> - why`.
    pub fn wrong_fixes(&self) -> Vec<FixPatch> {
        FixPatch::all_in(&self.dir.join("wrong"))
    }

    /// `also-right/*.patch`: right fixes written differently from
    /// `solution.patch`, which the check must accept.
    pub fn also_right_fixes(&self) -> Vec<FixPatch> {
        FixPatch::all_in(&self.dir.join("also-right"))
    }

    /// `env/<service>.env`: the lesson's environment.
    pub fn env_dir(&self) -> PathBuf {
        self.dir.join("env")
    }

    /// The lesson has an exercise to start (an `exercise.patch`).
    pub fn is_exercise(&self) -> bool {
        self.exercise_patch().is_file()
    }

    /// `exercise: pending` in check.yaml: its exercise is not written yet.
    pub fn exercise_pending(&self) -> bool {
        std::fs::read_to_string(self.check_file()).is_ok_and(|text| {
            text.lines().any(|l| {
                l.split('#').next().unwrap_or("").trim().replace(' ', "") == "exercise:pending"
            })
        })
    }

    /// The first `# ` heading of the README, else the slug.
    pub fn title(&self) -> String {
        std::fs::read_to_string(self.dir.join("README.md"))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("# ").map(strip_number))
            })
            .unwrap_or_else(|| self.slug.clone())
    }

    /// The hints, in order: `hints.md` split at lines that are just `---`.
    pub fn hints(&self) -> Vec<String> {
        let Ok(text) = std::fs::read_to_string(self.dir.join("hints.md")) else {
            return Vec::new();
        };
        let mut hints = Vec::new();
        let mut current = String::new();
        for line in text.lines() {
            if line.trim() == "---" {
                hints.push(std::mem::take(&mut current));
            } else {
                current.push_str(line);
                current.push('\n');
            }
        }
        hints.push(current);
        hints
            .into_iter()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .collect()
    }
}

/// `05 — Context propagation` → `Context propagation` (`list` prints the number).
fn strip_number(title: &str) -> String {
    let rest = title
        .trim()
        .trim_start_matches(|c: char| c.is_ascii_digit());
    if rest.len() == title.trim().len() {
        return title.trim().to_string();
    }
    let rest = rest.trim_start_matches([' ', '—', '-', ':', '.']);
    rest.trim().to_string()
}

/// The workshop's root: `$LAB_ROOT`, else the nearest directory upwards
/// from here that has both `Cargo.toml` and `lessons/`, else the workspace
/// this binary was built from.
pub fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os("LAB_ROOT").filter(|r| !r.is_empty()) {
        return PathBuf::from(root);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if dir.join("Cargo.toml").is_file() && dir.join("lessons").is_dir() {
                return dir.to_path_buf();
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// All lessons, by number.
pub fn all(root: &Path) -> Vec<Lesson> {
    let Ok(entries) = std::fs::read_dir(root.join("lessons")) else {
        return Vec::new();
    };
    let mut lessons: Vec<Lesson> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let slug = e.file_name().to_string_lossy().to_string();
            let digits: String = slug.chars().take_while(char::is_ascii_digit).collect();
            Some(Lesson {
                number: digits.parse().ok()?,
                slug,
                dir: e.path(),
            })
        })
        .collect();
    lessons.sort_by(|a, b| (a.number, &a.slug).cmp(&(b.number, &b.slug)));
    lessons
}

/// Finds a lesson by number (`5`, `05`) or directory name.
pub fn find(root: &Path, which: &str) -> anyhow::Result<Lesson> {
    let lessons = all(root);
    let wanted: Option<u32> = which.trim().parse().ok();
    let found = lessons.iter().find(|l| match wanted {
        Some(n) => l.number == n,
        None => l.slug == which.trim(),
    });
    match found {
        Some(lesson) => Ok(lesson.clone()),
        None => {
            let known: Vec<String> = lessons.iter().map(|l| format!("{:02}", l.number)).collect();
            anyhow::bail!(
                "there is no lesson {which:?} in {}; lessons: {}",
                root.join("lessons").display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        }
    }
}
