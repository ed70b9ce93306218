//! Test helpers: a copy of the repository's stack files in a scratch
//! directory, which a test breaks on purpose and then checks.

#![allow(dead_code)] // each test file uses a different subset

use std::fs;
use std::path::{Path, PathBuf};

use stack_check::{Check, Problem};

/// The repository root (the workspace holding docker-compose.yml).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

/// A scratch copy of the stack files: docker-compose*.yml, .env, Dockerfile
/// and config/.
pub struct Fixture {
    pub root: PathBuf,
}

impl Fixture {
    /// Copies the real files into `<cargo tmp>/stack-check/<name>` (emptied first).
    pub fn new(name: &str) -> Fixture {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("stack-check")
            .join(name);
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        let repo = repo_root();
        for entry in fs::read_dir(&repo).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let wanted =
                name.starts_with("docker-compose") || name == ".env" || name == "Dockerfile";
            if wanted {
                fs::copy(repo.join(&name), root.join(&name)).unwrap();
            }
        }
        copy_dir(&repo.join("config"), &root.join("config"));
        Fixture { root }
    }

    /// Replaces the one occurrence of `from` in `file` with `to`. Panics when
    /// `from` is not there exactly once, so a test cannot silently stop
    /// breaking anything when the real file changes.
    pub fn replace(&self, file: &str, from: &str, to: &str) -> &Self {
        let path = self.root.join(file);
        let text = fs::read_to_string(&path).unwrap();
        let count = text.matches(from).count();
        assert_eq!(
            count, 1,
            "{file} should contain {from:?} exactly once, found {count}"
        );
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
        self
    }

    /// Deletes a file of the copy.
    pub fn remove(&self, file: &str) -> &Self {
        fs::remove_file(self.root.join(file)).unwrap();
        self
    }

    /// Runs every check on the copy.
    pub fn problems(&self) -> Vec<Problem> {
        stack_check::check_stack(&self.root)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Asserts that some problem of kind `check` mentions every one of `words`,
/// and prints all problems when none does.
pub fn assert_problem(problems: &[Problem], check: Check, words: &[&str]) {
    let found = problems
        .iter()
        .any(|p| p.check == check && words.iter().all(|w| p.message.contains(w)));
    assert!(
        found,
        "expected a [{}] problem mentioning {words:?}; got:\n{}",
        check.name(),
        render(problems)
    );
}

/// One problem a line, for assertion messages.
pub fn render(problems: &[Problem]) -> String {
    if problems.is_empty() {
        return "  (no problems)".to_string();
    }
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
