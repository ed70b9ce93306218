//! Lessons on disk, hints one at a time, and progress in `.lab/progress.json`,
//! in a temporary workshop directory.

use std::path::Path;

use lab::progress::Progress;
use lab::style::Style;
use tempfile::TempDir;

/// A throwaway workshop root with two lessons, removed when it drops.
fn workshop(name: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("lab-test-{name}-"))
        .tempdir()
        .unwrap();
    let root = dir.path();
    let one = root.join("lessons/01-first-trace");
    let two = root.join("lessons/02-spans");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    std::fs::write(one.join("README.md"), "# 01 — Your first trace\n\ntext\n").unwrap();
    std::fs::write(
        one.join("check.yaml"),
        "title: t\nrequests: [{path: /orders}]\n",
    )
    .unwrap();
    std::fs::write(
        one.join("hints.md"),
        "First hint.\n---\nSecond\nhint.\n---\n",
    )
    .unwrap();
    std::fs::write(two.join("README.md"), "# Spans and attributes\n").unwrap();
    dir
}

#[test]
fn lessons_are_found_by_number_or_name() {
    let dir = workshop("find");
    let root = dir.path();
    assert_eq!(
        lab::lessons::find(root, "1").unwrap().slug,
        "01-first-trace"
    );
    assert_eq!(
        lab::lessons::find(root, "01").unwrap().slug,
        "01-first-trace"
    );
    assert_eq!(lab::lessons::find(root, "02-spans").unwrap().number, 2);
    let error = lab::lessons::find(root, "7").unwrap_err().to_string();
    assert!(error.contains("lessons: 01, 02"), "{error}");
    let lesson = lab::lessons::find(root, "1").unwrap();
    assert_eq!(lesson.title(), "Your first trace");
    assert_eq!(lesson.hints(), ["First hint.", "Second\nhint."]);
}

#[test]
fn hints_come_one_at_a_time_and_are_remembered() {
    let dir = workshop("hints");
    let root = dir.path();
    let first = lab::commands::hint(root, "1", false).unwrap();
    assert!(
        first.contains("Hint 1 of 2") && first.contains("First hint."),
        "{first}"
    );
    let second = lab::commands::hint(root, "1", false).unwrap();
    assert!(
        second.contains("Hint 2 of 2") && second.contains("last hint"),
        "{second}"
    );
    let again = lab::commands::hint(root, "1", false).unwrap();
    assert!(again.contains("Hint 2 of 2"), "stays on the last one");
    lab::commands::hint(root, "1", true).unwrap();
    assert!(lab::commands::hint(root, "1", false)
        .unwrap()
        .contains("Hint 1 of 2"));
    assert!(lab::commands::hint(root, "2", false)
        .unwrap()
        .contains("no hints"));
}

#[test]
fn list_shows_each_last_result_and_when() {
    let dir = workshop("list");
    let root = dir.path();
    let text = lab::commands::list(root, Style::plain()).unwrap();
    assert!(text.contains("· 01  Your first trace"), "{text}");
    assert!(text.contains("not started"), "{text}");
    assert!(text.contains("(no automatic check)"), "{text}");
    assert!(
        text.contains("0 of 1 checks pass. Next: cargo lab check 01"),
        "{text}"
    );

    let mut progress = Progress::load(root).unwrap();
    progress.mark_done("01-first-trace");
    progress.save(root).unwrap();
    let text = lab::commands::list(root, Style::plain()).unwrap();
    assert!(text.contains("✓ 01  Your first trace"), "{text}");
    assert!(text.contains("passed just now"), "{text}");
    assert!(text.contains("1 of 1 checks pass."), "{text}");

    // A pass that later broke shows as failed, not done.
    let mut progress = Progress::load(root).unwrap();
    progress.record("01-first-trace", lab::progress::Result::Failed);
    progress.save(root).unwrap();
    let text = lab::commands::list(root, Style::plain()).unwrap();
    assert!(text.contains("✗ 01  Your first trace"), "{text}");
    assert!(text.contains("failed just now"), "{text}");
    assert!(text.contains("0 of 1 checks pass."), "{text}");
}

#[test]
fn a_broken_progress_file_is_an_error_not_a_panic() {
    let dir = workshop("broken");
    let root = dir.path();
    std::fs::create_dir_all(root.join(".lab")).unwrap();
    std::fs::write(lab::progress::path(root), "{ not json").unwrap();
    let error = format!("{:#}", Progress::load(root).unwrap_err());
    assert!(error.contains("delete it"), "{error}");
}

#[test]
fn the_real_lessons_are_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let slugs: Vec<String> = lab::lessons::all(root)
        .into_iter()
        .map(|l| l.slug)
        .collect();
    for slug in [
        "01-first-trace",
        "05-context-propagation",
        "07-database-and-cache-spans",
        "08-finding-latency",
        "09-head-sampling",
    ] {
        assert!(
            slugs.iter().any(|s| s == slug),
            "{slug} missing from {slugs:?}"
        );
    }
}
