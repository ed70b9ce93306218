//! `cargo lab watch`: which lesson it follows (the started one, with files
//! to edit), and its loop on real file events: the check runs at once, again
//! after a save of a lesson file, not after a change to another file, and
//! the loop ends when told to.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lab::style::Style;
use tempfile::TempDir;

/// A root with lesson 01 (an exercise that changes `svc/main.rs`) and
/// lesson 02, a mission (answered, nothing to edit). Removed on drop.
fn workshop(name: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("lab-watch-{name}-"))
        .tempdir()
        .unwrap();
    let root = dir.path();
    let one = root.join("lessons/01-first-trace");
    let two = root.join("lessons/02-debugging-mission");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    std::fs::create_dir_all(root.join("svc")).unwrap();
    std::fs::create_dir_all(root.join(".lab")).unwrap();
    std::fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
    std::fs::write(root.join("svc/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(root.join("svc/other.rs"), "\n").unwrap();
    std::fs::write(one.join("check.yaml"), "title: t\nrequests: [{path: /}]\n").unwrap();
    std::fs::write(
        one.join("exercise.patch"),
        "diff --git a/svc/main.rs b/svc/main.rs\n--- a/svc/main.rs\n+++ b/svc/main.rs\n@@ -1 +1 @@\n-fn main() {}\n+fn main() { }\n",
    )
    .unwrap();
    std::fs::write(two.join("mission.yaml"), "faults: []\n").unwrap();
    dir
}

fn start(root: &Path, slug: &str) {
    std::fs::write(root.join(".lab/lesson"), format!("{slug}\n")).unwrap();
}

#[test]
fn it_follows_the_started_lesson_and_only_one_with_files_to_edit() {
    let dir = workshop("which");
    let root = dir.path();
    let error = lab::watch::lesson_to_watch(root, None)
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("no lesson is started"), "{error}");

    start(root, "01-first-trace");
    let lesson = lab::watch::lesson_to_watch(root, None).unwrap();
    assert_eq!(lesson.number, 1);
    assert_eq!(
        lab::watch::lesson_to_watch(root, Some("1")).unwrap().number,
        1
    );
    let files = lab::watch::watched_files(root, &lesson).unwrap();
    assert_eq!(files, vec![root.join("svc/main.rs")]);

    let error = lab::watch::lesson_to_watch(root, Some("02"))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("lesson 02 is not the one you started (that is 01-first-trace)"),
        "{error}"
    );

    start(root, "02-debugging-mission");
    let error = lab::watch::lesson_to_watch(root, None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("has no files to edit"), "{error}");
}

/// Waits up to 10 s for `count` to reach `n`.
async fn reaches(count: &AtomicUsize, n: usize) -> bool {
    for _ in 0..100 {
        if count.load(Ordering::SeqCst) >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn it_checks_at_once_then_after_each_save_of_a_lesson_file() {
    let dir = workshop("loop");
    let root = dir.path().to_path_buf();
    start(&root, "01-first-trace");
    let lesson = lab::watch::lesson_to_watch(&root, None).unwrap();
    let files = lab::watch::watched_files(&root, &lesson).unwrap();

    let checks = Arc::new(AtomicUsize::new(0));
    let counter = checks.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watching = tokio::spawn(async move {
        let check = || {
            let counter = counter.clone();
            async move {
                // The second check passes, the others fail.
                Ok(counter.fetch_add(1, Ordering::SeqCst) + 1 == 2)
            }
        };
        let stop = async {
            let _ = stop_rx.await;
        };
        lab::watch::run(&lesson, &files, Style::plain(), check, stop).await
    });

    assert!(reaches(&checks, 1).await, "the first check runs at once");
    // Saved the way editors do: a new file renamed over the old one.
    let fresh = root.join("svc/.main.rs.swp");
    std::fs::write(&fresh, "fn main() { flush(); }\n").unwrap();
    std::fs::rename(&fresh, root.join("svc/main.rs")).unwrap();
    assert!(reaches(&checks, 2).await, "a save runs the check again");

    // Another file of the same folder is not the lesson's. One second is
    // more than three times the quiet time the loop waits after an event,
    // so a check it started would have begun by then.
    std::fs::write(root.join("svc/other.rs"), "// changed\n").unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        checks.load(Ordering::SeqCst),
        2,
        "only the lesson's files count"
    );

    stop_tx.send(()).unwrap();
    let passed = tokio::time::timeout(Duration::from_secs(10), watching)
        .await
        .expect("the loop ends when told to")
        .unwrap()
        .unwrap();
    assert!(passed, "it returns the last check's result");
}
