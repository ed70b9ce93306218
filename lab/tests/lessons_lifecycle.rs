//! `start`, `reset` and `solution` in a throwaway git repository: patches
//! applied and reverted through git, local changes protected, the lesson's
//! environment switched on and off, progress recorded.

use std::path::Path;
use std::process::Command;

use lab::lifecycle;
use lab::style::Style;
use tempfile::TempDir;

/// Commits everything in `root` as a throwaway author.
fn commit_all(root: &Path, message: &str) {
    git(root, &["add", "-A"]);
    git(
        root,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            message,
        ],
    );
}

fn git(root: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A repository with one service file and lesson 01 (exercise + solution),
/// removed when it drops.
fn repo(name: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("lab-life-{name}-"))
        .tempdir()
        .unwrap();
    let root = dir.path();
    let lesson = root.join("lessons/01-first-trace");
    std::fs::create_dir_all(lesson.join("env")).unwrap();
    std::fs::create_dir_all(root.join("svc")).unwrap();
    std::fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
    std::fs::write(root.join(".gitignore"), "/.lab\n").unwrap();
    std::fs::write(
        root.join("svc/main.rs"),
        "fn main() {\n    // LESSON 01\n    flush();\n}\n",
    )
    .unwrap();
    std::fs::write(lesson.join("README.md"), "# 01 — Your first trace\n").unwrap();
    std::fs::write(
        lesson.join("check.yaml"),
        "title: t\nrequests: [{path: /}]\n",
    )
    .unwrap();
    std::fs::write(
        lesson.join("env/order-service.env"),
        "OTEL_BSP_SCHEDULE_DELAY=600000\n",
    )
    .unwrap();
    git(root, &["init", "-q"]);
    commit_all(root, "main");
    // The exercise removes the flush; the solution puts it back.
    std::fs::write(
        root.join("svc/main.rs"),
        "fn main() {\n    // LESSON 01\n}\n",
    )
    .unwrap();
    let exercise = git(root, &["diff"]);
    let solution = git(root, &["diff", "-R"]);
    git(root, &["checkout", "--", "svc/main.rs"]);
    std::fs::write(lesson.join("exercise.patch"), exercise).unwrap();
    std::fs::write(lesson.join("solution.patch"), solution).unwrap();
    commit_all(root, "patches");
    dir
}

fn read(root: &Path, file: &str) -> String {
    std::fs::read_to_string(root.join(file)).unwrap()
}

/// The `.lab/saved/...` patch a `reset` output names.
fn saved_patch(out: &str) -> String {
    out.split_whitespace()
        .find(|w| w.starts_with(".lab/saved/"))
        .map(|w| w.trim_end_matches([':', '.']).to_string())
        .unwrap_or_else(|| panic!("reset names the saved patch: {out}"))
}

#[test]
fn start_solution_reset_round_trip() {
    let dir = repo("trip");
    let root = dir.path();
    let out = lifecycle::start(root, "1").unwrap();
    assert!(
        out.contains("Lesson 01 (Your first trace) started: exercise.patch changed svc/main.rs"),
        "{out}"
    );
    assert!(
        out.contains("lessons/01-first-trace/env/) now applies"),
        "{out}"
    );
    assert!(!read(root, "svc/main.rs").contains("flush"));
    assert_eq!(
        lab::stack::active_lesson(root).as_deref(),
        Some("01-first-trace")
    );
    let list = lab::commands::list(root, Style::plain()).unwrap();
    assert!(
        list.contains("started just now") && list.contains("(started: the active lesson)"),
        "{list}"
    );

    // The starting point is staged: `git diff` shows nothing yet, `git
    // diff HEAD` the exercise.
    assert_eq!(git(root, &["diff"]), "");
    assert!(git(root, &["diff", "HEAD"]).contains("-    flush();"));
    assert!(out.contains("`git diff` shows only your changes"), "{out}");

    // Starting again: the file now has (the exercise's) local changes.
    let error = lifecycle::start(root, "01").unwrap_err().to_string();
    assert!(
        error.contains("changes svc/main.rs, which has local changes"),
        "{error}"
    );

    let shown = lifecycle::solution(root, "01", false).unwrap();
    assert!(shown.contains("+    flush();"), "{shown}");
    let out = lifecycle::solution(root, "01", true).unwrap();
    assert!(
        out.contains("Applied lesson 01's solution to svc/main.rs"),
        "{out}"
    );
    assert!(read(root, "svc/main.rs").contains("flush();"));

    // The learner's change is theirs alone in `git diff`.
    let own = git(root, &["diff"]);
    assert!(
        own.contains("+    flush();") && !own.contains("-    flush();"),
        "{own}"
    );

    let out = lifecycle::reset(root, "01").unwrap();
    assert!(out.contains("environment no longer applies"), "{out}");
    assert_eq!(git(root, &["status", "--porcelain"]), "");
    // Nothing is lost: the learner's change is kept, and comes back on
    // top of a new start.
    let saved = saved_patch(&out);
    lifecycle::start(root, "01").unwrap();
    git(root, &["apply", &saved]);
    assert!(read(root, "svc/main.rs").contains("flush();"));
    lifecycle::reset(root, "01").unwrap();
    assert_eq!(git(root, &["status", "--porcelain"]), "");
    assert_eq!(lab::stack::active_lesson(root), None);
    let list = lab::commands::list(root, Style::plain()).unwrap();
    assert!(list.contains("not started"), "{list}");
}

#[test]
fn reset_keeps_a_file_the_learner_created() {
    let dir = repo("created");
    let root = dir.path();
    // The solution also creates a file the starting point does not have.
    let solution = read(root, "lessons/01-first-trace/solution.patch")
        + "diff --git a/svc/flush.rs b/svc/flush.rs\nnew file mode 100644\n\
           --- /dev/null\n+++ b/svc/flush.rs\n@@ -0,0 +1 @@\n+pub fn flush() {}\n";
    std::fs::write(root.join("lessons/01-first-trace/solution.patch"), solution).unwrap();
    commit_all(root, "new file");
    lifecycle::start(root, "01").unwrap();
    let mine = "pub fn flush() { /* mine */ }\n";
    std::fs::write(root.join("svc/flush.rs"), mine).unwrap();
    git(root, &["add", "svc/flush.rs"]);

    let out = lifecycle::reset(root, "01").unwrap();
    assert!(out.contains("svc/flush.rs"), "{out}");
    assert_eq!(git(root, &["status", "--porcelain"]), "");
    assert!(!root.join("svc/flush.rs").exists());
    let saved = saved_patch(&out);
    lifecycle::start(root, "01").unwrap();
    git(root, &["apply", &saved]);
    assert_eq!(read(root, "svc/flush.rs"), mine);
}

#[test]
fn reset_names_a_file_the_learner_added_beside_the_lessons_and_keeps_it() {
    let dir = repo("added");
    let root = dir.path();
    lifecycle::start(root, "01").unwrap();
    // A module of the learner's own, next to the lesson's file: one left
    // untracked, one staged.
    std::fs::write(root.join("svc/server.rs"), "pub fn layer() {}\n").unwrap();
    std::fs::write(root.join("svc/staged.rs"), "pub fn other() {}\n").unwrap();
    git(root, &["add", "svc/staged.rs"]);

    let out = lifecycle::reset(root, "01").unwrap();
    assert!(
        out.contains("Kept as they are, not being in the repository: svc/server.rs, svc/staged.rs"),
        "{out}"
    );
    assert!(root.join("svc/server.rs").exists() && root.join("svc/staged.rs").exists());

    // Nothing added: nothing said.
    std::fs::remove_file(root.join("svc/server.rs")).unwrap();
    git(root, &["rm", "-q", "--cached", "svc/staged.rs"]);
    std::fs::remove_file(root.join("svc/staged.rs")).unwrap();
    lifecycle::start(root, "01").unwrap();
    let out = lifecycle::reset(root, "01").unwrap();
    assert!(!out.contains("Kept as they are"), "{out}");
}

#[test]
fn start_refuses_when_the_learner_changed_the_files() {
    let dir = repo("refuse");
    let root = dir.path();
    std::fs::write(root.join("svc/main.rs"), "my own work\n").unwrap();
    let error = lifecycle::start(root, "01").unwrap_err().to_string();
    assert!(error.contains("svc/main.rs"), "{error}");
    assert!(error.contains("commit or stash them"), "{error}");
    assert_eq!(
        read(root, "svc/main.rs"),
        "my own work\n",
        "nothing was touched"
    );
    // reset puts it back and says so.
    let out = lifecycle::reset(root, "01").unwrap();
    assert!(
        out.contains("Put back to the committed version: svc/main.rs."),
        "{out}"
    );
    let out = lifecycle::reset(root, "01").unwrap();
    assert!(out.contains("already the committed version"), "{out}");
}

#[test]
fn solution_before_start_and_pending_exercises_are_sentences() {
    let dir = repo("pending");
    let root = dir.path();
    let error = lifecycle::solution(root, "01", true)
        .unwrap_err()
        .to_string();
    assert!(error.contains("run `cargo lab start 01` first"), "{error}");
    let lesson = root.join("lessons/05-context-propagation");
    std::fs::create_dir_all(&lesson).unwrap();
    std::fs::write(
        lesson.join("check.yaml"),
        "title: t\nexercise: pending\nrequests: [{path: /}]\n",
    )
    .unwrap();
    let error = lifecycle::start(root, "05").unwrap_err().to_string();
    assert!(error.contains("exercise is not written yet"), "{error}");
    let error = lifecycle::start(root, "07").unwrap_err().to_string();
    assert!(error.contains("there is no lesson \"07\""), "{error}");
}
